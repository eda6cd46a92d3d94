"""Sending the notifications of one `outbound-mail` queue message.

A message is one notification (the previous shape, still accepted) or a batch
`{"schema": "deskmail.batch/1", "ticket_number": N, "notifications": [...]}`: the
notifications one mail or staff action caused, all of one ticket. Per message:

validate → claim every notification in one transaction on the ticket's partition (sent at
most once) → read the ticket once (and its thread, only when a template shows it) → per
notification: sender and recipients, loop-safety suppressions, render, MIME, size check,
Sent Items check (only when an earlier attempt may have gone out) → mailbox pacing, the
slots of one mailbox taken in one write → Graph sendMail, one by one → the outcomes recorded
in one transaction.

A notification that must wait (pacing, Graph throttling, another worker's lease) ends
`deferred` with the seconds to wait; a real failure is recorded (code and account, no
secret) and reported in `MessageOutcome.failures`. What the queue does with either is in
outbound_queue.py. The steps of one notification are in send_delivery.py, the template
values in send_values.py, the run-wide cache in outbound_run.py.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from ..adapters.deliveries import DeliveryState, PartitionRead, real_failures
from ..domain.model import Party, ValidationError, normalize_address
from ..domain.notifications import NotificationError, validate_notification
from ..domain.outbound_mail import build_mime
from ..domain.telemetry import Notification
from .helpdesk import Helpdesk
from .notification_requests import BATCH_SCHEMA, MAX_BATCH
from .outbound_run import SEND_DEADLINE_SECONDS, Outbound
from .send_delivery import MAX_SEND_ATTEMPTS, Delivery, SendResult
from .send_values import shows_thread

#: host.json extensions.queues.maxDequeueCount: only a backstop. Deferrals raise the dequeue
#: count too, so it must stay far above MAX_SEND_ATTEMPTS (a test checks host.json).
HOST_MAX_DEQUEUE_COUNT = 1000
#: host.json extensions.queues.visibilityTimeout: a failed message is visible again after it.
HOST_VISIBILITY_TIMEOUT = 30

class TooManyAttempts(RuntimeError):
    """Every allowed attempt ended without an outcome (crashes, time-outs): give up."""


@dataclass
class MessageOutcome:
    """What became of one queue message's notifications."""

    results: list[SendResult] = field(default_factory=list)
    #: real failures: (notification, error, its row's failures so far), for retry or poison
    failures: list[tuple[dict, BaseException, int]] = field(default_factory=list)

    @property
    def deferred_seconds(self) -> int | None:
        """The shortest wait of the deferred notifications; None when none waits."""
        waits = [r.retry_after_seconds for r in self.results if r.outcome == "deferred"]
        return min(waits) if waits else None


def send_notification(desk: Helpdesk, notification: dict, dequeue_count: int = 1, *,
                      clock: Callable[[], datetime] | None = None,
                      checkpoint: Callable[[str, str], None] | None = None) -> SendResult:
    """Send one notification; raises on a failure worth retrying (Graph, storage)."""
    out = Outbound(desk, clock=clock, checkpoint=checkpoint)
    try:
        outcome = send_message(out, notification)
    finally:
        out.close()
    if outcome.failures:
        raise outcome.failures[0][1]
    return outcome.results[0]


# ---------------------------------------------------------------- one queue message


def unpack(message: object) -> tuple[str, list[dict], list[SendResult], bool]:
    """(ticket number, valid notifications, results of the invalid ones, whether their rows
    should exist already: a batch's producer wrote them; the previous shape's did not)."""
    if isinstance(message, dict) and message.get("schema") == BATCH_SCHEMA:
        items, ticket, batch = message.get("notifications"), str(message.get("ticket_number")), True
        if not isinstance(items, list) or not items or len(items) > MAX_BATCH:
            return "", [], [_refused({}, f"a batch needs 1 to {MAX_BATCH} notifications")], True
    else:
        items, batch = [message], False
        ticket = str(message.get("ticket_number")) if isinstance(message, dict) else ""
    valid, refused, seen = [], [], set()
    for item in items:
        try:
            validate_notification(item)
            if len(str(item["id"])) > 200:
                raise NotificationError("field 'id' is longer than 200 characters")
            if str(item["ticket_number"]) != ticket:
                raise NotificationError(f"ticket_number {item['ticket_number']!r} is not the "
                                        f"batch's {ticket!r}")
        except NotificationError as error:
            refused.append(_refused(item, f"invalid notification: {error}"))
            continue
        if item["id"] not in seen:
            seen.add(item["id"])
            valid.append(item)
    return ticket, valid, refused, batch


