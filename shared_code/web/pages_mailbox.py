"""An account's Remote mailbox and Sending sections: app registration and secret, Authorize
(admin consent, then the access checks), Verify access, Test fetch, Re-subscribe (push
notifications), Send test email.

Each action calls the service the command line uses (services/mailbox_access.py,
services/fetch.py `fetch_account`, services/send.py `send_test_mail`) and shows its outcome on
the account page; a failure of Graph or the identity platform is shown, never a 500.
"""
from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from ..adapters.graph import GraphError
from ..adapters.secret_store import SecretNotFound, SecretWriteFailed
from ..domain.model import ValidationError
from ..services.accounts import get_account
from ..services.fetch import fetch_account
from ..services.mailbox_access import consent_url, save_remote_mailbox, verify_access
from ..services.send import send_test_mail
from ..services.subscriptions import resubscribe
from .account_view import account_page, account_url, when
from .auth import Principal
from .consent import BadState, make_state, read_state, redirect_uri
from .deps import admin, get_desk, render, web_settings

router = APIRouter(include_in_schema=False)
REMOTE_FIELDS = ("tenant_id", "client_id", "client_secret", "client_secret_name")


@router.get("/admin/emails/consent")
def consent_callback(request: Request, principal: Principal = Depends(admin),
                     desk=Depends(get_desk), state: str = "", admin_consent: str = "",
                     tenant: str = "", error: str = "", error_description: str = ""):
    """Where Entra sends the administrator back after admin consent (the redirect URI)."""
    try:
        address = read_state(web_settings(request), principal, state)
    except BadState as bad:
        return render(request, "error.html", status_code=400, status=400,
                      message=f"{bad}. Nothing was changed.")
    account = get_account(desk, address)
    if error or admin_consent.lower() != "true":
        consent = {"ok": False, "error": error or "no_consent",
                   "description": error_description or "the answer did not say consent was granted"}
        return account_page(request, desk, account, consent=consent)
    consent = {"ok": True, "tenant": tenant,
               "other_tenant": bool(tenant) and tenant.lower() != account.tenant_id.lower()}
    return account_page(request, desk, account, consent=consent, access=verify_access(desk, address))


@router.post("/admin/emails/{address}/remote")
def save_remote(address: str, request: Request, _principal: Principal = Depends(admin),
                desk=Depends(get_desk), tenant_id: str = Form(""), client_id: str = Form(""),
                client_secret: str = Form(""), client_secret_name: str | None = Form(None)):
    account = get_account(desk, address)
    values = {"tenant_id": tenant_id, "client_id": client_id,
              "client_secret_name": client_secret_name}  # never the secret
    try:
        save_remote_mailbox(desk, account.address, tenant_id, client_id, client_secret,
                            client_secret_name)
    except ValidationError as refused:
        field = refused.field if refused.field in REMOTE_FIELDS else "client_secret"
        return account_page(request, desk, account, status_code=422, remote_values=values,
                            remote_errors={field: str(refused)})
    except SecretWriteFailed as failed:
        return account_page(request, desk, account, status_code=502, remote_values=values,
                            remote_errors={"client_secret": str(failed)})
    return RedirectResponse(account_url(account.address) + "?done=remote#remote", status_code=303)


@router.post("/admin/emails/{address}/authorize")
def authorize(address: str, request: Request, principal: Principal = Depends(admin),
              desk=Depends(get_desk)):
    """Send the administrator to Microsoft Entra admin consent for the account's app."""
    account = get_account(desk, address)
    state = make_state(web_settings(request), principal, account.address)
    try:
        target = consent_url(desk, account, redirect_uri(str(request.base_url)), state)
    except ValidationError as refused:
        return account_page(request, desk, account, status_code=422,
                            remote_errors={refused.field or "tenant_id": str(refused)})
    return RedirectResponse(target, status_code=303)


@router.post("/admin/emails/{address}/verify")
def verify(address: str, request: Request, _principal: Principal = Depends(admin),
           desk=Depends(get_desk)):
    account = get_account(desk, address)
    return account_page(request, desk, account, access=verify_access(desk, account.address))


@router.post("/admin/emails/{address}/test-fetch")
def test_fetch(address: str, request: Request, _principal: Principal = Depends(admin),
               desk=Depends(get_desk)):
    """Fetch the account now (the timer's work for one account) and show the counts."""
    account = get_account(desk, address)
    summary = fetch_account(desk, account.address)
    account = get_account(desk, account.address)
    result = {**summary.as_dict(), "last_fetch": when(account.last_fetch)}
    return account_page(request, desk, account, fetch_result=result)


@router.post("/admin/emails/{address}/resubscribe")
def resubscribe_form(address: str, request: Request, _principal: Principal = Depends(admin),
                     desk=Depends(get_desk)):
    """Drop the account's Graph subscription and create a fresh one; its outcome is shown
    (Graph's refusal too: 200 with the error, as Test fetch; push off is a 422)."""
    account = get_account(desk, address)
    try:
        report = resubscribe(desk, account.address)
    except ValidationError as refused:
        return account_page(request, desk, account, status_code=422,
                            push_result={"ok": False, "errors": [str(refused)]})
    return account_page(request, desk, account, push_result=report.outcome())


@router.post("/admin/emails/{address}/test-send")
def test_send(address: str, request: Request, _principal: Principal = Depends(admin),
              desk=Depends(get_desk), to: str = Form("")):
    """The guide's "Send a test email to verify": success with the Message-ID, or Graph's error
    (a test's outcome, so 200 either way; a bad address is a 422 field error)."""
    account = get_account(desk, address)
    try:
        result, status = test_send_result(desk, account.address, to), 200
    except ValidationError as refused:
        result, status = {"ok": False, "field": refused.field or "to", "error": str(refused)}, 422
    return account_page(request, desk, account, status_code=status, send_result=result,
                        send_to=to)


def test_send_result(desk, address: str, to: str) -> dict:
    """`send_test_mail` as a result: the Message-ID, or the Graph (or secret) error."""
    try:
        return {"ok": True, "message_id": send_test_mail(desk, address, to)}
    except GraphError as failed:
        return {"ok": False, "code": failed.code, "error": failed.message}
    except SecretNotFound as missing:
        return {"ok": False, "code": "SecretNotFound", "error": str(missing)}
