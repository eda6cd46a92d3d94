"""Who sends which notification and who receives it (shared_code/domain/routing.py)."""
from datetime import datetime, timezone

import pytest

from shared_code.domain.model import Department, EmailAccount, Party, Staff, Status, Priority, Ticket
from shared_code.domain.routing import RoutingError, choose_sender, resolve_recipients


def _account(address, purpose, department="Support"):
    return EmailAccount(address=address, name=address, purpose=purpose, department=department,
                        tenant_id="t", client_id="c", client_secret_name="s")


ACCOUNTS = [_account("system@x.example", "system"), _account("alerts@x.example", "alert"),
            _account("auto@x.example", "auto-response"), _account("support@x.example", "department")]
SUPPORT = Department(name="Support", email="support@x.example", manager="boss@x.example",
                     alert_recipients=["boss@x.example", "andy@x.example"])
STAFF = {"boss@x.example": Staff("Bea Boss", "boss@x.example", "Support"),
         "andy@x.example": Staff("Andy", "andy@x.example", "Support"),
         "gone@x.example": Staff("Gone", "gone@x.example", "Support", active=False)}


def _ticket(assignee=""):
    return Ticket(number="123456", subject="s", status=Status.OPEN, priority=Priority.NORMAL,
                  department="Support", client=Party("Ann", "ann@example.org"),
                  created=datetime.now(timezone.utc), assignee=assignee)


@pytest.mark.parametrize("template,sender", [
    ("new_ticket_auto_response", "auto@x.example"),
    ("response", "support@x.example"),
    ("ticket_closed", "support@x.example"),
    ("new_ticket_alert", "alerts@x.example"),
    ("overdue_alert", "alerts@x.example"),
])
def test_each_template_comes_from_its_account(template, sender):
    assert choose_sender(template, "Support", SUPPORT, ACCOUNTS).address == sender


def test_fallbacks_end_at_the_system_account():
    only_system = [ACCOUNTS[0]]
    assert choose_sender("new_ticket_auto_response", "Support", SUPPORT, only_system).address == "system@x.example"
    assert choose_sender("new_message_alert", "Support", None, only_system).address == "system@x.example"
    with pytest.raises(RoutingError, match="add a system account"):
        choose_sender("response", "Support", SUPPORT, [])


def test_inactive_staff_get_no_mail_and_an_inactive_assignee_falls_back_to_the_department():
    parties = resolve_recipients({"role": "assignee_or_department"}, _ticket("gone@x.example"),
                                 SUPPORT, STAFF.get)
    assert [p.email for p in parties] == ["boss@x.example", "andy@x.example"]
    manager_only = resolve_recipients({"role": "assignee_and_manager"}, _ticket("gone@x.example"),
                                      SUPPORT, STAFF.get)
    assert [p.email for p in manager_only] == ["boss@x.example"]
    assert resolve_recipients({"role": "staff", "email": "gone@x.example"}, _ticket(), SUPPORT,
                              STAFF.get) == []


def test_an_oversized_notification_is_refused_by_validation():
    from shared_code.domain.notifications import NotificationError, validate_notification

    request = {"id": "x", "template": "response", "ticket_number": "123456",
               "recipient": {"role": "client"}, "note": "x" * 20_000}
    with pytest.raises(NotificationError, match="at most 16000 characters"):
        validate_notification(request)


def test_reply_to_is_a_fetched_account_for_client_mail_and_staff_alerts():
    from dataclasses import replace

    from shared_code.domain.routing import client_mail_unanswerable, reply_to_account

    def fetched(*addresses):
        return [replace(a, fetch_enabled=a.address in addresses) for a in ACCOUNTS]

    def reply_to(accounts, template="new_ticket_auto_response"):
        sender = next(a for a in accounts if a.address == "auto@x.example")
        account = reply_to_account(template, "Support", SUPPORT, accounts, sender)
        return account.address if account else None

    assert reply_to(fetched("support@x.example", "system@x.example")) == "support@x.example"
    assert reply_to(fetched("system@x.example")) == "system@x.example"  # department not fetched
    assert reply_to(fetched("auto@x.example", "system@x.example")) == "auto@x.example"  # itself
    assert reply_to(fetched()) is None
    # staff answer by replying to an alert (issue 10 §4): it must reach a fetched mailbox
    assert reply_to(fetched("support@x.example"), template="new_ticket_alert") == "support@x.example"
    auto = ACCOUNTS[2]
    assert client_mail_unanswerable(replace(auto, fetch_enabled=False), fetched())
    assert not client_mail_unanswerable(replace(auto, fetch_enabled=False),
                                        fetched("system@x.example"))
    assert not client_mail_unanswerable(ACCOUNTS[1], fetched())  # alerts: staff mail only
