"""A notification goes out once: the Sent Items check before a re-send, and deferral by
hiding the same queue message again (never a copy, never the poison queue for waiting)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import azure.functions.queue as func_queue
import pytest

from shared_code.adapters.deliveries import SENDING_LEASE_SECONDS, Deliveries
from shared_code.adapters.names import OUTBOUND_MAIL
from shared_code.services import actions
from shared_code.services.outbound_queue import drain_outbound
from shared_code.adapters.names import OUTBOUND_POISON
from shared_code.services.send import (
    HOST_MAX_DEQUEUE_COUNT,
    HOST_VISIBILITY_TIMEOUT,
    send_notification,
)
from shared_code.services.send_delivery import MAX_SEND_ATTEMPTS
from tests.pipeline import SimulatedCrash, crash_at

from . import AGENT, SUPPORT, desk, new_ticket  # noqa: F401  (desk is a fixture)

ROOT = Path(__file__).resolve().parents[2]


def _reply_queued(desk, graph):
    """A ticket whose first notifications went out, then a staff reply queued."""
    ticket, _ = new_ticket(desk, graph)
    drain_outbound(desk)
    graph.sent.clear()
    actions.reply(desk, ticket.number, AGENT, "Please switch it off.")
    [notification] = desk.queues.peek_notifications(OUTBOUND_MAIL)
    return notification


def _sent_items_lookups(graph) -> list:
    return [r for r in graph.requests
            if "/mailfolders/sentitems/messages" in r.path.lower() and r.method == "GET"]


def _queue_count(desk, queue: str) -> int:
    client = desk.connection.queue_service.get_queue_client(queue)
    return client.get_queue_properties().approximate_message_count


# ---------------------------------------------------------------- Sent Items check


def test_accepted_by_graph_then_the_state_write_fails_sends_once(desk, graph):
    notification = _reply_queued(desk, graph)

    # Graph accepts the mail, then the worker dies before `sent` is recorded
    with pytest.raises(SimulatedCrash):
        drain_outbound(desk, checkpoint=crash_at("graph_accepted"))
    assert len(graph.sent) == 1
    assert Deliveries(desk.connection).get(notification["id"])["state"] == "sending"

    # the queue delivers it again: first while the lease holds, then after it expired
    assert send_notification(desk, notification).outcome == "deferred"
    later = datetime.now(timezone.utc) + timedelta(seconds=SENDING_LEASE_SECONDS + 1)
    result = send_notification(desk, notification, clock=lambda: later)

    assert (result.outcome, result.reason) == ("sent", "found in Sent Items (sent by an "
                                                       "earlier attempt)")
    assert len(graph.sent) == 1
    [lookup] = _sent_items_lookups(graph)
    assert f"internetMessageId eq '<dm.{notification['ticket_number']}." in lookup.path
    row = Deliveries(desk.connection).get(notification["id"])
    assert row["state"] == "sent" and row["message_id"].startswith(f"dm.{notification['ticket_number']}.")
    assert any(r["title"] == "Notification already sent" for r in desk.syslog.list())


def test_a_send_that_gets_a_504_after_exchange_took_it_is_not_sent_again(desk, graph):
    notification = _reply_queued(desk, graph)
    graph.fail_after_next(504, path_contains="sendMail")  # accepted, but the answer is lost

    results = drain_outbound(desk, release_after=0)

    assert [r.outcome for r in results] == ["failed", "sent"]
    assert "GatewayTimeout" in results[0].reason
    assert results[1].reason == "found in Sent Items (sent by an earlier attempt)"
    assert len(graph.sent) == 1
    assert len(_sent_items_lookups(graph)) == 1
    assert Deliveries(desk.connection).get(notification["id"])["state"] == "sent"


def test_a_send_that_gets_a_504_before_exchange_took_it_is_sent_after_the_lookup(desk, graph):
    _reply_queued(desk, graph)
    graph.fail_next(504, path_contains="sendMail")  # refused: nothing reached Exchange

    results = drain_outbound(desk, release_after=0)

    assert [r.outcome for r in results] == ["failed", "sent"]
    assert results[1].reason == ""
    assert len(graph.sent) == 1 and len(_sent_items_lookups(graph)) == 1


def test_the_fake_files_sent_mail_in_sent_items_keeping_the_message_id(desk, graph):
    _reply_queued(desk, graph)
    drain_outbound(desk)
    [(_, raw)] = graph.sent
    [saved] = graph.messages(SUPPORT, "sentitems")
    assert saved["isRead"] and saved["internetMessageId"] in raw.decode("ascii")


# ---------------------------------------------------------------- deferral


def test_host_json_keeps_the_host_limits_far_from_the_app_s():
    queues = json.loads((ROOT / "host.json").read_text())["extensions"]["queues"]
    assert queues["maxDequeueCount"] == HOST_MAX_DEQUEUE_COUNT >= 100 * MAX_SEND_ATTEMPTS
    assert queues["visibilityTimeout"] == f"00:00:{HOST_VISIBILITY_TIMEOUT:02d}"


def test_throttling_defers_the_same_message_and_never_poisons_it(desk, graph):
    notification = _reply_queued(desk, graph)
    retries = desk.settings.graph_max_retries
    # seven sends in a row throttled (each with the client's own retries), Retry-After 0
    graph.fail_next(429, count=7 * (retries + 1), retry_after=0, path_contains="sendMail")

    results = drain_outbound(desk)

    assert [r.outcome for r in results] == ["deferred"] * 7 + ["sent"]
    assert all("Graph is throttling" in r.reason for r in results[:7])
    assert len({r.queue_message_id for r in results}) == 1  # the same message each time
    assert [r.dequeue_count for r in results] == list(range(1, 9))  # its count kept growing
    assert len(graph.sent) == 1
    assert _queue_count(desk, OUTBOUND_MAIL) == 0 and _queue_count(desk, OUTBOUND_POISON) == 0
    row = Deliveries(desk.connection).get(notification["id"])
    assert (row["state"], row["attempts"], row["deferrals"]) == ("sent", 8, 7)
    assert not [r for r in desk.syslog.list() if r["title"] in ("Send failed",
                                                                "Notification failed")]


def test_the_queue_trigger_defers_by_hiding_its_own_message(desk, graph):
    from functions import outbound

    _reply_queued(desk, graph)
    graph.fail_next(429, count=desk.settings.graph_max_retries + 1, retry_after=0,
                    path_contains="sendMail")
    [(notification, handle)] = desk.queues.receive(OUTBOUND_MAIL)
    message = func_queue.QueueMessage(id=handle.id, pop_receipt=handle.pop_receipt,
                                      dequeue_count=handle.dequeue_count,
                                      body=json.dumps(notification).encode())

    outbound.send_notification.build().get_user_function()(message)
    desk.queues.delete(OUTBOUND_MAIL, handle)  # what the host does next: fails harmlessly

    [(again, handle2)] = desk.queues.receive(OUTBOUND_MAIL)
    assert (handle2.id, handle2.dequeue_count, again) == (handle.id, 2, notification)
    assert graph.sent == []


def test_a_deferral_without_a_pop_receipt_lets_the_host_release_the_message(desk, graph):
    from functions import outbound
    from shared_code.services.outbound_queue import DeferralLost

    _reply_queued(desk, graph)
    graph.fail_next(429, count=desk.settings.graph_max_retries + 1, retry_after=0,
                    path_contains="sendMail")
    [notification] = desk.queues.peek_notifications(OUTBOUND_MAIL)
    with pytest.raises(DeferralLost):
        outbound.send_notification.build().get_user_function()(
            func_queue.QueueMessage(body=json.dumps(notification).encode()))
    assert graph.sent == []


def test_a_notification_whose_sending_keeps_crashing_is_poisoned_after_five_attempts(desk, graph):
    from shared_code.services.outbound_queue import handle_queue_message, requeue

    notification = _reply_queued(desk, graph)
    start = datetime.now(timezone.utc)

    def clock(run: int):  # each run after the last one's lease expired
        return lambda: start + timedelta(seconds=(SENDING_LEASE_SECONDS + 1) * run)

    for run in range(MAX_SEND_ATTEMPTS):  # killed (or timed out) just before sendMail
        with pytest.raises(SimulatedCrash):
            send_notification(desk, notification, clock=clock(run),
                              checkpoint=crash_at("sending"))
    [result] = handle_queue_message(desk, notification, MAX_SEND_ATTEMPTS + 1,
                                  clock=clock(MAX_SEND_ATTEMPTS))

    assert result.outcome == "failed"
    assert "moved to outbound-mail-poison after 5 failed attempts" in result.reason
    assert graph.sent == [] and _queue_count(desk, OUTBOUND_POISON) == 1
    drain_outbound(desk)  # the poison trigger's work
    row = Deliveries(desk.connection).get(notification["id"])
    assert (row["state"], row["attempts"]) == ("failed", 5)
    assert "check Sent Items before re-queueing" in row["error"]

    # re-queued by an admin: the first attempt after it still looks in Sent Items first
    requeue(desk, notification["id"])
    assert [r.outcome for r in drain_outbound(desk)] == ["sent"]
    assert len(graph.sent) == 1 and len(_sent_items_lookups(graph)) == 4 + 1  # runs 2-5, requeue


def test_a_mailbox_whose_sent_items_cannot_be_read_is_sent_again_with_a_warning(desk, graph):
    _reply_queued(desk, graph)
    graph.fail_after_next(504, path_contains="sendMail")
    graph.fail_next(403, path_contains="/sentitems/", code="ErrorAccessDenied")

    results = drain_outbound(desk, release_after=0)

    assert [r.outcome for r in results] == ["failed", "sent"]
    assert len(graph.sent) == 2  # the check could not run: at least once, as without it
    [logged] = [r for r in desk.syslog.list() if r["title"] == "Sent Items not checked"]
    assert "ErrorAccessDenied" in logged["message"] and logged["account"] == SUPPORT


def test_fetch_jobs_keep_their_limit_of_five_under_the_high_host_limit(desk, graph):
    from functions import fetch

    job = {"address": SUPPORT, "scheduled": "2026-11-30T10:00:00+00:00"}
    before = len(graph.requests)
    fetch.fetch_mailbox.build().get_user_function()(func_queue.QueueMessage(
        id="m1", pop_receipt="p1", dequeue_count=6, body=json.dumps(job).encode()))

    assert len(graph.requests) == before  # not fetched again
    assert desk.queues.peek_all("fetch-jobs-poison") == [job]


def test_a_long_retry_after_defers_for_that_long_instead_of_waiting_in_the_worker(desk, graph):
    notification = _reply_queued(desk, graph)
    graph.fail_next(429, retry_after=3600, path_contains="sendMail")

    [result] = drain_outbound(desk)

    assert (result.outcome, result.retry_after_seconds) == ("deferred", 3600)
    assert [r.status for r in graph.requests if r.path.endswith("/sendMail")][-1:] == [429]
    assert _queue_count(desk, OUTBOUND_MAIL) == 1 and desk.queues.receive(OUTBOUND_MAIL) == []
    assert Deliveries(desk.connection).get(notification["id"])["state"] == "deferred"


def test_a_first_attempt_does_not_look_in_sent_items(desk, graph):
    _reply_queued(desk, graph)
    assert [r.outcome for r in drain_outbound(desk)] == ["sent"]
    assert _sent_items_lookups(graph) == []
