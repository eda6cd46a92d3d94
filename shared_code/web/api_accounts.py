"""`/api/v1/accounts`: the email accounts as JSON (admin), the same operations as the pages
and the command line. The account JSON is `account_json` (never the secret); a PUT may carry
`client_secret`, which is written to Key Vault and never returned. Errors are
`{"error": ..., "field": ...}`: 422 for validation, 409 for a duplicate address, 404 for an
unknown account. Test fetch, verify and test-send report their outcome with 200.
`/{address}/push` is the account's push ingestion (Graph subscription: id, expiry, last
notification, last renewal and its error; never clientState); POST `/{address}/push/resubscribe`
replaces the subscription (422 when push is off for the account).
"""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ..adapters.secret_store import SecretWriteFailed
from ..services.accounts import account_json, add_account, get_account, remove_account
from ..services.fetch import fetch_account
from ..services.mailbox_access import update_with_remote, verify_access
from ..services.subscriptions import push_status, resubscribe
from .auth import Principal
from .deps import admin, get_desk
from .pages_mailbox import test_send_result

router = APIRouter(prefix="/api/v1/accounts", tags=["accounts"])

PurposeName = Literal["system", "department", "alert", "auto-response"]
PriorityName = Literal["low", "normal", "high", "emergency"]


class Account(BaseModel):
    address: str
    name: str
    purpose: PurposeName
    department: str
    priority: PriorityName
    auto_response: bool
    fetch_enabled: bool
    folder: str
    batch_size: int
    mark_as_read: bool
    tenant_id: str
    client_id: str
    client_secret_name: str = Field(description="the Key Vault name of the client secret")
    collaborators_from_cc: bool = True
    collaborator_delivery: Literal["cc", "separate"] = "cc"
    created: str | None
    last_fetch: str | None
    last_error: str
    last_error_time: str | None
    consecutive_failures: int


class AccountSaved(Account):
    warning: str = Field("", description="e.g. clients' answers would be lost (not fetched)")


class AccountFields(BaseModel):
    """Fields to set; absent ones stay as they are (or take their defaults)."""

    name: str | None = None
    purpose: PurposeName | None = None
    department: str | None = None
    priority: PriorityName | None = None
    auto_response: bool | None = None
    fetch_enabled: bool | None = None
    folder: str | None = None
    batch_size: int | None = Field(None, ge=1, le=1000)
    mark_as_read: bool | None = None
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret_name: str | None = Field(
        None, description="an existing secret's name (locally: its environment variable)")
    collaborators_from_cc: bool | None = None
    collaborator_delivery: Literal["cc", "separate"] | None = None


class AccountChanges(AccountFields):
    client_secret: str | None = Field(
        None, description="write-only: saved to Key Vault (needs KEY_VAULT_URL), never returned")


class NewAccount(AccountFields):
    address: str
    name: str
    purpose: PurposeName
    department: str


class FetchResult(BaseModel):
    address: str
    fetched: int
    created: int
    threaded: int
    discarded: int
    duplicates: int
    ignored: int
    quarantined: int
    errors: list[str]
    skipped: str
    last_fetch: str | None


class AccessCheck(BaseModel):
    name: str
    title: str
    ok: bool | None
    detail: str
    fix: str


class AccessReport(BaseModel):
    address: str
    ok: bool
    checks: list[AccessCheck]


class TestSend(BaseModel):
    to: str = Field(description="who receives the test message")


class TestSendResult(BaseModel):
    ok: bool
    message_id: str | None = None
    code: str | None = None
    error: str | None = None


class PushStatus(BaseModel):
    state: Literal["off", "active", "missing"] = Field(
        description="off: no GRAPH_NOTIFICATION_URL or not fetching; missing: no live subscription")
    subscription_id: str | None
    expires: datetime | None
    last_notification: datetime | None = Field(description="the last one that queued a fetch")
    last_sync: datetime | None = Field(description="the last create or renewal attempt")
    last_error: str


class Resubscribed(BaseModel):
    ok: bool
    created: list[str]
    errors: list[str]
    push: PushStatus