def _refused(item: object, reason: str) -> SendResult:
    item = item if isinstance(item, dict) else {}
    return SendResult(id=str(item.get("id") or ""), template=str(item.get("template") or ""),
                      outcome="failed", reason=reason, error_code="InvalidNotification")


def send_message(out: Outbound, message: object) -> MessageOutcome:
    """Send what a queue message asks for; raises only on a crash or a storage failure
    (nothing of the message is recorded then: the claims' leases tell)."""
    desk = out.desk
    ticket_number, notifications, refused, rows_exist = unpack(message)
    outcome = MessageOutcome(results=list(refused))
    for result in refused:
        desk.syslog.write("error", "Notification refused",
                          f"{result.id or '(no id)'}: {result.reason}")
    if not notifications:
        return _reported(desk, outcome)

    claims, read = out.deliveries.claim_all(
        ticket_number, notifications, now=out.clock(), rows_exist=rows_exist,
        with_entries=any(_shows_thread(out, n) for n in notifications))
    deliveries: list[Delivery] = []
    give_back = []
    for n in notifications:
        claim = claims[n["id"]]
        result = SendResult(id=n["id"], template=n["template"])
        outcome.results.append(result)
        if claim.status == "finished":
            result.outcome, result.reason = "duplicate", f"already {claim.row.get('state')}"
        elif claim.status == "busy":
            result.outcome, result.reason = "deferred", "another worker is sending it"
            result.retry_after_seconds = claim.wait_seconds
        elif real_failures(claim.row) > MAX_SEND_ATTEMPTS:  # earlier attempts crashed
            # this claim is no attempt: give the count back, keep `sending` (it may have gone out)
            give_back.append((n["id"], DeliveryState.SENDING,
                              {"attempts": int(claim.row["attempts"]) - 1, "maybe_sent": True}))
            error = TooManyAttempts(f"{MAX_SEND_ATTEMPTS} attempts to send notification "
                                    f"{n['id']} ended without an answer (the worker crashed or "
                                    "timed out)")
            result.outcome, result.reason = "failed", str(error)
            result.error_code = "TooManyAttempts"
            outcome.failures.append((n, error, real_failures(claim.row) - 1))
        else:
            deliveries.append(Delivery(out, n, result, claim))

    if deliveries:
        _deliver(out, ticket_number, deliveries, read)
    out.deliveries.record_all(ticket_number, give_back + [
        (d.n["id"], *d.record) for d in deliveries if d.record is not None])
    outcome.failures += [(d.n, d.error, real_failures(d.claim.row))
                         for d in deliveries if d.error is not None]
    return _reported(desk, outcome)


def _reported(desk: Helpdesk, outcome: MessageOutcome) -> MessageOutcome:
    """One `deskmail.notification` event per notification, once its outcome is recorded."""
    for r in outcome.results:
        desk.telemetry.emit(Notification(r.template[:100], r.outcome, r.sender, r.error_code))
    return outcome


def _shows_thread(out: Outbound, notification: dict) -> bool:
    """Whether this notification's template (by the department it names) shows the thread:
    then the claim's query brings the entries along."""
    try:
        template = out.template(notification["template"], notification.get("department") or "")
    except Exception:  # an unreadable template is the send's problem, not the claim's
        return False
    return shows_thread(template, notification)


def _ticket(desk: Helpdesk, number: str, read: PartitionRead):
    """The ticket, once per message: parsed from its `t` row when the claim's query returned
    it (the ticket-partition store), else read with one get."""
    parse = getattr(type(desk.tickets), "_ticket_from", None)
    if read.ticket is not None and parse is not None:
        ticket = parse(read.ticket)
        if ticket.number == number:
            return ticket
    return desk.tickets.get(number)


