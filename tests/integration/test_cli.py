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


HOSTILE_SUBJECT = "\x1b]0;pwned\x07Invoice \x1b[2Joverdue\u202e"
HOSTILE_MAIL = (
    b"From: =?utf-8?q?Ann_=1B=5B31mRed=1B=5B0m_=E2=80=AEnailC?= <ann@example.org>\r\n"
    b"To: " + SUPPORT.encode() + b"\r\n"
    b"Subject: =?utf-8?q?=1B]0;pwned=07Invoice_=1B[2Joverdue=E2=80=AE?=\r\n"
    b"Message-ID: <hostile-terminal@example.org>\r\n"
    b"Date: Mon, 30 Nov 2026 10:00:00 +0000\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
    b"line one\x1b]52;c;cHduZWQ=\x07\r\n\ttabbed\xc2\x9b6n line\r\n"
)


def test_tickets_show_strips_terminal_controls_from_mail_text(desk, graph):
    run = run_cli
    graph.add_message(SUPPORT, HOSTILE_MAIL)
    assert run("fetch", "--json")[0] == 0
    [ticket] = run("tickets", "list", "--json")[1]

    code, text = run("tickets", "show", ticket["number"])
    assert code == 0
    for unsafe in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert unsafe not in text
    assert f"#{ticket['number']} [open] Invoice overdue" in text  # the visible text stays
    assert "client: Ann Red nailC <ann@example.org>" in text
    assert "line one\n\ttabbed6n line" in text  # newlines and tabs stay; a C1 CSI goes alone

    code, text = run("tickets", "list")
    assert code == 0 and "\x1b" not in text and "Invoice overdue" in text

    code, data = run("tickets", "show", ticket["number"], "--json")  # JSON stays faithful
    assert data["subject"] == HOSTILE_SUBJECT
    assert data["entries"][0]["body_text"].startswith("line one\x1b]52;c;cHduZWQ=\x07")
