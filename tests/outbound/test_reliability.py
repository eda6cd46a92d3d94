"""Sending reliably and without loops: at most once, poison and requeue, the auto-response
cap, a forced loop with an auto-responder, pacing, Graph throttling and "Send failed"."""
from __future__ import annotations

import threading

from shared_code.adapters.deliveries import Deliveries
from shared_code.adapters.send_counters import SendCounters
from shared_code.adapters.names import OUTBOUND_MAIL
from shared_code.domain.notifications import new_notification
from shared_code.services import actions
from shared_code.services.fetch import fetch_all
from shared_code.services.helpdesk import Helpdesk
from shared_code.services.notification_requests import queue
from shared_code.services.notification_requests import enqueue_request
from shared_code.services.outbound_queue import drain_outbound, failed_notifications
from shared_code.adapters.names import OUTBOUND_POISON
from shared_code.services.send import send_notification
from tests.integration.helpers import run_cli

from . import (  # noqa: F401  (desk is a fixture)
    AGENT, ALERTS, AUTO, CLIENT, SUPPORT, desk, make_mail, new_ticket, sent,
)


def _syslog(desk, title):
    return [row for row in desk.syslog.list(limit=500) if row["title"] == title]


def _queued_count(desk, queue=OUTBOUND_MAIL) -> int:
    client = desk.connection.queue_service.get_queue_client(queue)
    return client.get_queue_properties().approximate_message_count


def _response(desk, graph, text="Please switch it off."):
    """A ticket whose notifications are sent, then a staff reply queued; returns the reply's
    notification."""
    ticket, _ = new_ticket(desk, graph)
    drain_outbound(desk)
    graph.sent.clear()
    actions.reply(desk, ticket.number, AGENT, text)
    [notification] = desk.queues.peek_notifications(OUTBOUND_MAIL)
    return ticket, notification


# ---------------------------------------------------------------- at most once


def test_a_duplicate_delivery_sends_once(desk, graph):
    _, notification = _response(desk, graph)
    desk.queues.send(OUTBOUND_MAIL, notification)  # the queue delivers it a second time

    results = drain_outbound(desk, workers=1)  # one after the other (concurrently: below)

    assert sorted(r.outcome for r in results) == ["duplicate", "sent"]
    assert len(graph.sent) == 1
    assert send_notification(desk, notification).outcome == "duplicate"
    assert len(graph.sent) == 1
    row = Deliveries(desk.connection).get(notification["id"])
    assert (row["state"], row["attempts"], row["sender"]) == ("sent", 1, SUPPORT)


def test_concurrent_deliveries_send_once(desk, graph):
    _, notification = _response(desk, graph)
    start = threading.Barrier(4)
    outcomes = []

    def worker():
        own = Helpdesk.from_env()
        start.wait()
        outcomes.append(send_notification(own, notification).outcome)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert len(graph.sent) == 1
    assert outcomes.count("sent") == 1
    assert set(outcomes) <= {"sent", "duplicate", "deferred"} and len(outcomes) == 4


# ---------------------------------------------------------------- failures


def test_poison_then_requeue(desk, graph):
    _, notification = _response(desk, graph)
    graph.fail_next(500, count=5, path_contains="sendMail")

    results = drain_outbound(desk, release_after=0)  # a released message is visible at once

    assert [r.outcome for r in results] == ["failed"] * 5
    assert len({r.queue_message_id for r in results}) == 1  # one message, received 5 times
    assert [r.dequeue_count for r in results] == [1, 2, 3, 4, 5]
    assert "attempt 4 of 5; the queue retries it" in results[3].reason
    assert "moved to outbound-mail-poison after 5 failed attempts" in results[-1].reason
    assert graph.sent == []
    assert len(_syslog(desk, "Send failed")) == 5
    [failed] = _syslog(desk, "Notification failed")
    assert notification["id"] in failed["message"] and "requeue" in failed["message"]
    assert _queued_count(desk) == 0 and _queued_count(desk, OUTBOUND_POISON) == 0

    code, listed = run_cli("notifications", "failed", "--json")
    assert code == 0
    [row] = listed
    assert (row["id"], row["template"], row["sender"]) == (notification["id"], "response", SUPPORT)
    assert row["attempts"] == 5
    assert "outbound-mail-poison after 5 failed attempts (0 deferrals)" in row["error"]

    code, _ = run_cli("notifications", "requeue", notification["id"])
    assert code == 0
    assert [r.outcome for r in drain_outbound(desk)] == ["sent"]
    assert len(graph.sent) == 1
    assert failed_notifications(desk) == []
    code, _ = run_cli("notifications", "requeue", notification["id"])
    assert code == 1  # sent: nothing to re-queue


