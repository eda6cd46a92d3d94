"""System mail that failed for good (issue 10): a monitor alert whose sendMail Graph keeps
refusing ends in `outbound-mail-poison`, is listed beside failed notifications (`notifications
failed`, marked system mail, with kind, recipients, subject, last error, attempts and when it
was created) and is requeued once: requeued twice, or by two admins at once, it is sent once.

Azurite, the Graph/identity/Key Vault fakes; the monitor's clock is its `now=` parameter.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from shared_code.adapters.names import OUTBOUND_MAIL
from shared_code.domain.model import AlreadyExists
from shared_code.services.monitor import run_monitor
from shared_code.services.outbound_queue import drain_outbound, failed_notifications, requeue

from .failed_system_mail import ALERT, ONCALL, add_alert_account, poison_a_monitor_alert
from .helpers import SUPPORT, run_cli

@pytest.fixture
def poisoned(desk, mailbox_app, graph) -> dict:
    return poison_a_monitor_alert(desk, mailbox_app, graph)


def _sent_items_reads(graph) -> int:
    return sum("sentitems" in r.path.lower() for r in graph.requests)


def _sent_to(graph) -> list[str]:
    return [box for box, _ in graph.sent]


def test_a_system_mail_failed_for_good_is_listed_with_what_an_admin_needs(desk, poisoned):
    assert poisoned["template"] == "fetch_alert" and poisoned["ticket"] == ""
    assert poisoned["sender"] == ALERT and poisoned["recipients"] == ONCALL
    assert SUPPORT in poisoned["subject"] and poisoned["attempts"] == 5
    assert "ErrorInvalidRecipients" in poisoned["error"] and "outbound-mail-poison" in poisoned["error"]
    assert poisoned["error_code"] == "ErrorInvalidRecipients"
    assert poisoned["created"] and poisoned["state"] == "failed"
    code, rows = run_cli("notifications", "failed", "--json")
    assert code == 0
    [row] = [r for r in rows if r["id"] == poisoned["id"]]
    assert row["type"] == "system_mail" and row["created"] == poisoned["created"]
    assert row["updated"] and row["attempts"] == 5
    code, text = run_cli("notifications", "failed")
    assert f"{poisoned['id']} SYSTEM MAIL fetch_alert created {poisoned['created']}" in text
    assert "ErrorInvalidRecipients" in text and "(5 attempts)" in text
    logged = [r for r in desk.syslog.list(limit=200) if r["title"] == "System mail failed"]
    assert len(logged) == 1 and f"notifications requeue {poisoned['id']}" in logged[0]["message"]


def test_a_requeued_system_mail_is_sent_once_and_a_second_requeue_is_refused(
        desk, graph, poisoned, capsys):
    code, text = run_cli("notifications", "requeue", poisoned["id"])
    assert code == 0 and f"system mail fetch_alert, created {poisoned['created']}" in text
    assert poisoned["id"] not in {r["id"] for r in failed_notifications(desk)}
    code, _ = run_cli("notifications", "requeue", poisoned["id"])
    assert code != 0 and "is queued, not failed" in capsys.readouterr().err
    assert len(desk.queues.peek_all(OUTBOUND_MAIL)) == 1
    looked = _sent_items_reads(graph)
    results = drain_outbound(desk, release_after=0)
    assert [r.outcome for r in results] == ["sent"] and _sent_to(graph) == [ALERT]
    # the requeued one (first receive) looked in Sent Items: its failed attempts might have gone out
    assert _sent_items_reads(graph) == looked + 1
    assert desk.system_mail.get(poisoned["id"])["state"] == "sent"
    with pytest.raises(AlreadyExists, match="is sent, not failed"):
        requeue(desk, poisoned["id"])
    assert drain_outbound(desk, release_after=0) == [] and len(graph.sent) == 1


def test_two_admins_requeueing_at_once_queue_it_once(desk, graph, poisoned):
    def attempt(_):
        try:
            return requeue(desk, poisoned["id"])["id"]
        except AlreadyExists:
            return "refused"

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(attempt, range(4)))
    assert sorted(outcomes) == sorted([poisoned["id"]] + ["refused"] * 3)
    assert [r.outcome for r in drain_outbound(desk, release_after=0)] == ["sent"]
    assert len(graph.sent) == 1


def test_a_requeued_system_mail_that_fails_again_is_listed_again_with_attempts_added(
        desk, graph, poisoned):
    requeue(desk, poisoned["id"])
    graph.fail_next(400, count=5, path_contains="sendMail", method="POST",
                    code="ErrorInvalidRecipients")
    assert [r.outcome for r in drain_outbound(desk, release_after=0)] == ["failed"] * 5
    [again] = [r for r in failed_notifications(desk) if r["id"] == poisoned["id"]]
    assert again["attempts"] == 10 and again["created"] == poisoned["created"]
    assert graph.sent == []


def test_a_requeued_system_mail_an_earlier_attempt_delivered_is_not_sent_again(
        desk, graph, poisoned):
    """Exchange took one of the attempts though the sender saw an error (a 504): the copy in
    Sent Items stops the requeued one, which is recorded sent."""
    message_id = f"deskmail.fetch_alert.{poisoned['id']}@{desk.settings.system_domain}"
    graph.deliver(ALERT, (f"From: {ALERT}\r\nTo: {ONCALL}\r\nSubject: {poisoned['subject']}\r\n"
                          f"Message-ID: <{message_id}>\r\n\r\nalert\r\n").encode())
    requeue(desk, poisoned["id"])
    results = drain_outbound(desk, release_after=0)
    assert [r.outcome for r in results] == ["duplicate"] and len(graph.sent) == 1
    assert desk.system_mail.get(poisoned["id"])["state"] == "sent"
    assert poisoned["id"] not in {r["id"] for r in failed_notifications(desk)}


def test_a_system_mail_whose_sender_was_removed_is_listed_and_sent_once_the_account_is_back(
        desk, mailbox_app, graph):
    add_alert_account(desk, mailbox_app, graph)
    run_monitor(desk, now=desk.accounts.get(SUPPORT).created + timedelta(minutes=10))
    assert run_cli("emails", "remove", ALERT)[0] == 0
    assert [r.outcome for r in drain_outbound(desk, release_after=0)] == ["failed"]
    [row] = [r for r in failed_notifications(desk) if r["type"] == "system_mail"]
    assert row["error_code"] == "NoSender" and f"{ALERT} no longer exists" in row["error"]
    assert row["attempts"] == 1 and graph.sent == []
    add_alert_account(desk, mailbox_app, graph)
    requeue(desk, row["id"])
    assert [r.outcome for r in drain_outbound(desk, release_after=0)] == ["sent"]
    assert [box for box, _ in graph.sent] == [ALERT] and failed_notifications(desk) == []
