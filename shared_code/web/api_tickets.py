"""`/api/v1/tickets`: the ticket list, one ticket with its thread, and the staff actions.

The thread has the shape of `tickets show --json` (services/ticket_views.py builds both).
Actions call services/actions.py as the CLI and the pages do, as the signed-in staff member;
an `Idempotency-Key` header becomes the action's request id, so a retried POST does the work
once. Errors are `{"error": message, "field": name}`: 422 for bad input, 404 for an unknown
ticket, 403 for a missing CSRF token (browser sessions) or role.
"""
from __future__ import annotations

import base64
import binascii
from contextlib import contextmanager
from typing import Annotated, Optional

from fastapi import APIRouter, Depends, Header, Query
from pydantic import BaseModel, ConfigDict, Field

from ..domain.limits import MAX_REPLY_CHARS
from ..domain.model import ValidationError
from ..domain.staff_files import MAX_RESPONSE_FILES, StaffFile, check_files, staff_file
from ..services import actions
from ..services.outbound_queue import held_notifications
from ..services.ticket_views import (
    FieldError, TicketQuery, acting_staff, display_entries, entry_json, find_tickets, get_thread,
    parse_number, thread_json, ticket_json,
)
from .auth import Principal
from .deps import get_desk, staff

router = APIRouter(prefix="/api/v1/tickets", tags=["tickets"])
ERRORS = {401: {"description": "not signed in"}, 403: {"description": "no staff role, or no CSRF token"},
          404: {"description": "no such ticket"}, 422: {"description": "bad input; `field` names it"}}


# times as the CLI prints them (datetime.isoformat(), e.g. 2026-05-04T10:00:00+00:00)
When = Annotated[str, Field(description="ISO 8601 date and time, UTC")]


class PartyOut(BaseModel):
    name: str
    email: str


class SlaOut(BaseModel):
    state: str = Field(description="closed, answered, running or overdue")
    due: Optional[When]
    answered_at: Optional[When]
    text: str


class AttachmentOut(BaseModel):
    name: str
    content_type: str
    size: int
    inline: bool
    sha256: str
    url: str = Field(description="where the app serves it: /attachments/<sha256>/<name>, relative to the app")


class EntryOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    entry_id: str
    type: str = Field(description="message, response or note")
    sender: PartyOut = Field(alias="from")
    message_id: str
    date: Optional[When]
    subject: str
    body_text: str
    body_html: str = Field(description="sanitized; img sources are /attachments/... URLs")
    attachments: list[AttachmentOut]
    rejected_attachments: list[str]
    defects: list[str]
    clipped: list[str]


class TicketOut(BaseModel):
    number: str
    subject: str
    status: str
    priority: str
    department: str
    client: PartyOut
    created: Optional[When]
    account: str
    collaborators: list[str]
    last_message: Optional[When]
    message_count: int
    assignee: str
    tags: list[str] = Field(default_factory=list, description="set by the admins' filters")
    related_ticket: str = Field(default="", description="the old closed ticket this one follows "
                                "up (a reply after REOPEN_WINDOW_DAYS with a new subject)")
    sla: Optional[SlaOut] = None


class HeldOut(BaseModel):
    id: str
    template: str
    recipients: str
    reason: str = Field(description="why it is held: the undeliverable address and its bounce")


class TicketDetail(TicketOut):
    entries: list[EntryOut]
    held_notifications: list[HeldOut] = Field(
        default_factory=list, description="notifications held for an undeliverable recipient "
                                          "until `clients clear-bounce`")


class TicketList(BaseModel):
    items: list[TicketOut]
    total: int
    page: int
    pages: int
    next: Optional[int] = Field(description="the next page's number, null on the last page")


class TextIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_REPLY_CHARS, description="the plain text (required)")
    html: Optional[str] = Field(None, max_length=MAX_REPLY_CHARS * 4, description=(
        "optional HTML for the thread view, sanitized as inbound mail is; the client's mail "
        "is rendered from `text` by the Response template"))


class FileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255, description="the file name the client sees")
    content_type: Optional[str] = Field(None, max_length=255, description="guessed from the name when absent")
    content_base64: str = Field(min_length=1, description="the file's bytes, base64")


class ReplyIn(TextIn):
    attachments: list[FileIn] = Field(default_factory=list, max_length=MAX_RESPONSE_FILES, description=(
        "files sent with the response and kept on the thread (content-addressed in Blob); a mail "
        "over Graph's 4 MB request limit goes through a draft and upload sessions"))


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    staff: str = Field(min_length=1, max_length=254, description="an active staff member's address")


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    department: str = Field(min_length=1, max_length=200)


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")


IdempotencyKey = Header(None, alias="Idempotency-Key", max_length=200,
                        description="retrying a POST with the same key does the work once")


@contextmanager
def _about(field: str, lookups_too: bool = False):
    """Service refusals, reported as being about `field` (422)."""
    try:
        yield
    except FieldError:
        raise
    except ValidationError as error:
        raise FieldError(str(error), field) from None
    except LookupError as error:
        if not lookups_too:
            raise
        raise FieldError(str(error.args[0]) if error.args else str(error), field) from None


