"""Staff actions on tickets and the overdue check; each enqueues its templated notification.

The HTTP API of a later issue calls these same operations; the CLI's `tickets reply|assign|
transfer|close|overdue` calls them today.
"""
from __future__ import annotations

import html
import uuid
from datetime import datetime, timezone

from ..adapters.queues import OUTBOUND_MAIL
from ..adapters.tables import digest
from ..domain.limits import MAX_REPLY_CHARS, MAX_SUBJECT_CHARS, clip_text, utf16_len
from ..domain.model import Department, Entry, Party, Staff, Status, Ticket, ValidationError
from ..domain.notifications import new_notification, outbound_message_id
from ..domain.sla import SlaState, mark_answered, sla_clock, sla_hours
from .helpdesk import Helpdesk

MAX_UPDATE_TRIES = 10


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _ticket(desk: Helpdesk, number: str) -> Ticket:
    ticket = desk.tickets.get(number.lstrip("#"))
    if ticket is None:
        raise LookupError(f"no ticket #{number.lstrip('#')}")
    return ticket


def _staff(desk: Helpdesk, email: str) -> Staff:
    staff = desk.directory.get_staff(email)
    if staff is None or not staff.active:
        raise ValidationError(f"{email} is not an active staff member (see `staff list`)")
    return staff


def _actor(desk: Helpdesk, email: str | None) -> Party | None:
    if not email:
        return None
    staff = _staff(desk, email)
    return Party(staff.name, staff.email)


def _update(desk: Helpdesk, number: str, change) -> Ticket:
    """Apply `change(ticket)` with optimistic concurrency: re-read and retry on a conflict."""
    for _ in range(MAX_UPDATE_TRIES):
        ticket = _ticket(desk, number)
        change(ticket)
        if desk.tickets.update(ticket):
            return ticket
    raise RuntimeError(f"ticket #{number} kept changing; try again")


def _enqueue(desk: Helpdesk, notification: dict) -> dict:
    if not desk.outbox.is_enqueued(notification["id"]):
        desk.queues.send(OUTBOUND_MAIL, notification)
        desk.outbox.mark_enqueued(notification)
    return notification


def _client_references(desk: Helpdesk, ticket: Ticket) -> list[str]:
    return [e.message_id for e in desk.tickets.entries(ticket.number) if e.message_id][-20:]


def _notification_id(request_id: str | None, action: str) -> str:
    """Random, or derived from the caller's request id so that retrying the same request
    (after a timeout or a crash) does the work once."""
    return digest(f"{action}|{request_id}", 32) if request_id else uuid.uuid4().hex


def reply(desk: Helpdesk, number: str, staff_email: str, text: str,
          request_id: str | None = None) -> Entry:
    """A staff response: stored on the thread, mailed to the client as Response/Reply.
    Retried with the same `request_id`, it rewrites the same entry and queues the mail once.
    Everything is validated and the notification built before the first write, so a refused
    reply leaves nothing behind and a stored one always has its mail queued."""
    if not text.strip():
        raise ValidationError("a reply needs some text")
    if utf16_len(text) > MAX_REPLY_CHARS:
        raise ValidationError(f"a reply may be at most {MAX_REPLY_CHARS} characters, "
                              f"got {utf16_len(text)}")
    ticket = _ticket(desk, number)
    staff = _staff(desk, staff_email)
    notification_id = _notification_id(request_id, f"reply|{ticket.number}")
    message_id = outbound_message_id(notification_id, desk.settings.system_domain)
    earlier = desk.index.get(message_id)  # the same request, stored before a crash or timeout
    now = _now()
    entry = Entry(
        ticket_number=ticket.number,
        entry_id=(earlier or {}).get("entry_id") or f"{now:%Y%m%dT%H%M%S%fZ}-{digest(message_id, 12)}",
        type="response",
        sender=Party(staff.name, staff.email),
        message_id=message_id,
        date=now,
        subject=clip_text(f"Re: {ticket.subject}", MAX_SUBJECT_CHARS)[0],
        body_text=text,
        body_html="<p>" + html.escape(text).replace("\n", "<br>") + "</p>",
    )
    notification = new_notification(
        "response", ticket, {"role": "client"}, event="ticket.responded",
        notification_id=notification_id, entry_id=entry.entry_id,
        actor=Party(staff.name, staff.email), references=_client_references(desk, ticket),
        extra={"message_id": message_id, "response_entry_id": entry.entry_id},
    )
    desk.tickets.add_entry(entry)
    desk.index.record(message_id, ticket.number, "outbound", entry.entry_id)
    _enqueue(desk, notification)
    _stop_clock(desk, ticket.number, entry)
    return entry


