"""The `outbound-mail` queue around services/send.py: what the queue trigger, the poison
trigger and `drain_outbound` (the host's stand-in for the CLI, the local run and tests) do.

A queue message holds one notification (the previous shape) or a batch of one ticket's
notifications (send.py). Waiting is not failing: when a notification of the message must
wait (pacing, Graph throttling, another worker's lease), the *same* queue message is hidden
again (`QueueSender.hide`) for the shortest wait; the notifications already sent or
suppressed are finished on their rows, so the next receive sends only the others. Every
receive raises a message's dequeue count, so host.json's maxDequeueCount
(HOST_MAX_DEQUEUE_COUNT) is set far above the app's limit: the app counts real failures per
notification on its row and moves a notification to `outbound-mail-poison` itself after
MAX_SEND_ATTEMPTS of them. docs/outbound.md → Reliability explains the choice.
"""
from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Callable

from .. import ports
from ..adapters.deliveries import DeliveryState, real_failures
from ..adapters.names import OUTBOUND_MAIL, OUTBOUND_POISON
from ..domain.model import ValidationError
from .helpdesk import Helpdesk
from .notification_requests import BATCH_SCHEMA, batch_message
from .outbound_run import SEND_DEADLINE_SECONDS, Directory, Outbound
from .send import HOST_MAX_DEQUEUE_COUNT, HOST_VISIBILITY_TIMEOUT, MessageOutcome, send_message
from .send_delivery import MAX_SEND_ATTEMPTS, SendResult
from .system_mail import failed_rows as failed_system_mail
from .system_mail import is_system_mail, send_system_mail
from .system_mail import record_failed as record_failed_system_mail
from .system_mail import requeue as requeue_system_mail

log = logging.getLogger("deskmail.send")


class DeferralLost(RuntimeError):
    """A deferred notification could not re-hide its queue message (no message id or pop
    receipt, or the receipt no longer holds it); raised so the host releases the message
    itself: the same message comes back after host.json's visibilityTimeout. `results`
    says what became of each notification of the message."""

    def __init__(self, message: str, results: list[SendResult] | None = None):
        super().__init__(message)
        self.results = results or []


class SendFailed(RuntimeError):
    """A notification of the message failed and has attempts left: the message is retried
    (the host releases it). `results` says what became of each notification."""

    def __init__(self, error: BaseException, results: list[SendResult]):
        super().__init__(f"{type(error).__name__}: {error}")
        self.error, self.results = error, results


def handle_queue_message(desk: Helpdesk, message: object, dequeue_count: int = 1,
                         out: Outbound | None = None, *, message_id: str = "",
                         pop_receipt: str = "",
                         clock: Callable[[], datetime] | None = None) -> list[SendResult]:
    """The queue trigger's work on one message (`message_id`/`pop_receipt` from the trigger);
    one result per notification.

    All finished (sent, duplicate, suppressed, failed for good): returns (the host deletes the
    message). Some deferred: hides the same message for the shortest wait and returns (the
    host's delete then fails harmlessly on the changed pop receipt). A real failure with
    attempts left: raises SendFailed (the host releases the message); a notification at its
    MAX_SEND_ATTEMPTS-th real failure is moved to the poison queue alone instead. A system
    mail (services/system_mail.py) is sent the same way, without a ticket."""
    if is_system_mail(message):
        return _handle_system_mail(desk, message, dequeue_count, message_id, pop_receipt)
    own = out is None
    out = out or Outbound(desk, clock=clock, directory=Directory.shared(desk))
    try:
        outcome = send_message(out, message)
        retry = _poison_or_retry(out, outcome)
        for result in outcome.results:
            result.queue_message_id, result.dequeue_count = message_id, dequeue_count
        if retry is not None:
            raise SendFailed(retry, outcome.results)
        wait = outcome.deferred_seconds
        if wait is not None:
            hidden = bool(message_id and pop_receipt) and desk.queues.hide(
                OUTBOUND_MAIL, message_id, pop_receipt, wait)
            if not hidden:
                ids = ", ".join(r.id for r in outcome.results if r.outcome == "deferred")
                raise DeferralLost(f"notification {ids} is deferred but its queue message "
                                   "could not be hidden again; the host releases it instead",
                                   outcome.results)
        return outcome.results
    finally:
        if own:
            out.close()


