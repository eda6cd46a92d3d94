"""The fast unit tier (tests/unit) runs without Azurite, the TLS fakes or the Azure SDK.

Runs the tier in a child pytest with DESKMAIL_UNIT_TIER set: tests/conftest.py's `azurite` and
`cloud` fixtures then fail instead of starting, and tests/unit/conftest.py fails the session if
an Azure SDK module was imported. A second child proves the guard itself bites."""
from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.conftest import REPO_ROOT, UNIT_TIER


def _pytest(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, UNIT_TIER: "1"}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_the_unit_tier_passes_without_azurite_the_fakes_or_the_sdk():
    run = _pytest("tests/unit")

    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    summary = run.stdout.strip().splitlines()[-1]
    assert re.search(r"\d+ passed", summary) and "error" not in summary, summary


def test_the_guard_fails_a_test_that_asks_for_azurite(tmp_path):
    probe = tmp_path / "test_probe.py"
    probe.write_text("def test_wants_storage(storage):\n    pass\n")

    run = _pytest("-p", "tests.conftest", str(probe))

    assert run.returncode != 0
    assert "Azurite (fixture `azurite`) was requested with DESKMAIL_UNIT_TIER set" in run.stdout