def _deliver(out: Outbound, ticket_number: str, deliveries: list[Delivery],
             read: PartitionRead) -> None:
    """Prepare, pace and send the claimed notifications; each ends with an outcome or an
    error on its Delivery (a BaseException, i.e. a crash, propagates: nothing recorded)."""
    desk = out.desk
    ticket = _ticket(desk, ticket_number, read)
    thread: list = []

    def entries():
        """The thread, once per message: from the claim's query when it brought the `e-`
        rows of a partition holding the ticket, else one query."""
        if not thread:
            parse = getattr(desk.tickets, "_entry_from", None)
            if read.ticket is not None and read.entries is not None and parse is not None:
                thread.append([parse(row) for row in read.entries])
            else:
                thread.append(desk.tickets.entries(ticket_number))
        return thread[0]

    for d in deliveries:
        _step(d, lambda d=d: d.prepare(ticket, entries))
        if d.ready:
            _step(d, d.check_sent_items)
    _take_slots(out, [d for d in deliveries if d.ready])
    ready = [d for d in deliveries if d.ready]
    index_outbound_ids(desk, ticket_number, ready)
    for d in ready:
        _step(d, d.send)


def _step(d: Delivery, step: Callable[[], None]) -> None:
    try:
        step()
    except Exception as error:  # a kill or a time-out records nothing: the lease tells
        d.failed(error)


def _take_slots(out: Outbound, ready: list[Delivery]) -> None:
    """Mailbox pacing: the slots of one sending mailbox in one write; those that do not fit
    are deferred until the mailbox may send again."""
    by_sender: dict[str, list[Delivery]] = {}
    for d in ready:
        by_sender.setdefault(d.sender.address, []).append(d)
    for address, waiting in by_sender.items():
        try:
            granted, wait = out.counters.take_send_slots(address,
                                                         [len(d.recipients) for d in waiting])
        except Exception as error:
            for d in waiting:
                d.failed(error)
            continue
        for d in waiting[granted:]:
            d.defer(wait, f"{address} reached Exchange Online's sending limit; sending later")


def index_outbound_ids(desk: Helpdesk, ticket_number: str, ready: list[Delivery]) -> None:
    """Index the Message-IDs about to be sent, so a client's reply threads by In-Reply-To
    (written before the send: a reply must thread even if recording `sent` fails).

    Isolated here to be dropped when outbound Message-IDs name their ticket
    (`dm.<ticket>.<token>.<hash>@domain`, docs/storage-design.md): threading then needs no
    index row. A notification carrying its own `message_id` (a staff response) was indexed
    by the action that stored it, so it is not written again."""
    for d in ready:
        if d.n.get("message_id"):
            continue
        try:
            desk.index.record(d.message_id, ticket_number, "outbound",
                              entry_id=d.n.get("response_entry_id") or "")
        except Exception as error:
            d.failed(error)


# ---------------------------------------------------------------- tests of an account


def send_test_mail(desk: Helpdesk, address: str, to: str) -> str:
    """The guide's "Send a test email to verify": a short mail from an account; returns its
    Message-ID, raises GraphError (with the Graph error code) when Graph refuses."""
    account = desk.accounts.get(address)
    if account is None:
        raise LookupError(f"no email account {address}")
    if not (account.tenant_id and account.client_id and account.client_secret_name):
        raise ValidationError(f"{account.address} has no Microsoft 365 OAuth credentials",
                              "tenant_id")
    message_id = f"deskmail.test.{uuid.uuid4().hex}@{desk.settings.system_domain}"
    text = (f"This is a test message from deskmail, sent as {account.address} through "
            "Microsoft Graph. Sending works.")
    raw = build_mime(sender=Party(account.name, account.address),
                     recipients=[Party("", normalize_address(to, "to"))],
                     subject=f"deskmail test message from {account.address}",
                     text=text, html=f"<p>{text}</p>", message_id=message_id, in_reply_to="",
                     references=[], auto_submitted="auto-generated", separator=None)
    with desk.mail_client(account, deadline=time.monotonic() + SEND_DEADLINE_SECONDS) as graph:
        graph.send_mime(raw)
    desk.syslog.write("info", "Test mail sent", f"{account.address} sent a test message to {to}",
                      account=account.address)
    return message_id
