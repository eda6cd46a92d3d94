"""The admin command line: account management, validation errors, JSON shapes, exit codes."""
import json
import os
import subprocess
import sys
from pathlib import Path

from .helpers import SUPPORT, run_cli

ROOT = Path(__file__).resolve().parents[2]


def test_account_lifecycle(desk):
    code, accounts = run_cli("emails", "list", "--json")
    assert code == 0
    [account] = accounts
    assert account["address"] == SUPPORT
    assert (account["folder"], account["batch_size"], account["mark_as_read"]) == ("Inbox", 20, True)
    assert account["auto_response"] is True and account["priority"] == "normal"
    assert "s3cr3t-value" not in json.dumps(account)

    code, updated = run_cli("emails", "update", SUPPORT, "--priority", "high", "--batch-size", "5",
                            "--json")
    assert code == 0 and (updated["priority"], updated["batch_size"]) == ("high", 5)
    assert run_cli("emails", "remove", SUPPORT)[0] == 0
    assert run_cli("emails", "list", "--json")[1] == []


def test_validation_errors_are_clear(desk, capsys):
    base = ["emails", "add", "--name", "X", "--purpose", "alert", "--department", "Support"]
    assert run_cli(*base, "--address", "not-an-address")[0] == 1
    assert "invalid email address" in capsys.readouterr().err
    assert run_cli(*base, "--address", SUPPORT.upper())[0] == 1
    assert f"an email account {SUPPORT} already exists" in capsys.readouterr().err
    assert run_cli(*base, "--address", "b@contoso.example", "--batch-size", "0")[0] == 1
    assert "batch size" in capsys.readouterr().err
    assert run_cli(*base, "--address", "c@contoso.example", "--tenant-id", "t")[0] == 1
    assert "must be given together" in capsys.readouterr().err
    assert run_cli("tickets", "show", "123456")[0] == 1
    assert "no ticket #123456" in capsys.readouterr().err


def test_unknown_priority_is_a_usage_error(desk, capsys):
    code, _ = run_cli("emails", "add", "--address", "x@contoso.example", "--name", "X",
                      "--purpose", "alert", "--department", "S", "--priority", "urgent")
    assert code == 2
    assert "invalid choice: 'urgent'" in capsys.readouterr().err


def test_cli_runs_as_a_module_and_reports_bad_settings(app_env):
    env = {**os.environ, "GRAPH_API_URL": "http://insecure.example"}
    out = subprocess.run([sys.executable, "-m", "shared_code.cli", "fetch"], cwd=ROOT, env=env,
                         capture_output=True, text=True)
    assert out.returncode == 1
    assert "GRAPH_API_URL must be an https URL" in out.stderr
    assert out.stdout == ""
