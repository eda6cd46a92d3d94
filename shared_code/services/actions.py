"""Staff actions on tickets and the overdue check: each is one unit of work.

An action reads the ticket row and writes ONE transaction in its partition: the ticket row
(If-Match its ETag; a 412 re-reads and retries), the entry of a reply, and the `n-` row of
its notification (the transactional outbox); then one queue message. Notification ids come
from the caller's request id, so a retried request finds its `n-` row (409), writes
nothing and sends the stored notification again (the sender sends each id once).

The web pages and the JSON API (shared_code/web) call these same operations as the CLI's
`tickets reply|note|assign|transfer|close|overdue`.
"""
from __future__ import annotations

import html
import json
import uuid
from datetime import datetime, timezone
from typing import Callable

from ..adapters.deliveries import queued_row
from ..adapters.names import ATTACHMENTS, OUTBOUND_MAIL
from ..adapters.table_base import digest
from ..adapters.ticket_store import Unit, UnitResult
from ..domain.attachment_refs import stable_html
from ..domain.content import sanitize_html
from ..domain.limits import MAX_REPLY_CHARS, MAX_SUBJECT_CHARS, clip_text, utf16_len
from ..domain.model import (
    CollaboratorDelivery,
    Department,
    Entry,
    Party,
    Staff,
    Status,
    Ticket,
    ValidationError,
    normalize_address,
)
from ..domain.notifications import (
    batch_messages,
    new_notification,
    new_thread_token,
    outbound_message_id,
)
from ..domain.routing import collaborators_of
from ..domain.staff_files import StaffFile, as_attachment, check_files, notification_files
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


def _enqueue(desk: Helpdesk, number: str, notifications: list[dict]) -> None:
    for message in batch_messages(number, notifications):
        desk.queues.send(OUTBOUND_MAIL, message)


def _act(desk: Helpdesk, number: str, change: Callable[[Ticket], None],
         build: Callable[[Ticket], tuple[Entry | None, dict | None]],
         more: Callable[[Ticket], list[dict]] | None = None,
         ) -> tuple[Ticket, Entry | None, dict | None]:
    """One unit of work on a ticket: `change(ticket)` then `build(ticket) -> (entry,
    notification)` and `more(ticket)` (further notifications, e.g. one per collaborator), all
    validated before the write, written in one transaction and queued. Re-read and retried on
    a concurrent change; a retried request whose notifications are stored already writes
    nothing and queues the stored ones again."""
    for _ in range(MAX_UPDATE_TRIES):
        ticket = _ticket(desk, number)
        change(ticket)
        ticket.thread_token = ticket.thread_token or new_thread_token()
        entry, notification = build(ticket)
        notifications = [notification, *(more(ticket) if more else [])] if notification else []
        rows = [queued_row(n) for n in notifications]
        result = desk.tickets.write(Unit(ticket=ticket, entry=entry, notification_rows=rows))
        if result is UnitResult.CONFLICT:
            continue
        if result is UnitResult.ALREADY_STORED and notification:
            stored = [desk.tickets.notification_row(ticket.number, n["id"]) for n in notifications]
            notifications = [json.loads(row["notification"]) if row else n
                             for row, n in zip(stored, notifications)]
            notification = notifications[0]
            ticket = _ticket(desk, number)
        if notifications:
            _enqueue(desk, ticket.number, notifications)
        return ticket, entry, notification
    raise RuntimeError(f"ticket #{number} kept changing; try again")


def _message_id(desk: Helpdesk, ticket: Ticket, notification_id: str) -> dict:
    return {"message_id": outbound_message_id(notification_id, desk.settings.system_domain,
                                              ticket.number, ticket.thread_token)}


def _client_references(desk: Helpdesk, ticket: Ticket) -> list[str]:
    return [e.message_id for e in desk.tickets.entries(ticket.number) if e.message_id][-20:]


def _notification_id(request_id: str | None, action: str) -> str:
    """Random, or derived from the caller's request id so that retrying the same request
    (after a timeout or a crash) does the work once."""
    return digest(f"{action}|{request_id}", 32) if request_id else uuid.uuid4().hex


def _entry_html(text: str, markup: str | None) -> str:
    """The HTML kept for the thread view: given HTML sanitized as inbound mail is (it is
    shown, never mailed: the client's mail is rendered from the text), else the text."""
    if markup and markup.strip():
        return stable_html(sanitize_html(markup))
    return "<p>" + html.escape(text).replace("\n", "<br>") + "</p>"


