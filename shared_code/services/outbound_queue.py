"""The `outbound-mail` queue around services/send.py: what the queue trigger, the poison
trigger and `drain_outbound` (the host's stand-in for the CLI, the local run and tests) do.

Waiting is not failing: a notification that must wait (pacing, Graph throttling, another
worker's lease) is deferred by hiding the *same* queue message again (`QueueSender.hide`).
Every receive raises a message's dequeue count, so host.json's maxDequeueCount
(HOST_MAX_DEQUEUE_COUNT) is set far above the app's limit: the app counts real failures on the
delivery row and moves a notification to `outbound-mail-poison` itself after MAX_SEND_ATTEMPTS
of them. docs/outbound.md → Reliability explains the choice and what the host does.
"""
from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Callable

from ..adapters.deliveries import Deliveries, DeliveryState, real_failures
from ..adapters.queues import OUTBOUND_MAIL
from ..domain.model import ValidationError
from ..domain.notifications import BATCH_SCHEMA, unbatch
from .helpdesk import Helpdesk
from .send import (
    HOST_MAX_DEQUEUE_COUNT,
    HOST_VISIBILITY_TIMEOUT,
    MAX_SEND_ATTEMPTS,
    OUTBOUND_POISON,
    SEND_DEADLINE_SECONDS,
    SendResult,
    _Outbound,
    _send,
)

log = logging.getLogger("deskmail.send")


class DeferralLost(RuntimeError):
    """A deferred notification could not re-hide its queue message (no message id or pop
    receipt, or the receipt no longer holds it); raised so the host releases the message
    itself: the same message comes back after host.json's visibilityTimeout."""


def handle_queue_message(desk: Helpdesk, notification: dict, dequeue_count: int = 1,
                         out: _Outbound | None = None, *, message_id: str = "",
                         pop_receipt: str = "",
                         clock: Callable[[], datetime] | None = None) -> SendResult:
    """The queue trigger's work on one message (`message_id`/`pop_receipt` from the trigger).

    Sent, duplicate, suppressed: returns (the host deletes the message). Deferred: hides the
    same message for the wait and returns (the host's delete then fails harmlessly on the
    changed pop receipt). A real failure: raises (the host releases the message), unless it is
    the MAX_SEND_ATTEMPTS-th, when the notification is moved to the poison queue instead."""
    if isinstance(notification, dict) and notification.get("schema") == BATCH_SCHEMA:
        results = handle_batch(desk, notification, dequeue_count, out, message_id=message_id,
                               pop_receipt=pop_receipt, clock=clock)
        return results[-1] if results else SendResult(id="", template="", outcome="failed",
                                                      reason="an empty batch")
    own = out is None
    out = out or _Outbound(desk, clock=clock)
    try:
        try:
            result = _send(out, notification, dequeue_count)
        except Exception as error:
            result = _give_up_or_raise(out, notification, error)
        result.queue_message_id, result.dequeue_count = message_id, dequeue_count
        if result.outcome == "deferred":
            hidden = bool(message_id and pop_receipt) and desk.queues.hide(
                OUTBOUND_MAIL, message_id, pop_receipt, result.retry_after_seconds)
            if not hidden:
                raise DeferralLost(f"notification {result.id} is deferred but its queue message "
                                   "could not be hidden again; the host releases it instead")
        return result
    finally:
        if own:
            out.close()


def _run_batch(out: _Outbound, message: dict, dequeue_count: int, message_id: str
               ) -> tuple[list[SendResult], list[dict], Exception | None, int | None]:
    """Each notification of a batch in turn: (results, the failed notifications, the first
    real failure, the shortest wait of the deferred ones)."""
    results: list[SendResult] = []
    failed: list[dict] = []
    error: Exception | None = None
    wait: int | None = None
    for notification in unbatch(message):
        try:
            try:
                result = _send(out, notification, dequeue_count)
            except Exception as failure:
                result = _give_up_or_raise(out, notification, failure)
        except Exception as failure:
            error = error or failure
            failed.append(notification)
            valid = isinstance(notification, dict)
            result = SendResult(id=str(notification.get("id", "")) if valid else "",
                                template=str(notification.get("template", "")) if valid else "",
                                outcome="failed", reason=f"{type(failure).__name__}: {failure}")
        result.queue_message_id, result.dequeue_count = message_id, dequeue_count
        if result.outcome == "deferred":
            wait = result.retry_after_seconds if wait is None else min(wait, result.retry_after_seconds)
        results.append(result)
    return results, failed, error, wait