def _handle_system_mail(desk: Helpdesk, message: dict, dequeue_count: int, message_id: str,
                        pop_receipt: str) -> list[SendResult]:
    """A system mail: retried like a notification (the receive count is its attempt count),
    moved to the poison queue at the MAX_SEND_ATTEMPTS-th failure, hidden again to wait."""
    try:
        result = send_system_mail(desk, message, dequeue_count)
    except Exception as error:
        result = SendResult(id=str(message.get("id") or ""), template=str(message.get("kind") or ""),
                            sender=str(message.get("sender") or ""), outcome="failed",
                            reason=f"{type(error).__name__}: {error}",
                            queue_message_id=message_id, dequeue_count=dequeue_count)
        desk.syslog.write("warning", "Send failed", f"system mail {result.id} ({result.template}): "
                          f"{result.reason} (attempt {dequeue_count} of {MAX_SEND_ATTEMPTS})",
                          account=result.sender)
        if dequeue_count < MAX_SEND_ATTEMPTS:
            result.reason += f" (attempt {dequeue_count} of {MAX_SEND_ATTEMPTS}; the queue retries it)"
            raise SendFailed(error, [result]) from error
        result.reason += f" (moved to {OUTBOUND_POISON} after {dequeue_count} failed attempts)"
        result.error_code = getattr(error, "code", "") or type(error).__name__
        desk.queues.send(OUTBOUND_POISON, {**message, "attempts": dequeue_count,
                                           "last_error": result.reason[:2000],
                                           "error_code": str(result.error_code)[:100]})
        return [result]
    result.queue_message_id, result.dequeue_count = message_id, dequeue_count
    if result.outcome == "deferred" and not (message_id and pop_receipt and desk.queues.hide(
            OUTBOUND_MAIL, message_id, pop_receipt, result.retry_after_seconds)):
        raise DeferralLost(f"system mail {result.id} is deferred but its queue message could not "
                           "be hidden again; the host releases it instead", [result])
    return [result]


