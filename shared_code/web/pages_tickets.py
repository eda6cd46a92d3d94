"""Ticket pages for staff: the list, the thread (`/tickets?number=N`) and its actions.

Each action calls services/actions.py as the CLI does, as the signed-in staff member, with the
form's one-time `request_id` (a double submit does the work once), then redirects back to the
thread with a message; a refused action re-renders the thread with the error (422).
"""
from __future__ import annotations

import re
import secrets
from typing import Union
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse

from ..domain.model import Status, ValidationError
from ..domain.staff_files import staff_file
from ..services import actions
from ..services.outbound_queue import held_notifications
from ..services.ticket_views import TicketQuery, acting_staff, find_tickets, get_thread, parse_number
from .auth import Principal
from .deps import get_desk, render, staff
from .mail_html import SANDBOX, size, srcdoc

router = APIRouter(include_in_schema=False)

DONE = {
    "reply": "Reply added; the mail to the client is queued.",
    "note": "Internal note added.",
    "assign": "Ticket assigned; the staff member is notified.",
    "transfer": "Ticket transferred; the department is notified.",
    "close": "Ticket closed; the client is notified.",
    "collaborator": "The collaborator was removed; they get no further mail.",
}
_REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


@router.get("/tickets.php")
def legacy_link(number: str = ""):
    """Links in mails sent with the old TICKET_URL_BASE default (`/tickets.php?number=N`)."""
    return RedirectResponse("/tickets?" + urlencode({"number": number}) if number else "/tickets",
                            status_code=301)


@router.get("/tickets")
def tickets(request: Request, number: str | None = None, status: str = "", department: str = "",
            assignee: str = "", q: str = "", page: int = Query(1, ge=1), done: str = "",
            principal: Principal = Depends(staff), desk=Depends(get_desk)):
    if number is not None:
        flashes = [("ok", DONE[done])] if done in DONE else []
        return _thread_page(request, desk, number, flashes)
    query = TicketQuery(status=status, department=department, assignee=assignee, q=q)
    found = find_tickets(desk, query, page)
    filters = {k: v for k, v in (("status", status), ("department", department),
                                 ("assignee", assignee), ("q", q)) if v}
    return render(request, "tickets.html", found=found, query=query, filters=filters,
                  statuses=[s.value for s in Status],
                  departments=desk.directory.list_departments(),
                  staff=[s for s in desk.directory.list_staff() if s.active],
                  page_url=lambda n: "/tickets?" + urlencode({**filters, "page": n}))


def _thread_page(request: Request, desk, number: str, flashes: list, status_code: int = 200,
                 form: dict | None = None):
    thread = get_thread(desk, number)
    return render(request, "ticket.html", status_code=status_code, flashes=flashes,
                  thread=thread, ticket=thread.ticket,
                  held=held_notifications(desk, thread.ticket.number), srcdoc=srcdoc, sandbox=SANDBOX, size=size,
                  request_id=secrets.token_urlsafe(16), form=form or {},
                  departments=desk.directory.list_departments(),
                  staff=[s for s in desk.directory.list_staff() if s.active])


def _act(request: Request, desk, number: str, action: str, run, form: dict):
    """Run one staff action; back to the thread with a message, or the thread with the error."""
    number = parse_number(number)
    get_thread(desk, number)  # an unknown ticket is a 404 page, not a form error
    try:
        run()
    except (ValidationError, LookupError) as error:
        message = str(error.args[0]) if error.args else str(error)
        return _thread_page(request, desk, number, [("error", message)], 422, form)
    return RedirectResponse(f"/tickets?number={number}&done={action}", status_code=303)


def _request_id(value: str) -> str | None:
    """The form's one-time token; an odd value is ignored (the action then runs once anyway)."""
    return value if _REQUEST_ID.match(value or "") else None


@router.post("/tickets/{number}/reply")
def reply(request: Request, number: str, text: str = Form(""), request_id: str = Form(""),
          files: list[Union[UploadFile, str]] = File(default=[]),
          principal: Principal = Depends(staff), desk=Depends(get_desk)):
    def run():
        # a browser sends an empty, nameless part (a string here) when no file was chosen
        chosen = [staff_file(f.filename, f.file.read(), f.content_type) for f in files
                  if not isinstance(f, str) and f.filename]
        actions.reply(desk, number, acting_staff(desk, principal.email, required=True), text,
                      request_id=_request_id(request_id), files=chosen)
    return _act(request, desk, number, "reply", run, {"reply": text})


@router.post("/tickets/{number}/note")
def note(request: Request, number: str, text: str = Form(""), request_id: str = Form(""),
         principal: Principal = Depends(staff), desk=Depends(get_desk)):
    def run():
        actions.note(desk, number, acting_staff(desk, principal.email, required=True), text,
                     request_id=_request_id(request_id))
    return _act(request, desk, number, "note", run, {"note": text})


@router.post("/tickets/{number}/assign")
def assign(request: Request, number: str, staff_email: str = Form("", alias="staff"),
           request_id: str = Form(""), principal: Principal = Depends(staff), desk=Depends(get_desk)):
    def run():
        actions.assign(desk, number, staff_email, by=acting_staff(desk, principal.email),
                       request_id=_request_id(request_id))
    return _act(request, desk, number, "assign", run, {})


@router.post("/tickets/{number}/transfer")
def transfer(request: Request, number: str, department: str = Form(""), request_id: str = Form(""),
             principal: Principal = Depends(staff), desk=Depends(get_desk)):
    def run():
        actions.transfer(desk, number, department, by=acting_staff(desk, principal.email),
                         request_id=_request_id(request_id))
    return _act(request, desk, number, "transfer", run, {})


@router.post("/tickets/{number}/close")
def close(request: Request, number: str, request_id: str = Form(""),
          principal: Principal = Depends(staff), desk=Depends(get_desk)):
    def run():
        actions.close(desk, number, by=acting_staff(desk, principal.email),
                      request_id=_request_id(request_id))
    return _act(request, desk, number, "close", run, {})


@router.post("/tickets/{number}/collaborators/remove")
def remove_collaborator(request: Request, number: str, address: str = Form(""),
                        principal: Principal = Depends(staff), desk=Depends(get_desk)):
    def run():
        actions.remove_collaborator(desk, number, address, by=acting_staff(desk, principal.email))
    return _act(request, desk, number, "collaborator", run, {})