def handle_batch(desk: Helpdesk, message: dict, dequeue_count: int = 1,
                 out: _Outbound | None = None, *, message_id: str = "", pop_receipt: str = "",
                 clock: Callable[[], datetime] | None = None) -> list[SendResult]:
    """A `deskmail.batch/1` message (one unit of work's notifications), each in turn. One that
    must wait hides the whole message (those already sent are found finished next time); a
    real failure is raised after the others had their turn, so the queue retries them all."""
    own = out is None
    out = out or _Outbound(desk, clock=clock)
    try:
        results, _, error, wait = _run_batch(out, message, dequeue_count, message_id)
    finally:
        if own:
            out.close()
    if error is not None:
        raise error
    if wait is not None:
        hidden = bool(message_id and pop_receipt) and desk.queues.hide(
            OUTBOUND_MAIL, message_id, pop_receipt, wait)
        if not hidden:
            raise DeferralLost(f"a notification of ticket #{message.get('ticket_number')} is "
                               "deferred but its queue message could not be hidden again")
    return results


def _give_up_or_raise(out: _Outbound, notification: dict, error: Exception) -> SendResult:
    """After a real failure: raise it (the queue retries), or after MAX_SEND_ATTEMPTS real
    failures move the notification to the poison queue and return."""
    nid = str(notification.get("id", "")) if isinstance(notification, dict) else ""
    row = out.deliveries.get(nid) if nid else None
    failures = real_failures(row)
    if failures < MAX_SEND_ATTEMPTS:
        raise error
    out.desk.queues.send(OUTBOUND_POISON, notification)
    reason = (f"{type(error).__name__}: {error} (moved to {OUTBOUND_POISON} after {failures} "
              "failed attempts)")
    log.error("notification %s: %s", nid, reason)
    return SendResult(id=nid, template=str(notification.get("template", "")),
                      outcome="failed", reason=reason)


def drain_outbound(desk: Helpdesk, max_messages: int = 500,
                   visibility_timeout: int = SEND_DEADLINE_SECONDS + 30,
                   workers: int = 8, *, release_after: int = HOST_VISIBILITY_TIMEOUT,
                   clock: Callable[[], datetime] | None = None,
                   checkpoint: Callable[[str, str], None] | None = None) -> list[SendResult]:
    """What the Functions host does with `outbound-mail`, once, for the CLI, the local run and
    tests, configured as host.json is: the visible messages are handled `workers` at a time
    (like the host's batch; 8 stays within the storage SDK's pool of 10 connections, Graph
    allows 4 per mailbox); a handled one is deleted (after a deferral that delete fails
    harmlessly, as the host's does); a failing one is released, visible again after
    `release_after` seconds (host.json visibilityTimeout; tests pass 0), until the app gives up
    after MAX_SEND_ATTEMPTS real failures or the host after HOST_MAX_DEQUEUE_COUNT receives;
    then `outbound-mail-poison` is recorded as the poison trigger would."""
    out = _Outbound(desk, clock=clock, checkpoint=checkpoint)
    results: list[SendResult] = []
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="send") as pool:
        try:
            while len(results) < max_messages:
                batch = desk.queues.receive(OUTBOUND_MAIL,
                                            max_messages=min(32, max_messages - len(results)),
                                            visibility_timeout=visibility_timeout)
                if not batch:
                    break
                for done in pool.map(lambda item: _drain_one(desk, out, *item, release_after),
                                     batch):
                    results += done
        finally:
            out.close()
    for notification, handle in desk.queues.receive(OUTBOUND_POISON, max_messages=32):
        record_poison(desk, notification)
        desk.queues.delete(OUTBOUND_POISON, handle)
    return results


def _drain_one(desk: Helpdesk, out: _Outbound, notification: dict, handle,
               release_after: int) -> list[SendResult]:
    if isinstance(notification, dict) and notification.get("schema") == BATCH_SCHEMA:
        return _drain_batch(desk, out, notification, handle, release_after)
    return [_drain_single(desk, out, notification, handle, release_after)]


def _drain_batch(desk: Helpdesk, out: _Outbound, message: dict, handle,
                 release_after: int) -> list[SendResult]:
    """A batch message, as the host would run it (see handle_batch)."""
    count = int(handle.dequeue_count or 1)
    if count > HOST_MAX_DEQUEUE_COUNT:
        return [_drain_single(desk, out, n, handle, release_after) for n in unbatch(message)]
    results, failed, error, wait = _run_batch(out, message, count, handle.id)
    if error is not None:
        if count >= HOST_MAX_DEQUEUE_COUNT:
            failed_ids = {str(n.get("id", "")) for n in failed if isinstance(n, dict)}
            raised = [r for r in results if r.outcome == "failed" and r.id in failed_ids]
            for notification, result in zip(failed, raised):
                _host_poison(desk, notification, handle, result, count)
            return results
        failed_ids = {str(n.get("id", "")) for n in failed if isinstance(n, dict)}
        for result in results:
            if result.outcome == "failed" and result.id in failed_ids:
                failures = real_failures(out.deliveries.get(result.id)) if result.id else 0
                result.reason += (f" (attempt {failures} of {MAX_SEND_ATTEMPTS}; the queue "
                                  f"retries it in {release_after} s)")
        desk.queues.hide(OUTBOUND_MAIL, handle.id, handle.pop_receipt, release_after)
        return results
    if wait is not None:
        desk.queues.hide(OUTBOUND_MAIL, handle.id, handle.pop_receipt, wait)
    desk.queues.delete(OUTBOUND_MAIL, handle)
    return results