def _poison_or_retry(out: Outbound, outcome: MessageOutcome) -> BaseException | None:
    """Move each notification at its last allowed failure to the poison queue; the first
    error of those with attempts left (the message must be retried), or None."""
    retry = None
    results = {r.id: r for r in outcome.results}
    for notification, error, failures in outcome.failures:
        result = results[notification["id"]]
        if failures < MAX_SEND_ATTEMPTS:
            result.reason += f" (attempt {failures} of {MAX_SEND_ATTEMPTS}; the queue retries it)"
            retry = retry or error
            continue
        out.desk.queues.send(OUTBOUND_POISON, notification)
        result.reason = (f"{type(error).__name__}: {error} (moved to {OUTBOUND_POISON} after "
                         f"{failures} failed attempts)")
        log.error("notification %s: %s", notification["id"], result.reason)
    return retry


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
    then `outbound-mail-poison` is recorded as the poison trigger would. One result per
    notification."""
    out = Outbound(desk, clock=clock, checkpoint=checkpoint)
    results: list[SendResult] = []
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="send") as pool:
        try:
            received = 0
            while received < max_messages:
                batch = desk.queues.receive(OUTBOUND_MAIL,
                                            max_messages=min(32, max_messages - received),
                                            visibility_timeout=visibility_timeout)
                if not batch:
                    break
                received += len(batch)
                for handled in pool.map(lambda item: _drain_one(desk, out, *item, release_after),
                                        batch):
                    results += handled
        finally:
            out.close()
    for message, handle in desk.queues.receive(OUTBOUND_POISON, max_messages=32):
        record_poison(desk, message)
        desk.queues.delete(OUTBOUND_POISON, handle)
    return results


def _notifications(message: object) -> list[dict]:
    if isinstance(message, dict) and message.get("schema") == BATCH_SCHEMA:
        items = message.get("notifications")
        return [n for n in items if isinstance(n, dict)] if isinstance(items, list) else []
    return [message] if isinstance(message, dict) else []


def _drain_one(desk: Helpdesk, out: Outbound, message: object, handle,
               release_after: int) -> list[SendResult]:
    count = int(handle.dequeue_count or 1)
    if count > HOST_MAX_DEQUEUE_COUNT:  # the host checks before invoking the function
        return _host_poison(desk, message, handle, count)
    try:
        results = handle_queue_message(desk, message, count, out, message_id=handle.id,
                                       pop_receipt=handle.pop_receipt)
    except DeferralLost as error:
        results = error.results
        for result in results:
            if result.outcome == "deferred":
                result.reason = str(error)
    except Exception as error:
        if count >= HOST_MAX_DEQUEUE_COUNT:
            return _host_poison(desk, message, handle, count)
        results = getattr(error, "results", None) or [
            SendResult(id=str(n.get("id", "")), template=str(n.get("template", "")),
                       outcome="failed", reason=f"{type(error).__name__}: {error}",
                       queue_message_id=handle.id, dequeue_count=count)
            for n in _notifications(message)]
        for result in results:
            if result.outcome == "failed":
                result.reason = result.reason.replace("the queue retries it)",
                                                      f"the queue retries it in {release_after} s)")
    else:
        desk.queues.delete(OUTBOUND_MAIL, handle)
        return results
    desk.queues.hide(OUTBOUND_MAIL, handle.id, handle.pop_receipt, release_after)
    return results


def _host_poison(desk: Helpdesk, message: object, handle, count: int) -> list[SendResult]:
    desk.queues.send(OUTBOUND_POISON, message)
    desk.queues.delete(OUTBOUND_MAIL, handle)
    reason = (f"moved to {OUTBOUND_POISON} by the host after {count} receives: "
              "host.json maxDequeueCount")
    return [SendResult(id=str(n.get("id", "")), template=str(n.get("template", "")),
                       outcome="failed", reason=reason, queue_message_id=handle.id,
                       dequeue_count=count) for n in _notifications(message)]


def record_poison(desk: Helpdesk, message: object) -> None:
    """The poison trigger's work: the notifications failed for good; log them, list them as
    failed (a batch moved there by the host: each of its unfinished notifications)."""
    if is_system_mail(message):
        return record_failed_system_mail(desk, message)
    deliveries = desk.deliveries
    for notification in _notifications(message) or [{}]:
        _record_poisoned(desk, deliveries, notification)


def _record_poisoned(desk: Helpdesk, deliveries: ports.Deliveries, notification: dict) -> None:
    nid = str(notification.get("id", ""))
    ticket = str(notification.get("ticket_number", ""))
    row = deliveries.get(nid, ticket=ticket) if nid and ticket else None
    if row is not None and row.get("state") in (DeliveryState.SENT, DeliveryState.SUPPRESSED):
        return  # a copy of a notification that got through after all
    last = f"; last error: {row.get('error')}" if row and row.get("error") else ""
    if row is not None and (row.get("maybe_sent") or row.get("state") in (
            DeliveryState.SENDING, DeliveryState.UNCERTAIN)):
        last += ("; Exchange may have delivered it (a worker stopped while sending it, or "
                 "sendMail gave no clear answer): check Sent Items before re-queueing")
    reason = (f"moved to {OUTBOUND_POISON} after {real_failures(row)} failed attempts "
              f"({int((row or {}).get('deferrals') or 0)} deferrals){last}")
    if nid and ticket:
        deliveries.record_failed(notification, reason)
    desk.syslog.write("error", "Notification failed",
                      f"notification {nid or '(no id)'} ({notification.get('template', '?')}, "
                      f"ticket #{notification.get('ticket_number', '?')}): {reason}; re-queue it "
                      f"with `notifications requeue {nid}`",
                      account=row.get("sender", "") if row else "")


def failed_notifications(desk: Helpdesk) -> list[dict]:
    """Notifications that failed for good (poison, too large, no sender ...) or are held
    (every recipient undeliverable), oldest first: one query of the `n-` rows of `tickets`;
    then the system mail that failed for good (table `systemmail`), `type` system_mail."""
    return [{
        "id": row.get("id", ""), "type": "notification", "state": row.get("state", ""),
        "template": row.get("template", ""), "created": row.get("created") or None,
        "ticket": row.get("ticket", ""),
        "sender": row.get("sender", ""), "recipients": row.get("recipients", ""),
        "subject": row.get("subject", ""), "attempts": int(row.get("attempts") or 0),
        "error_code": row.get("error_code", ""), "error": row.get("error", ""),
        "updated": row.get("updated"),
    } for row in desk.deliveries.with_state(DeliveryState.FAILED.value, DeliveryState.HELD.value)
    ] + failed_system_mail(desk)


def held_notifications(desk: Helpdesk, number: str) -> list[dict]:
    """A ticket's notifications held for an undeliverable recipient (`tickets show`)."""
    return [{"id": row.get("id", ""), "template": row.get("template", ""),
             "recipients": row.get("recipients", ""), "reason": row.get("reason", "")}
            for row in desk.tickets.notification_rows(number)
            if row.get("state") == DeliveryState.HELD.value]


def requeue(desk: Helpdesk, notification_id: str) -> dict:
    """Put a notification (or a failed system mail) back on `outbound-mail` as it was first
    queued."""
    deliveries = desk.deliveries
    row = deliveries.get(notification_id)
    if row is None:
        mail = requeue_system_mail(desk, notification_id)
        if mail is None:
            raise LookupError(f"no notification {notification_id}")
        return {**mail, "type": "system_mail"}
    if row.get("state") in (DeliveryState.SENT.value, DeliveryState.SENDING.value):
        raise ValidationError(f"notification {notification_id} is {row['state']}; not re-queued")
    notification = json.loads(row["notification"])
    deliveries.record_queued(notification)
    desk.queues.send(OUTBOUND_MAIL, batch_message(notification["ticket_number"], [notification]))
    desk.syslog.write("info", "Notification re-queued",
                      f"notification {notification_id} ({row.get('template')}, ticket "
                      f"#{row.get('ticket')}) is queued again", account=row.get("sender", ""))
    return notification
