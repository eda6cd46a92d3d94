"""Outbound mail tests: a helpdesk with the four kinds of accounts, a department and staff.

The `desk` fixture is defined here and imported by the test modules (`from tests.outbound
import desk`), so these tests share one setup without a conftest of their own.
"""
from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from tests.integration.helpers import SUPPORT, make_mail

SYSTEM = "helpdesk@contoso.example"
ALERTS = "alerts@contoso.example"
AUTO = "autoreply@contoso.example"
AGENT = "agent@contoso.example"
BOSS = "boss@contoso.example"
CLIENT = "ann@example.org"
ACCOUNTS = ((SUPPORT, "Contoso Support", "department"), (SYSTEM, "Contoso Helpdesk", "system"),
            (ALERTS, "Helpdesk Alerts", "alert"), (AUTO, "Contoso Auto-Reply", "auto-response"))



@pytest.fixture
def desk(app_env, mailbox_app, graph, monkeypatch):
    """Accounts for every purpose (only support@ is fetched), department Support, two staff."""
    from shared_code.domain.model import Department, EmailAccount, Staff
    from shared_code.services.helpdesk import Helpdesk

    monkeypatch.setenv("SYSTEM_MAIL_DOMAIN", "desk.contoso.example")
    monkeypatch.setenv("TICKET_URL_BASE", "https://help.contoso.example/tickets.php")
    desk = Helpdesk.from_env()
    for address, name, purpose in ACCOUNTS:
        graph.add_mailbox(address)
        desk.accounts.add(EmailAccount(
            address=address, name=name, purpose=purpose, department="Support",
            fetch_enabled=address == SUPPORT, tenant_id=mailbox_app["tenant_id"],
            client_id=mailbox_app["client_id"],
            client_secret_name=mailbox_app["client_secret_name"]))
    desk.directory.add_department(Department(name="Support", email=SUPPORT, manager=BOSS,
                                             alert_recipients=[AGENT, BOSS], sla_hours=8))
    desk.directory.add_department(Department(name="Billing", manager=BOSS))
    desk.directory.add_staff(Staff(name="Andy Agent", email=AGENT, department="Support"))
    desk.directory.add_staff(Staff(name="Bea Boss", email=BOSS, department="Support"))
    return desk


def queued_notifications(desk) -> list[dict]:
    """The notifications waiting on `outbound-mail`, batches unpacked (in queue order)."""
    from shared_code.adapters.names import OUTBOUND_MAIL

    out = []
    for message in desk.queues.peek_all(OUTBOUND_MAIL):
        out += message["notifications"] if message.get("schema") == "deskmail.batch/1" else [message]
    return out


def sent(graph) -> list[tuple[str, EmailMessage]]:
    """What the Graph fake sent: (sending mailbox, parsed message)."""
    return [(mailbox, message_from_bytes(raw, policy=policy.default)) for mailbox, raw in graph.sent]


def sent_with(graph, template_header: str) -> list[tuple[str, EmailMessage]]:
    """Sent mail whose Subject contains `template_header` (e.g. "New ticket:")."""
    return [(box, msg) for box, msg in sent(graph) if template_header in str(msg["Subject"])]


def body(msg: EmailMessage, kind: str = "plain") -> str:
    """A body part's text with its CRLF line ends made "\\n"."""
    return msg.get_body(preferencelist=(kind,)).get_content().replace("\r\n", "\n")


def new_ticket(desk, graph, subject="Printer on fire", sender=f"Ann Client <{CLIENT}>", **kw):
    """A client's mail fetched into a new ticket; returns (ticket, the mail's Message-ID)."""
    from shared_code.services.fetch import fetch_all

    before = {t.number for t in desk.tickets.list()}
    raw, message_id = make_mail(subject=subject, sender=sender, **kw)
    graph.add_message(SUPPORT, raw)
    fetch_all(desk)
    [ticket] = [t for t in desk.tickets.list() if t.number not in before]
    return ticket, message_id
