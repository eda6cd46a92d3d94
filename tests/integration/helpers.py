"""Building blocks for the end-to-end tests: mails, a configured helpdesk, CLI calls."""
from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from datetime import datetime, timezone

from shared_code import cli

SUPPORT = "support@contoso.example"


def make_mail(subject="Printer on fire", sender="Ann Client <ann@example.org>", to=SUPPORT,
              body="Hello, the printer is on fire.", message_id=None, in_reply_to=None,
              references=None, headers=None) -> tuple[bytes, str]:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(timezone.utc))
    message_id = message_id or make_msgid(domain="example.org")
    msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = references
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    return msg.as_bytes(), message_id.strip("<>")


def run_cli(*args: str):
    """Run the admin CLI in-process; returns (exit code, parsed JSON or text)."""
    out = io.StringIO()
    with redirect_stdout(out):
        try:
            code = cli.main(list(args))
        except SystemExit as exit_:
            code = exit_.code
    text = out.getvalue()
    if "--json" in args and text.strip():
        return code, json.loads(text)
    return code, text


def add_account(oauth: dict, address: str = SUPPORT, *extra: str) -> None:
    code, _ = run_cli("emails", "add", "--address", address, "--name", "Contoso Support",
                      "--purpose", "department", "--department", "Support",
                      "--tenant-id", oauth["tenant_id"], "--client-id", oauth["client_id"],
                      "--client-secret-name", oauth["client_secret_name"], *extra)
    assert code == 0


def add_support_staff(agent: str) -> None:
    """The Support department (alerts to `agent`) and `agent` as its staff member Andy Agent."""
    for args in (["departments", "add", "Support", "--alert-recipients", agent],
                 ["staff", "add", "--name", "Andy Agent", "--email", agent, "--department", "Support"]):
        assert run_cli(*args)[0] == 0


def support_ticket(desk, graph, agent: str):
    """`add_support_staff(agent)`, then one client mail fetched: the ticket it opened."""
    from shared_code.services.fetch import fetch_all

    add_support_staff(agent)
    graph.add_message(SUPPORT, make_mail()[0])
    fetch_all(desk)
    [created] = desk.tickets.list()
    return created


def sent_mails(graph) -> list:
    """Every mail the Graph fake sent, parsed (EmailMessage, oldest first)."""
    return [message_from_bytes(raw, policy=policy.default) for _, raw in graph.sent]