def test_send_failed_records_the_graph_error_code_and_account(desk, graph, mailbox_app):
    _, notification = _response(desk, graph)
    graph.fail_next(403, path_contains="sendMail", code="ErrorAccessDenied",
                    message="Access is denied. Check credentials and try again.")

    [result] = drain_outbound(desk)

    assert result.outcome == "failed" and "ErrorAccessDenied" in result.reason
    assert "attempt 1 of 5" in result.reason
    row = Deliveries(desk.connection).get(notification["id"])
    assert (row["state"], row["error_code"], row["sender"]) == ("queued", "ErrorAccessDenied", SUPPORT)
    [logged] = _syslog(desk, "Send failed")
    assert logged["account"] == SUPPORT
    assert "ErrorAccessDenied" in logged["message"] and SUPPORT in logged["message"]
    everything = str(desk.syslog.list(limit=500)) + str(dict(row))
    assert mailbox_app["secret"] not in everything


def test_graph_throttling_is_waited_out(desk, graph):
    graph.fail_next(429, retry_after=1, path_contains="sendMail")
    new_ticket(desk, graph)

    results = drain_outbound(desk)

    assert sorted(r.outcome for r in results) == ["sent", "sent"]
    sends = [r.status for r in graph.requests if r.path.endswith("/sendMail")]
    assert sends == [429, 202, 202]


def test_graph_503_and_an_expired_token_are_retried(desk, graph, identity):
    _response(desk, graph)
    before = len(graph.requests)
    identity.expire_all_tokens()
    graph.fail_next(503, retry_after=0, path_contains="sendMail")

    [result] = drain_outbound(desk)

    assert result.outcome == "sent" and len(graph.sent) == 1
    sends = [r.status for r in graph.requests[before:] if r.path.endswith("/sendMail")]
    assert sorted(sends) == [202, 401, 503]


def test_a_refused_secret_is_a_send_failure_with_the_aadsts_code(desk, graph, identity, mailbox_app):
    _, notification = _response(desk, graph)
    identity.register_app(mailbox_app["tenant_id"], mailbox_app["client_id"], "a-new-secret")
    from shared_code.adapters.graph import clear_token_cache

    clear_token_cache()  # the token cached from before would still be accepted

    [result] = drain_outbound(desk)

    assert result.outcome == "failed" and "AADSTS7000215" in result.reason
    [logged] = _syslog(desk, "Send failed")
    assert "AADSTS7000215" in logged["message"] and logged["account"] == SUPPORT
    row = Deliveries(desk.connection).get(notification["id"])
    assert row["error_code"] == "AADSTS7000215"
    everything = str(desk.syslog.list(limit=500)) + str(dict(row))
    assert mailbox_app["secret"] not in everything and "a-new-secret" not in everything


def test_too_large_a_mail_is_refused_not_truncated(desk, graph):
    ticket, notification = _response(desk, graph, text="x" * 3_100_000)

    [result] = drain_outbound(desk)

    assert result.outcome == "failed" and result.reason.startswith("MessageTooLarge")
    assert graph.sent == []
    [logged] = _syslog(desk, "Notification failed")
    assert "MessageTooLarge" in logged["message"] and f"#{ticket.number}" in logged["message"]
    assert [row["error_code"] for row in failed_notifications(desk)] == ["MessageTooLarge"]


# ---------------------------------------------------------------- loops


def test_the_sixth_auto_response_within_the_hour_is_suppressed(desk, graph):
    for number in range(6):
        new_ticket(desk, graph, subject=f"Question {number}")
        drain_outbound(desk)

    to_client = [m for box, m in sent(graph) if box == AUTO]
    assert len(to_client) == 5
    assert len([1 for box, _ in sent(graph) if box == ALERTS]) == 6  # staff still hear of each
    [logged] = _syslog(desk, "Auto-response suppressed")
    assert f"{CLIENT} already got 5 auto-responses within 60 minutes" in logged["message"]


def test_a_forced_loop_with_an_auto_responder_ends_after_the_cap(desk, graph):
    """The client's mail system answers every mail with a new one and no auto-reply header,
    so each answer opens a new ticket: only the cap can end it."""
    new_ticket(desk, graph, subject="Help")
    answered = 0
    for round_ in range(15):
        drain_outbound(desk)
        auto = [m for box, m in sent(graph) if box == AUTO]
        if len(auto) == answered:
            break
        for _ in auto[answered:]:
            raw, _ = make_mail(subject=f"Your message has been received ({round_})",
                               body="Thank you, we will look at it.")
            graph.add_message(SUPPORT, raw)
        answered = len(auto)
        fetch_all(desk)

    assert answered == 5
    assert len(desk.tickets.list()) == 6  # the first mail and one per auto-response sent
    assert round_ == 5  # the round after the fifth sent nothing: it stopped by itself
    assert len(_syslog(desk, "Auto-response suppressed")) == 1