def _file(item: FileIn) -> StaffFile:
    try:
        data = base64.b64decode(item.content_base64, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError(f"attachments: {item.name} is not valid base64") from None
    return staff_file(item.name, data, item.content_type)


def _number(desk, number: str) -> str:
    """The ticket number, checked to exist (404) before an action reports field errors."""
    number = parse_number(number)
    if desk.tickets.get(number) is None:
        raise LookupError(f"no ticket #{number}")
    return number


@router.get("", response_model=TicketList, responses=ERRORS)
def list_tickets(status: str = Query("", description="open or closed"), department: str = "",
                 assignee: str = "", q: str = Query("", description="number, subject or client address"),
                 page: int = Query(1, ge=1, le=100000), _principal: Principal = Depends(staff),
                 desk=Depends(get_desk)):
    """Tickets, newest first, 25 a page."""
    with _about("status"):
        found = find_tickets(desk, TicketQuery(status, department, assignee, q), page)
    return {"items": [ticket_json(t, clock=found.clocks[t.number]) for t in found.tickets],
            "total": found.total, "page": found.page, "pages": found.pages, "next": found.next}


@router.get("/{number}", response_model=TicketDetail, responses=ERRORS)
def get_ticket(number: str, _principal: Principal = Depends(staff), desk=Depends(get_desk)):
    """One ticket with its thread (the shape of `tickets show --json`)."""
    thread = get_thread(desk, number)
    return {**thread_json(thread), "held_notifications": held_notifications(desk, thread.ticket.number)}


@router.post("/{number}/reply", response_model=EntryOut, status_code=201, responses=ERRORS)
def reply(number: str, body: ReplyIn, idempotency_key: Optional[str] = IdempotencyKey,
          principal: Principal = Depends(staff), desk=Depends(get_desk)):
    """Answer the client: a response on the thread and the Response/Reply mail."""
    number = _number(desk, number)
    author = acting_staff(desk, principal.email, required=True)
    with _about("attachments"):
        files = [_file(item) for item in body.attachments]
        check_files(files)
    with _about("text"):
        entry = actions.reply(desk, number, author, body.text, request_id=idempotency_key, markup=body.html,
                              files=files)
    return entry_json(display_entries([entry])[0])


@router.post("/{number}/note", response_model=EntryOut, status_code=201, responses=ERRORS)
def note(number: str, body: TextIn, idempotency_key: Optional[str] = IdempotencyKey,
         principal: Principal = Depends(staff), desk=Depends(get_desk)):
    """An internal note: on the thread for staff, never mailed."""
    number = _number(desk, number)
    author = acting_staff(desk, principal.email, required=True)
    with _about("text"):
        entry = actions.note(desk, number, author, body.text, request_id=idempotency_key, markup=body.html)
    return entry_json(display_entries([entry])[0])


@router.post("/{number}/assign", response_model=TicketOut, responses=ERRORS)
def assign(number: str, body: AssignIn, idempotency_key: Optional[str] = IdempotencyKey,
           principal: Principal = Depends(staff), desk=Depends(get_desk)):
    """Assign to an active staff member (Ticket Assignment Alert to them)."""
    number = _number(desk, number)
    with _about("staff"):
        ticket = actions.assign(desk, number, body.staff, by=acting_staff(desk, principal.email),
                                request_id=idempotency_key)
    return ticket_json(ticket)


@router.post("/{number}/transfer", response_model=TicketOut, responses=ERRORS)
def transfer(number: str, body: TransferIn, idempotency_key: Optional[str] = IdempotencyKey,
             principal: Principal = Depends(staff), desk=Depends(get_desk)):
    """Move to another department (Ticket Transfer Alert)."""
    number = _number(desk, number)
    with _about("department", lookups_too=True):
        ticket = actions.transfer(desk, number, body.department, by=acting_staff(desk, principal.email),
                                  request_id=idempotency_key)
    return ticket_json(ticket)


@router.post("/{number}/close", response_model=TicketOut, responses=ERRORS)
def close(number: str, body: CloseIn | None = None, idempotency_key: Optional[str] = IdempotencyKey,
          principal: Principal = Depends(staff), desk=Depends(get_desk)):
    """Close (Ticket Closed mail to the client); closing a closed ticket is refused."""
    number = _number(desk, number)
    with _about("status"):
        ticket = actions.close(desk, number, by=acting_staff(desk, principal.email),
                               request_id=idempotency_key)
    return ticket_json(ticket)


@router.delete("/{number}/collaborators/{address}", response_model=TicketOut, responses=ERRORS)
def remove_collaborator(number: str, address: str, principal: Principal = Depends(staff),
                        desk=Depends(get_desk)):
    """Take a collaborator off the ticket: no further response reaches them."""
    number = _number(desk, number)
    with _about("address", lookups_too=True):
        ticket = actions.remove_collaborator(desk, number, address,
                                             by=acting_staff(desk, principal.email))
    return ticket_json(ticket)
