"""Admin → Emails: the accounts with Last Fetch and the stale warning; add, edit, remove.

The account page has three sections: Account (this module), Remote mailbox and Sending
(pages_mailbox.py, included below). Every change goes through services/accounts.py, as the
command line's does; a validation message is shown next to the field it names.
"""
from __future__ import annotations

from datetime import datetime, timezone

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from ..domain.model import AlreadyExists, ValidationError
from ..services.accounts import add_account, get_account, remove_account, update_account
from . import pages_mailbox
from .account_view import FLASHES, FORM_FIELDS, account_page, account_url, health_warning, when
from .auth import Principal
from .deps import admin, get_desk, render, web_settings

router = APIRouter(include_in_schema=False)
router.include_router(pages_mailbox.router)  # its /admin/emails/consent comes before /{address}

def _form_changes(name, purpose, department, priority, auto_response, fetch_enabled, folder,
                  batch_size, mark_as_read, collaborators_from_cc, collaborator_delivery) -> dict:
    return {"name": name, "purpose": purpose, "department": department, "priority": priority,
            "auto_response": auto_response, "fetch_enabled": fetch_enabled, "folder": folder,
            "batch_size": batch_size, "mark_as_read": mark_as_read,
            "collaborators_from_cc": collaborators_from_cc,
            "collaborator_delivery": collaborator_delivery}


def _refused(request, desk, account, error: ValidationError, values: dict):
    field = error.field if error.field in ("address", *FORM_FIELDS) else "form"
    return account_page(request, desk, account, status_code=409 if isinstance(
        error, AlreadyExists) else 422, values=values, errors={field: str(error)})


@router.get("/admin/emails")
def emails_page(request: Request, _principal: Principal = Depends(admin), desk=Depends(get_desk)):
    now = datetime.now(timezone.utc)
    stale_minutes = web_settings(request).fetch_stale_minutes
    rows = [{"account": account, "last_fetch": when(account.last_fetch),
             "stale": health_warning(account, now, stale_minutes), "url": account_url(account.address)}
            for account in desk.accounts.list()]
    flash = FLASHES.get(request.query_params.get("done", ""))
    return render(request, "emails.html", rows=rows, stale_minutes=stale_minutes,
                  flashes=[("ok", flash)] if flash else [])


@router.get("/admin/emails/new")
def new_account_form(request: Request, _principal: Principal = Depends(admin),
                     desk=Depends(get_desk)):
    return account_page(request, desk, None)


@router.post("/admin/emails/new")
def add_account_form(request: Request, _principal: Principal = Depends(admin),
                     desk=Depends(get_desk), address: str = Form(""), name: str = Form(""),
                     purpose: str = Form(""), department: str = Form(""),
                     priority: str = Form("normal"), auto_response: bool = Form(False),
                     fetch_enabled: bool = Form(False), folder: str = Form("Inbox"),
                     batch_size: str = Form("20"), mark_as_read: bool = Form(False),
                     collaborators_from_cc: bool = Form(False), collaborator_delivery: str = Form("cc")):
    changes = _form_changes(name, purpose, department, priority, auto_response, fetch_enabled,
                            folder, batch_size, mark_as_read, collaborators_from_cc,
                            collaborator_delivery)
    try:
        saved = add_account(desk, address, **changes)
    except ValidationError as error:
        return _refused(request, desk, None, error, {"address": address, **changes})
    return RedirectResponse(account_url(saved.account.address) + "?done=added", status_code=303)


@router.get("/admin/emails/{address}")
def account_form(address: str, request: Request, _principal: Principal = Depends(admin),
                 desk=Depends(get_desk)):
    return account_page(request, desk, get_account(desk, address))


@router.post("/admin/emails/{address}")
def save_account_form(address: str, request: Request, _principal: Principal = Depends(admin),
                      desk=Depends(get_desk), name: str = Form(""), purpose: str = Form(""),
                      department: str = Form(""), priority: str = Form("normal"),
                      auto_response: bool = Form(False), fetch_enabled: bool = Form(False),
                      folder: str = Form("Inbox"), batch_size: str = Form("20"),
                      mark_as_read: bool = Form(False), collaborators_from_cc: bool = Form(False),
                      collaborator_delivery: str = Form("cc")):
    account = get_account(desk, address)
    changes = _form_changes(name, purpose, department, priority, auto_response, fetch_enabled,
                            folder, batch_size, mark_as_read, collaborators_from_cc,
                            collaborator_delivery)
    try:
        update_account(desk, account.address, **changes)
    except ValidationError as error:
        return _refused(request, desk, account, error, {"address": account.address, **changes})
    return RedirectResponse(account_url(account.address) + "?done=saved", status_code=303)


@router.post("/admin/emails/{address}/remove")
def remove_account_form(address: str, _principal: Principal = Depends(admin),
                        desk=Depends(get_desk)):
    remove_account(desk, address)
    return RedirectResponse("/admin/emails?done=removed", status_code=303)
