"""What `azd up` runs besides the Bicep: the preprovision hook that checks the required values
and makes the web session key once, and the .funcignore that keeps the package to the app."""
from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra import bicep as t

HOOK = t.INFRA / "hooks" / "session-key.sh"


@pytest.fixture
def fake_azd(tmp_path: Path) -> Path:
    """An `azd` on PATH that records its arguments, one call per line."""
    calls = tmp_path / "calls"
    script = tmp_path / "bin" / "azd"
    script.parent.mkdir()
    script.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$*\" >> {calls}\n")
    script.chmod(0o755)
    return calls


def run_hook(calls: Path, **env: str) -> subprocess.CompletedProcess:
    base = {key: value for key, value in os.environ.items() if not key.startswith("DESKMAIL_")}
    base["PATH"] = f"{calls.parent / 'bin'}{os.pathsep}{base.get('PATH', '')}"
    return subprocess.run(["sh", str(HOOK)], capture_output=True, text=True,
                          env={**base, **env}, timeout=60)


def recorded(calls: Path) -> list[str]:
    return calls.read_text().splitlines() if calls.exists() else []


def test_hook_stops_naming_the_values_azd_cannot_make_up(fake_azd):
    done = run_hook(fake_azd, DESKMAIL_WEB_CLIENT_ID="11111111-2222-3333-4444-555555555555")
    assert done.returncode == 1
    assert "azd env set DESKMAIL_SYSTEM_MAIL_DOMAIN" in done.stderr
    assert "DESKMAIL_WEB_CLIENT_ID" not in done.stderr
    assert recorded(fake_azd) == []


def test_hook_makes_a_random_session_key_once(fake_azd):
    required = {"DESKMAIL_WEB_CLIENT_ID": "11111111-2222-3333-4444-555555555555",
                "DESKMAIL_SYSTEM_MAIL_DOMAIN": "desk.contoso.com"}
    assert run_hook(fake_azd, **required).returncode == 0
    assert run_hook(fake_azd, **required).returncode == 0
    first, second = [c for c in recorded(fake_azd) if "DESKMAIL_SESSION_KEY" in c]
    assert first.startswith("env set DESKMAIL_SESSION_KEY ")
    key = first.split(" ")[-1]
    assert len(base64.b64decode(key)) == 48 and len(key) >= 32  # WebSettings wants 32+
    assert second.split(" ")[-1] != key  # random, not derived from anything
    # a key already in the azd environment is kept
    fake_azd.unlink()
    assert run_hook(fake_azd, DESKMAIL_SESSION_KEY=key, DESKMAIL_THREAD_KEY=key,
                    **required).returncode == 0
    assert recorded(fake_azd) == []


def test_hook_makes_a_random_thread_marker_key_once(fake_azd):
    """deskmail-thread-key signs the thread markers of outbound mail (issue 10 §5)."""
    required = {"DESKMAIL_WEB_CLIENT_ID": "11111111-2222-3333-4444-555555555555",
                "DESKMAIL_SYSTEM_MAIL_DOMAIN": "desk.contoso.com", "DESKMAIL_SESSION_KEY": "s" * 64}
    assert run_hook(fake_azd, **required).returncode == 0
    assert run_hook(fake_azd, **required).returncode == 0
    first, second = recorded(fake_azd)
    assert first.startswith("env set DESKMAIL_THREAD_KEY ")
    key = first.split(" ")[-1]
    assert len(base64.b64decode(key)) == 48 and second.split(" ")[-1] != key
    fake_azd.unlink()
    assert run_hook(fake_azd, DESKMAIL_THREAD_KEY=key, **required).returncode == 0
    assert recorded(fake_azd) == []


def _ignored(patterns: list[str], relative: str) -> bool:
    """gitignore-style, as .funcignore is read: a pattern without a slash matches a file or
    folder of that name at any depth."""
    from fnmatch import fnmatch

    return any(fnmatch(part, pattern) for pattern in patterns for part in relative.split("/"))


def test_funcignore_keeps_the_app_and_drops_the_rest():
    patterns = [line.strip() for line in (t.ROOT / ".funcignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    app = [p.relative_to(t.ROOT).as_posix() for folder in ("shared_code", "functions")
           for p in (t.ROOT / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    for needed in ("function_app.py", "host.json", "requirements.txt", *app):
        assert (t.ROOT / needed).exists(), needed
        assert not _ignored(patterns, needed), needed
    assert "shared_code/web/app.py" in app
    for dropped in (".venv", ".venv-infra", "node_modules", "tests", "infra", "docs",
                    "local.settings.json", ".git", "benchmarks"):
        assert _ignored(patterns, dropped), dropped


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX hook")
def test_hook_is_executable():
    assert os.access(HOOK, os.X_OK)
