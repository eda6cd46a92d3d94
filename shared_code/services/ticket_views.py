"""Tickets as every reader shows them: the CLI (`tickets list|show`), the web pages and the
JSON API read tickets through these functions, so they show the same thread in one shape.

`display_entries` is the one place that turns stored attachment references (and the absolute
URLs of tickets stored by the earlier code) into the URLs the web app serves them at.

Listing reads every ticket row (`TicketStore.list`, one query over the `t` rows) and filters
and pages in memory: fine for tens of thousands of tickets; beyond that a status/department
index table is the next step (docs/web.md → Tickets).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ..domain.attachment_refs import attachment_path, display_html
from ..domain.model import Entry, Status, Ticket, ValidationError, parse_enum
from ..domain.sla import SlaClock, sla_clock, sla_hours

if TYPE_CHECKING:
    from .helpdesk import Helpdesk

PAGE_SIZE = 25
_NUMBER = re.compile(r"^\s*#?\s*(\d{1,12})\s*$")


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


class FieldError(ValidationError):
    """A ValidationError that names the input field it is about (the web shows it there)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def parse_number(text: str, field: str = "number") -> str:
    """A ticket number as people write it: `108749` or `#108749`."""
    match = _NUMBER.match(text or "")
    if not match:
        raise FieldError(f"{field}: not a ticket number: {text!r}", field)
    return match.group(1)


def sla_clocks(desk: "Helpdesk", tickets: list[Ticket], now: datetime | None = None) -> dict[str, SlaClock]:
    """Each ticket's SLA clock now, by number (answered and waiting on the client, or due when)."""
    departments = {d.name.lower(): d for d in desk.directory.list_departments()}
    now = now or datetime.now(timezone.utc)
    return {t.number: sla_clock(t, sla_hours(departments.get(t.department.lower())), now)
            for t in tickets}


def display_entries(entries: list[Entry]) -> list[Entry]:
    """Copies of the entries as a viewer shows them: img sources and attachment URLs are
    `/attachments/<sha256>/<name>` whether stored as references or as old absolute URLs."""
    return [replace(e, body_html=display_html(e.body_html),
                    attachments=[replace(a, url=attachment_path(a.sha256, a.name)) for a in e.attachments])
            for e in entries]


@dataclass(frozen=True)
class Thread:
    ticket: Ticket
    entries: list[Entry]  # display_entries: ready to show
    clock: SlaClock


def get_thread(desk: "Helpdesk", number: str) -> Thread:
    """A ticket with its thread and SLA clock; LookupError when there is no such ticket."""
    number = parse_number(number)
    ticket = desk.tickets.get(number)
    if ticket is None:
        raise LookupError(f"no ticket #{number}")
    entries = display_entries(desk.tickets.entries(number))
    return Thread(ticket, entries, sla_clocks(desk, [ticket])[number])


# --- listing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketQuery:
    """Filters of the ticket list; empty means any. `q` matches the number, the subject or
    the client's address (case-insensitive substring)."""

    status: str = ""
    department: str = ""
    assignee: str = ""
    q: str = ""

    def matches(self, ticket: Ticket) -> bool:
        if self.status and ticket.status.value != self.status:
            return False
        if self.department and ticket.department.lower() != self.department.lower():
            return False
        if self.assignee and ticket.assignee.lower() != self.assignee.lower():
            return False
        text = self.q.strip().lstrip("#").lower()
        return not text or text in ticket.number or text in ticket.subject.lower() \
            or text in ticket.client.email.lower() or text in ticket.client.name.lower()


@dataclass(frozen=True)
class TicketPage:
    tickets: list[Ticket]
    clocks: dict[str, SlaClock]
    total: int
    page: int
    pages: int

    @property
    def next(self) -> int | None:
        return self.page + 1 if self.page < self.pages else None


def find_tickets(desk: "Helpdesk", query: TicketQuery, page: int = 1, size: int = PAGE_SIZE) -> TicketPage:
    """One page of the tickets matching `query`, newest first."""
    if query.status:
        parse_enum(Status, query.status, "status")
    if page < 1:
        raise FieldError("page: must be 1 or more", "page")
    found = [t for t in desk.tickets.list() if query.matches(t)]
    pages = max(1, math.ceil(len(found) / size))
    shown = found[(page - 1) * size: page * size]
    return TicketPage(shown, sla_clocks(desk, shown), len(found), page, pages)


# --- JSON (the CLI's --json and the API) ---------------------------------------------------------


def sla_json(ticket: Ticket, clock: SlaClock) -> dict:
    return {"state": clock.state.value, "due": iso(clock.due),
            "answered_at": iso(ticket.answered_at), "text": clock.describe()}


def entry_json(e: Entry) -> dict:
    """One thread entry; pass entries through display_entries first (URLs, not references)."""
    return {
        "entry_id": e.entry_id, "type": e.type,
        "from": {"name": e.sender.name, "email": e.sender.email},
        "message_id": e.message_id, "date": iso(e.date), "subject": e.subject,
        "body_text": e.body_text, "body_html": e.body_html,
        "attachments": [{"name": a.name, "content_type": a.content_type, "size": a.size,
                         "inline": a.inline, "sha256": a.sha256, "url": a.url} for a in e.attachments],
        "rejected_attachments": e.rejected_attachments,
        "defects": e.defects, "clipped": e.clipped,
    }


def ticket_json(ticket: Ticket, entries: list[Entry] | None = None, clock: SlaClock | None = None) -> dict:
    data = {
        "number": ticket.number, "subject": ticket.subject, "status": ticket.status.value,
        "priority": ticket.priority.value, "department": ticket.department,
        "client": {"name": ticket.client.name, "email": ticket.client.email},
        "created": iso(ticket.created), "account": ticket.account,
        "collaborators": ticket.collaborators, "last_message": iso(ticket.last_message_at),
        "message_count": ticket.message_count, "assignee": ticket.assignee, "tags": ticket.tags,
        "related_ticket": ticket.related_ticket,  # the old closed ticket this one follows up
    }
    if clock is not None:
        data["sla"] = sla_json(ticket, clock)
    if entries is not None:
        data["entries"] = [entry_json(e) for e in entries]
    return data


def thread_json(thread: Thread) -> dict:
    return ticket_json(thread.ticket, thread.entries, thread.clock)


def acting_staff(desk: "Helpdesk", email: str, required: bool = False) -> str | None:
    """The signed-in user as the staff member acting: their address when they are an active
    member of the staff directory; else None (an assign or close by an admin who is not in
    it is recorded without an actor) or, when `required` (reply, note), a clear error."""
    member = desk.directory.get_staff(email)
    if member is not None and member.active:
        return member.email
    if required:
        raise FieldError(f"you ({email}) are not an active member of the staff directory, so you "
                         "cannot write on a ticket: an admin can add you under Admin → Staff", "staff")
    return None
