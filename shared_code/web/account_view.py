"""What the account pages show: Last Fetch, the stale warning, form values, and the page
itself (shared by pages_emails.py and pages_mailbox.py). Presentation only: the rules are
domain/fetch_health.py and services/accounts.py."""
from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import quote

from fastapi import Request

from ..domain.fetch_health import FetchState, fetch_health
from ..domain.model import EmailAccount
from ..services.accounts import DELIVERIES, PRIORITIES, PURPOSES, replies_lost_warning
from ..services.subscriptions import push_status
from .consent import redirect_uri
from .deps import render, web_settings

FORM_FIELDS = ("name", "purpose", "department", "priority", "auto_response", "fetch_enabled",
               "folder", "batch_size", "mark_as_read", "collaborators_from_cc",
               "collaborator_delivery")
NEW_ACCOUNT = {"address": "", "name": "", "purpose": "department", "department": "",
               "priority": "normal", "auto_response": True, "fetch_enabled": True,
               "folder": "Inbox", "batch_size": "20", "mark_as_read": True,
               "collaborators_from_cc": True, "collaborator_delivery": "cc"}
FLASHES = {"added": "The email account was added.", "saved": "The account was saved.",
           "removed": "The email account was removed.",
           "remote": "The remote mailbox settings were saved."}


def when(value: datetime | None) -> str:
    """A readable UTC time, or "never"."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if value else "never"


def _minutes(value: float) -> str:
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def health_warning(account: EmailAccount, now: datetime, stale_minutes: float) -> str:
    """The stale or failing warning of the Emails page ("" while fetching is healthy or off)."""
    health = fetch_health(account, now, stale_minutes)
    if health.state is FetchState.FAILING:
        return (f"failing: the last {account.consecutive_failures} fetches failed" +
                (f"; no successful fetch for {_minutes(health.minutes_behind)} min"
                 if health.minutes_behind is not None else ""))
    if health.state is FetchState.STALE:
        if health.minutes_behind is None or account.last_fetch is None:
            return "stale: never fetched" + (f" (added {_minutes(health.minutes_behind)} min ago)"
                                             if health.minutes_behind is not None else "")
        return f"stale: no successful fetch for {_minutes(health.minutes_behind)} min"
    return ""


def push_view(desk, account: EmailAccount) -> dict:
    """`push_status` with readable times (the Push notifications section)."""
    status = push_status(desk, account)
    return {**status, "state": status["state"].value, "expires": when(status["expires"]),
            "last_notification": when(status["last_notification"]),
            "last_sync": when(status["last_sync"])}


def account_values(account: EmailAccount) -> dict:
    return {"address": account.address, "name": account.name, "purpose": account.purpose.value,
            "department": account.department, "priority": account.priority.value,
            "auto_response": account.auto_response, "fetch_enabled": account.fetch_enabled,
            "folder": account.folder, "batch_size": str(account.batch_size),
            "mark_as_read": account.mark_as_read,
            "collaborators_from_cc": account.collaborators_from_cc,
            "collaborator_delivery": account.collaborator_delivery.value}


def account_url(address: str, section: str = "") -> str:
    return f"/admin/emails/{quote(address, safe='@')}" + (f"#{section}" if section else "")


def account_page(request: Request, desk, account: EmailAccount | None, status_code: int = 200,
                 values: dict | None = None, errors: dict | None = None, **extra):
    """The add form (account None) or an account's page with its three sections."""
    settings = web_settings(request)
    context = dict(account=account, values=values or (account_values(account) if account
                                                      else dict(NEW_ACCOUNT)),
                   errors=errors or {}, purposes=PURPOSES, priorities=PRIORITIES, deliveries=DELIVERIES,
                   remote_values={}, remote_errors={}, access=None, consent=None,
                   fetch_result=None, send_result=None, send_to="", push_result=None)
    if account is not None:
        now = datetime.now(timezone.utc)
        context.update(last_fetch=when(account.last_fetch),
                       last_error_time=when(account.last_error_time),
                       stale=health_warning(account, now, settings.fetch_stale_minutes),
                       warning=replies_lost_warning(desk, account),
                       redirect_uri=redirect_uri(str(request.base_url)),
                       secrets_writable=desk.secrets.writable, push=push_view(desk, account),
                       remote_values={"tenant_id": account.tenant_id,
                                      "client_id": account.client_id})
    flash = FLASHES.get(request.query_params.get("done", ""))
    context["flashes"] = [("ok", flash)] if flash else []
    context.update(extra)
    return render(request, "account.html", status_code=status_code, **context)