def _stop_clock(desk: Helpdesk, number: str, response: Entry) -> None:
    """A response answers the client: the SLA clock stops until the client writes again.
    Written after the mail is queued; a crash before it leaves the clock running (an alert
    too many, never one too few) and the retried request stops it."""
    def change(ticket: Ticket) -> None:
        mark_answered(ticket, response.entry_id, response.date)

    if mark_answered(_ticket(desk, number), response.entry_id, response.date):
        _update(desk, number, change)


def assign(desk: Helpdesk, number: str, staff_email: str, by: str | None = None,
           request_id: str | None = None) -> Ticket:
    staff = _staff(desk, staff_email)
    actor = _actor(desk, by)

    def change(ticket: Ticket) -> None:
        ticket.assignee = staff.email

    ticket = _update(desk, number, change)
    _enqueue(desk, new_notification(
        "assignment_alert", ticket, {"role": "staff", "email": staff.email, "name": staff.name},
        event="ticket.assigned", actor=actor,
        notification_id=_notification_id(request_id, f"assign|{ticket.number}")))
    return ticket


def transfer(desk: Helpdesk, number: str, department: str, by: str | None = None,
             request_id: str | None = None) -> Ticket:
    target = desk.directory.get_department(department)
    if target is None:
        raise LookupError(f"no department {department} (see `departments list`)")
    actor = _actor(desk, by)
    previous: list[str] = []

    def change(ticket: Ticket) -> None:
        previous[:] = [ticket.department]
        ticket.department = target.name

    ticket = _update(desk, number, change)
    _enqueue(desk, new_notification(
        "transfer_alert", ticket, {"role": "department_alerts"}, event="ticket.transferred",
        actor=actor, extra={"previous_department": previous[0]},
        notification_id=_notification_id(request_id, f"transfer|{ticket.number}")))
    return ticket


def close(desk: Helpdesk, number: str, by: str | None = None,
          request_id: str | None = None) -> Ticket:
    actor = _actor(desk, by)
    ticket = _ticket(desk, number)
    if ticket.status == Status.CLOSED and not request_id:
        raise ValidationError(f"ticket #{number} is already closed")

    def change(ticket: Ticket) -> None:
        ticket.status = Status.CLOSED
        ticket.closed_at = _now()

    if ticket.status != Status.CLOSED:  # (a retried request finds it closed: just notify)
        ticket = _update(desk, number, change)
    _enqueue(desk, new_notification(
        "ticket_closed", ticket, {"role": "client"}, event="ticket.closed", actor=actor,
        notification_id=_notification_id(request_id, f"close|{ticket.number}")))
    return ticket


def check_overdue(desk: Helpdesk, now: datetime | None = None) -> list[Ticket]:
    """Alert the assignee and manager once per SLA breach (a new client message starts a new
    one); a ticket whose newest client message has a staff response is not on the clock."""
    now = now or _now()
    departments = {d.name.lower(): d for d in desk.directory.list_departments()}
    alerted = []
    for ticket in desk.tickets.list():
        if ticket.status != Status.OPEN:
            continue
        try:
            flagged = _alert_if_overdue(desk, ticket, departments, now)
        except Exception as error:  # one broken ticket must not stop the check for the others
            desk.syslog.write("error", "Overdue check failed",
                              f"ticket #{ticket.number}: {type(error).__name__}: {error}")
            continue
        if flagged is not None:
            alerted.append(flagged)
    return alerted


def _alert_if_overdue(desk: Helpdesk, ticket: Ticket, departments: dict[str, Department],
                      now: datetime) -> Ticket | None:
    clock = sla_clock(ticket, sla_hours(departments.get(ticket.department.lower())), now)
    breach, due = clock.breach, clock.due  # due time | the message that started the clock
    if clock.state != SlaState.OVERDUE or due is None or ticket.overdue_alerted_for == breach:
        return None
    _enqueue(desk, new_notification(
        "overdue_alert", ticket, {"role": "assignee_and_manager"}, event="ticket.overdue",
        notification_id=digest(f"overdue|{ticket.number}|{breach}", 32),
        extra={"due": due.isoformat()}))

    def mark(fresh: Ticket) -> None:
        fresh.overdue_alerted_for = breach

    return _update(desk, ticket.number, mark)