def test_notifications_to_the_helpdesk_s_own_addresses_are_suppressed(desk, graph):
    ticket, _ = new_ticket(desk, graph)
    drain_outbound(desk)
    graph.sent.clear()
    # the HTTP API refuses such an address; an internal notification can still name one
    queue(desk, new_notification("ticket_closed", ticket, {"role": "address",
                                                           "email": SUPPORT.upper()}, event="test"))
    [result] = drain_outbound(desk)
    assert (result.outcome, graph.sent) == ("suppressed", [])
    assert "one of the helpdesk's own addresses" in result.reason
    assert _syslog(desk, "Notification suppressed")


def test_no_auto_response_to_staff_or_no_reply_addresses(desk, graph):
    new_ticket(desk, graph, sender=f"Andy Agent <{AGENT}>", subject="Printer broken here too")
    ticket, _ = new_ticket(desk, graph, subject="Other")
    queue(desk, new_notification("new_ticket_auto_response", ticket, {
        "role": "address", "email": "no-reply@shop.example"}, event="test"))
    results = drain_outbound(desk)
    suppressed = sorted(r.reason for r in results if r.outcome == "suppressed")
    assert suppressed == [f"{AGENT} is a staff member", "no-reply@shop.example is a no-reply address"]
    assert [m["To"] for box, m in sent(graph) if box == AUTO] == [f"Ann Client <{CLIENT}>"]


# ---------------------------------------------------------------- pacing


def test_the_31st_mail_in_a_minute_from_one_mailbox_is_deferred_not_failed(desk, graph):
    ticket, _ = new_ticket(desk, graph)
    drain_outbound(desk)  # 1 from the alert account
    for _ in range(30):
        enqueue_request(desk, {"template": "assignment_alert", "ticket_number": ticket.number,
                               "recipient": {"role": "staff", "email": AGENT}})

    results = drain_outbound(desk)

    outcomes = [r.outcome for r in results]
    assert outcomes.count("sent") == 29 and outcomes.count("deferred") == 1
    [deferred] = [r for r in results if r.outcome == "deferred"]
    assert 1 <= deferred.retry_after_seconds <= 61
    assert "sending limit" in deferred.reason
    assert len([1 for box, _ in graph.sent if box == ALERTS]) == 30
    assert _queued_count(desk) == 1  # back on the queue, invisible until the minute is over
    assert desk.queues.receive(OUTBOUND_MAIL) == []
    assert Deliveries(desk.connection).get(deferred.id)["state"] == "deferred"
    assert failed_notifications(desk) == []


def test_pacing_windows(desk):
    counters = SendCounters(desk.connection)
    t = 1_800_000_000.0
    assert [counters.take_send_slot("a@x.example", 1, now=t + i) for i in range(30)] == [0] * 30
    assert counters.take_send_slot("a@x.example", 1, now=t + 30) == 31  # the first leaves at t+60
    assert counters.take_send_slot("b@x.example", 1, now=t + 30) == 0  # per mailbox
    assert counters.take_send_slot("a@x.example", 1, now=t + 60.5) == 0
    # recipients per day: 10,000 over the last 24 hours
    assert counters.take_send_slot("c@x.example", 9_999, now=t) == 0
    wait = counters.take_send_slot("c@x.example", 2, now=t + 3600)
    assert 23 * 3600 < wait <= 25 * 3600
    assert counters.take_send_slot("c@x.example", 1, now=t + 3600) == 0


def test_auto_response_counter_counts_a_notification_once(desk):
    counters = SendCounters(desk.connection)
    t = 1_800_000_000.0
    takes = [counters.take_auto_response("ann@example.org", f"n{i}", 2, 60, now=t) for i in (1, 1, 2, 3)]
    assert takes == [True, True, True, False]
    assert counters.take_auto_response("ann@example.org", "n3", 2, 60, now=t + 3601) is True


def test_two_workers_cannot_both_take_the_last_slot(desk):
    t = 1_800_000_000.0
    first, second = SendCounters(desk.connection), SendCounters(desk.connection)
    assert [first.take_send_slot("a@x.example", 1, now=t) for _ in range(29)] == [0] * 29
    assert second.take_send_slot("a@x.example", 1, now=t) == 0  # the 30th
    assert first.take_send_slot("a@x.example", 1, now=t) > 0  # its copy said 29: re-read

    shared = SendCounters(desk.connection)
    for mailbox, own_instance in (("b@x.example", True), ("c@x.example", False)):
        start = threading.Barrier(12)
        waits = []

        def worker():
            counters = SendCounters(desk.connection) if own_instance else shared
            start.wait()
            waits.extend(counters.take_send_slot(mailbox, 1, now=t) for _ in range(4))

        threads = [threading.Thread(target=worker) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert len(waits) == 48 and waits.count(0) == 30, mailbox