def _drain_single(desk: Helpdesk, out: _Outbound, notification: dict, handle,
                  release_after: int) -> SendResult:
    count = int(handle.dequeue_count or 1)
    nid = str(notification.get("id", "")) if isinstance(notification, dict) else ""
    result = SendResult(id=nid, template=str(notification.get("template", ""))
                        if isinstance(notification, dict) else "", outcome="failed",
                        queue_message_id=handle.id, dequeue_count=count)
    if count > HOST_MAX_DEQUEUE_COUNT:  # the host checks before invoking the function
        _host_poison(desk, notification, handle, result, count)
        return result
    try:
        result = handle_queue_message(desk, notification, count, out, message_id=handle.id,
                                      pop_receipt=handle.pop_receipt)
    except DeferralLost as error:
        result.outcome, result.reason = "deferred", str(error)
    except Exception as error:
        result.reason = f"{type(error).__name__}: {error}"
        if count >= HOST_MAX_DEQUEUE_COUNT:
            _host_poison(desk, notification, handle, result, count)
            return result
        failures = real_failures(out.deliveries.get(nid)) if nid else 0
        result.reason += (f" (attempt {failures} of {MAX_SEND_ATTEMPTS}; the queue retries it "
                          f"in {release_after} s)")
    else:
        desk.queues.delete(OUTBOUND_MAIL, handle)
        return result
    desk.queues.hide(OUTBOUND_MAIL, handle.id, handle.pop_receipt, release_after)
    return result


def _host_poison(desk: Helpdesk, notification: dict, handle, result: SendResult,
                 count: int) -> None:
    desk.queues.send(OUTBOUND_POISON, notification)
    desk.queues.delete(OUTBOUND_MAIL, handle)
    result.reason += (f" (moved to {OUTBOUND_POISON} by the host after {count} receives: "
                      "host.json maxDequeueCount)")


def record_poison(desk: Helpdesk, notification: dict) -> None:
    """The poison trigger's work: the notification failed for good; log it, list it as failed."""
    deliveries = Deliveries(desk.connection)
    nid = str(notification.get("id", "")) if isinstance(notification, dict) else ""
    row = deliveries.get(nid) if nid else None
    if row is not None and row.get("state") in (DeliveryState.SENT, DeliveryState.SUPPRESSED):
        return  # a copy of a notification that got through after all
    last = f"; last error: {row.get('error')}" if row and row.get("error") else ""
    if row is not None and (row.get("maybe_sent") or row.get("state") in (
            DeliveryState.SENDING, DeliveryState.UNCERTAIN)):
        last += ("; Exchange may have delivered it (a worker stopped while sending it, or "
                 "sendMail gave no clear answer): check Sent Items before re-queueing")
    reason = (f"moved to {OUTBOUND_POISON} after {real_failures(row)} failed attempts "
              f"({int((row or {}).get('deferrals') or 0)} deferrals){last}")
    if nid:
        deliveries.record_failed(notification, reason)
    desk.syslog.write("error", "Notification failed",
                      f"notification {nid or '(no id)'} ({notification.get('template', '?')}, "
                      f"ticket #{notification.get('ticket_number', '?')}): {reason}; re-queue it "
                      f"with `notifications requeue {nid}`",
                      account=row.get("sender", "") if row else "")


def failed_notifications(desk: Helpdesk) -> list[dict]:
    """Notifications that failed for good (poison, too large, no sender ...), oldest first."""
    return [{
        "id": row.get("id", ""), "template": row.get("template", ""), "ticket": row.get("ticket", ""),
        "sender": row.get("sender", ""), "recipients": row.get("recipients", ""),
        "subject": row.get("subject", ""), "attempts": int(row.get("attempts") or 0),
        "error_code": row.get("error_code", ""), "error": row.get("error", ""),
        "updated": row.get("updated"),
    } for row in Deliveries(desk.connection).with_state("failed")]


def requeue(desk: Helpdesk, notification_id: str) -> dict:
    """Put a notification back on `outbound-mail` as it was first queued."""
    deliveries = Deliveries(desk.connection)
    row = deliveries.get(notification_id)
    if row is None:
        raise LookupError(f"no notification {notification_id}")
    if row.get("state") in ("sent", "sending"):
        raise ValidationError(f"notification {notification_id} is {row['state']}; not re-queued")
    notification = json.loads(row["notification"])
    deliveries.record_queued(notification)
    desk.queues.send(OUTBOUND_MAIL, notification)
    desk.syslog.write("info", "Notification re-queued",
                      f"notification {notification_id} ({row.get('template')}, ticket "
                      f"#{row.get('ticket')}) is queued again", account=row.get("sender", ""))
    return notification