def reply(desk: Helpdesk, number: str, staff_email: str, text: str,
          request_id: str | None = None, markup: str | None = None,
          files: list[StaffFile] | None = None) -> Entry:
    """A staff response: stored on the thread, mailed to the client as Response/Reply, and
    the SLA clock stopped (the client is answered), all in one transaction. Retried with the
    same `request_id`, it writes nothing more and queues the same mail again (sent once).
    Everything is validated and the notification built before the write. `files` are stored
    content-addressed in Blob first (an unused blob is harmless) and sent with the mail."""
    files = list(files or [])
    check_files(files)
    if not text.strip():
        raise ValidationError("a reply needs some text")
    if utf16_len(text) > MAX_REPLY_CHARS:
        raise ValidationError(f"a reply may be at most {MAX_REPLY_CHARS} characters, "
                              f"got {utf16_len(text)}")
    first = _ticket(desk, number)
    staff = _staff(desk, staff_email)
    notification_id = _notification_id(request_id, f"reply|{first.number}")
    references = _client_references(desk, first)
    now = _now()
    built: list[Entry] = []
    for item in files:
        desk.blobs.put_once(ATTACHMENTS, item.sha256, item.data, item.content_type)
    attachments = [as_attachment(item) for item in files]

    def build(ticket: Ticket) -> tuple[Entry, dict]:
        message_id = _message_id(desk, ticket, notification_id)["message_id"]
        entry = Entry(
            ticket_number=ticket.number,
            entry_id=f"{now:%Y%m%dT%H%M%S%fZ}-{digest(notification_id, 12)}",
            type="response",
            sender=Party(staff.name, staff.email),
            message_id=message_id,
            date=now,
            subject=clip_text(f"Re: {ticket.subject}", MAX_SUBJECT_CHARS)[0],
            body_text=text,
            body_html=_entry_html(text, markup),
            attachments=list(attachments),
        )
        # the response answers the client: the SLA clock stops until the client writes again
        mark_answered(ticket, entry.entry_id, entry.date)
        desk.tickets.check(ticket=ticket, entry=entry)
        built[:] = [entry]
        return entry, new_notification(
            "response", ticket, {"role": "client"}, event="ticket.responded",
            notification_id=notification_id, entry_id=entry.entry_id,
            actor=Party(staff.name, staff.email), references=references,
            extra={"message_id": message_id, "response_entry_id": entry.entry_id,
                   **({"attachments": notification_files(attachments)} if attachments else {})})

    def separately(ticket: Ticket) -> list[dict]:
        """One mail per collaborator when the ticket's account says so (else they are on the
        client's mail's Cc: services/send_delivery.py); each its own Message-ID."""
        account = desk.accounts.get(ticket.account) if ticket.account else None
        if account is None or account.collaborator_delivery != CollaboratorDelivery.SEPARATE:
            return []
        entry_id = built[0].entry_id
        out = []
        for address in collaborators_of(ticket):
            own_id = digest(f"{notification_id}|{address}", 32)
            out.append(new_notification(
                "response", ticket, {"role": "collaborator", "email": address},
                event="ticket.responded", notification_id=own_id, entry_id=entry_id,
                actor=Party(staff.name, staff.email), references=references,
                extra={**_message_id(desk, ticket, own_id), "response_entry_id": entry_id}))
        return out

    ticket, entry, notification = _act(desk, number, lambda ticket: None, build, separately)
    if notification and notification.get("response_entry_id") != entry.entry_id:
        # a retried request: the entry stored by the first attempt
        stored = [e for e in desk.tickets.entries(ticket.number)
                  if e.entry_id == notification.get("response_entry_id")]
        return stored[0] if stored else entry
    return entry


def remove_collaborator(desk: Helpdesk, number: str, address: str,
                        by: str | None = None) -> Ticket:
    """Staff take a collaborator off a ticket: no further response reaches them (the Cc and
    the one-mail-each notifications are resolved at send time), and a later mail naming them
    on To/Cc does not add them again (`removed_collaborators`)."""
    email = normalize_address(address, "address")
    _actor(desk, by)
    if email not in collaborators_of(_ticket(desk, number)):
        raise LookupError(f"{email} is not a collaborator of ticket #{number.lstrip('#')}")

    def change(ticket: Ticket) -> None:
        ticket.collaborators = [c for c in ticket.collaborators if c.lower() != email]
        if email not in ticket.removed_collaborators:
            ticket.removed_collaborators.append(email)

    return _act(desk, number, change, lambda ticket: (None, None))[0]


