"""checkov (pinned, in its own virtual environment .venv-infra: scripts/setup-infra.sh) finds
no failed check in infra/, every template parses, and every suppression carries its reason
inline (`// checkov:skip=CKV_AZURE_xx: why`)."""
from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from tests.infra import bicep as t

CHECKOV = t.ROOT / ".venv-infra" / "bin" / "checkov"
SKIP = re.compile(r"checkov:skip=([A-Z0-9_]+)(?::\s*(.*))?")


@pytest.fixture(scope="module")
def report() -> dict:
    if not CHECKOV.exists():
        pytest.fail("checkov is not installed: run scripts/setup-infra.sh (scripts/test.sh does)")
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_NO_OUTPUT_COLOR": "1"}
    done = subprocess.run(
        [str(CHECKOV), "-d", str(t.INFRA), "--framework", "bicep", "--skip-download",
         "--output", "json"],
        capture_output=True, text=True, env=env, cwd=t.ROOT, timeout=600,
    )
    assert done.returncode in (0, 1), done.stderr[-2000:]
    data = json.loads(done.stdout)
    return data[0] if isinstance(data, list) else data


def test_checkov_finds_no_failed_check(report):
    failed = [f"{c['check_id']} {c['resource']} ({c['file_path']})"
              for c in report["results"]["failed_checks"]]
    assert not failed, "\n".join(failed)
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["passed"] >= 25  # it really checked something


def test_checkov_read_every_template(report):
    # the same pycep-parser version as tests/infra/bicep.py (checkov pins it), so a file
    # checkov could not read is a parsing error here and a failure in test_bicep.py
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["resource_count"] >= len(t.resources(include_existing=True))
    checked = {c["file_path"].lstrip("/") for c in report["results"]["passed_checks"]}
    assert {"modules/storage.bicep", "modules/keyvault.bicep", "modules/functionapp.bicep",
            "modules/appconfig.bicep"} <= checked


def test_every_suppression_says_why_and_is_used(report):
    used = {(c["check_id"], c["resource"]) for c in report["results"]["skipped_checks"]}
    written = 0
    for path in t.bicep_files():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = SKIP.search(line)
            if not match:
                continue
            written += 1
            reason = (match.group(2) or "").strip()
            assert len(reason) >= 20, f"{path.name}:{number}: {match.group(1)} needs a reason"
    assert written == len(used)  # each suppression silences a real finding, once
    for check in report["results"]["skipped_checks"]:
        assert check["check_result"].get("suppress_comment", "").strip(), check["check_id"]