_REMOTE = ("tenant_id", "client_id", "client_secret", "client_secret_name")


def _secret_failure(error: SecretWriteFailed) -> JSONResponse:
    return JSONResponse({"error": str(error), "field": "client_secret"}, status_code=502)


@router.get("", response_model=list[Account])
def list_accounts(_principal: Principal = Depends(admin), desk=Depends(get_desk)):
    return [account_json(account) for account in desk.accounts.list()]


@router.post("", response_model=AccountSaved, status_code=201,
             responses={409: {"description": "an account with this address exists"}})
def create_account(body: NewAccount, _principal: Principal = Depends(admin),
                   desk=Depends(get_desk)):
    """A new account; its client secret is set afterwards with PUT (`client_secret`)."""
    saved = add_account(desk, body.address, **body.model_dump(exclude={"address"}))
    return {**account_json(saved.account), "warning": saved.warning}


@router.get("/{address}", response_model=Account)
def read_account(address: str, _principal: Principal = Depends(admin), desk=Depends(get_desk)):
    return account_json(get_account(desk, address))


@router.put("/{address}", response_model=AccountSaved)
def change_account(address: str, body: AccountChanges, _principal: Principal = Depends(admin),
                   desk=Depends(get_desk)):
    account = get_account(desk, address)
    changes = body.model_dump(exclude=set(_REMOTE))
    remote = body.model_dump(include=set(_REMOTE), exclude_none=True)
    try:
        saved = update_with_remote(desk, account.address, changes,
                                   _remote_args(account, remote) if remote else None)
    except SecretWriteFailed as error:
        return _secret_failure(error)
    return {**account_json(saved.account), "warning": saved.warning}


def _remote_args(account, remote: dict) -> dict:
    """Absent remote fields keep the account's values."""
    return {"tenant_id": remote.get("tenant_id", account.tenant_id),
            "client_id": remote.get("client_id", account.client_id),
            "client_secret": remote.get("client_secret", ""),
            "client_secret_name": remote.get("client_secret_name")}


@router.delete("/{address}", status_code=204, response_class=Response)
def delete_account(address: str, _principal: Principal = Depends(admin), desk=Depends(get_desk)):
    remove_account(desk, address)
    return Response(status_code=204)


@router.post("/{address}/test-fetch", response_model=FetchResult)
def api_test_fetch(address: str, _principal: Principal = Depends(admin), desk=Depends(get_desk)):
    """Fetch the account now; the counts, and its Last Fetch afterwards."""
    account = get_account(desk, address)
    summary = fetch_account(desk, account.address)
    after = account_json(get_account(desk, account.address))
    return {**summary.as_dict(), "last_fetch": after["last_fetch"]}


@router.post("/{address}/verify", response_model=AccessReport)
def api_verify(address: str, _principal: Principal = Depends(admin), desk=Depends(get_desk)):
    """Secret, token, the token's Graph roles against the account's needs, folder listing."""
    return verify_access(desk, get_account(desk, address).address).as_dict()


@router.post("/{address}/test-send", response_model=TestSendResult)
def api_test_send(address: str, body: TestSend, _principal: Principal = Depends(admin),
                  desk=Depends(get_desk)):
    """Send a test message from the account: its Message-ID, or Graph's error code and message."""
    return test_send_result(desk, get_account(desk, address).address, body.to)


@router.get("/{address}/push", response_model=PushStatus)
def api_push_status(address: str, _principal: Principal = Depends(admin), desk=Depends(get_desk)):
    return push_status(desk, get_account(desk, address))


@router.post("/{address}/push/resubscribe", response_model=Resubscribed)
def api_resubscribe(address: str, _principal: Principal = Depends(admin), desk=Depends(get_desk)):
    """A fresh subscription; Graph's refusal is reported with 200 (`ok` false, `errors`)."""
    account = get_account(desk, address)
    report = resubscribe(desk, account.address)
    return {**report.outcome(), "push": push_status(desk, account)}