def note(desk: Helpdesk, number: str, staff_email: str, text: str,
         request_id: str | None = None, markup: str | None = None) -> Entry:
    """An internal note: an entry of type `note` on the thread, seen by staff only. No mail,
    and the ticket row is not touched (the SLA clock and status stay as they are). With a
    `request_id`, a retry of the same request finds its marker row and writes nothing."""
    if not text.strip():
        raise ValidationError("a note needs some text")
    if utf16_len(text) > MAX_REPLY_CHARS:
        raise ValidationError(f"a note may be at most {MAX_REPLY_CHARS} characters, got {utf16_len(text)}")
    ticket = _ticket(desk, number)
    staff = _staff(desk, staff_email)
    key = f"note|{ticket.number}|{request_id or uuid.uuid4().hex}"
    now = _now()
    entry = Entry(
        ticket_number=ticket.number,
        entry_id=f"{now:%Y%m%dT%H%M%S%fZ}-{digest(key, 12)}",
        type="note",
        sender=Party(staff.name, staff.email),
        message_id="",  # never in a mail's References: notes are not mailed
        date=now,
        subject=clip_text(f"Note: {ticket.subject}", MAX_SUBJECT_CHARS)[0],
        body_text=text,
        body_html=_entry_html(text, markup),
    )
    marker = (f"{digest(key, 32)}@note.deskmail.invalid", {"kind": "note", "entry_id": entry.entry_id})
    result = desk.tickets.write(Unit(ticket=ticket, write_ticket=False, entry=entry, marker=marker))
    if result is UnitResult.ALREADY_STORED:
        row = desk.tickets.marker(ticket.number, marker[0]) or {}
        stored = [e for e in desk.tickets.entries(ticket.number) if e.entry_id == row.get("entry_id")]
        return stored[0] if stored else entry
    return entry


def assign(desk: Helpdesk, number: str, staff_email: str, by: str | None = None,
           request_id: str | None = None) -> Ticket:
    staff = _staff(desk, staff_email)
    actor = _actor(desk, by)

    notification_id = _notification_id(request_id, f"assign|{number.lstrip('#')}")

    def change(ticket: Ticket) -> None:
        ticket.assignee = staff.email

    def build(ticket: Ticket):
        return None, new_notification(
            "assignment_alert", ticket, {"role": "staff", "email": staff.email, "name": staff.name},
            event="ticket.assigned", actor=actor, notification_id=notification_id,
            extra=_message_id(desk, ticket, notification_id))

    return _act(desk, number, change, build)[0]


def transfer(desk: Helpdesk, number: str, department: str, by: str | None = None,
             request_id: str | None = None) -> Ticket:
    target = desk.directory.get_department(department)
    if target is None:
        raise LookupError(f"no department {department} (see `departments list`)")
    actor = _actor(desk, by)
    previous: list[str] = []

    notification_id = _notification_id(request_id, f"transfer|{number.lstrip('#')}")

    def change(ticket: Ticket) -> None:
        previous[:] = [ticket.department]
        ticket.department = target.name

    def build(ticket: Ticket):
        return None, new_notification(
            "transfer_alert", ticket, {"role": "department_alerts"}, event="ticket.transferred",
            actor=actor, notification_id=notification_id,
            extra={"previous_department": previous[0], **_message_id(desk, ticket, notification_id)})

    return _act(desk, number, change, build)[0]


def close(desk: Helpdesk, number: str, by: str | None = None,
          request_id: str | None = None) -> Ticket:
    actor = _actor(desk, by)
    ticket = _ticket(desk, number)
    notification_id = _notification_id(request_id, f"close|{ticket.number}")
    # a closed ticket may only be "closed again" by a retry of the request that closed it
    if ticket.status == Status.CLOSED and (
            not request_id or desk.tickets.notification_row(ticket.number, notification_id) is None):
        raise ValidationError(f"ticket #{ticket.number} is already closed")

    def change(ticket: Ticket) -> None:
        if ticket.status != Status.CLOSED:  # (a retried request finds it closed: just notify)
            ticket.status = Status.CLOSED
            ticket.closed_at = _now()

    def build(ticket: Ticket):
        return None, new_notification(
            "ticket_closed", ticket, {"role": "client"}, event="ticket.closed", actor=actor,
            notification_id=notification_id, extra=_message_id(desk, ticket, notification_id))

    return _act(desk, number, change, build)[0]


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
    notification_id = digest(f"overdue|{ticket.number}|{breach}", 32)

    def mark(fresh: Ticket) -> None:
        fresh.overdue_alerted_for = breach

    def build(fresh: Ticket):
        return None, new_notification(
            "overdue_alert", fresh, {"role": "assignee_and_manager"}, event="ticket.overdue",
            notification_id=notification_id,
            extra={"due": due.isoformat(), **_message_id(desk, fresh, notification_id)})

    return _act(desk, ticket.number, mark, build)[0]
