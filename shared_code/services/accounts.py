"""Email accounts (the guide's Admin → Emails): add, change, remove, and their JSON shape.

The one place both the command line (`emails add|update|remove|show|list`) and the web
(`/admin/emails`, `/api/v1/accounts`) change accounts, so a rule holds the same in both.
Validation errors name the field they are about (`ValidationError.field`); a duplicate
address is `AlreadyExists` (field "address").
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from ..domain.model import CollaboratorDelivery, EmailAccount, Priority, Purpose, ValidationError
from ..domain.routing import client_mail_unanswerable
from .helpdesk import Helpdesk

log = logging.getLogger("deskmail.accounts")

#: What an admin may set on an account (the address is its key and never changes).
ACCOUNT_FIELDS = ("name", "purpose", "department", "priority", "auto_response", "fetch_enabled",
                  "folder", "batch_size", "mark_as_read", "tenant_id", "client_id",
                  "client_secret_name", "collaborators_from_cc", "collaborator_delivery")
PURPOSES = [purpose.value for purpose in Purpose]
PRIORITIES = [priority.value for priority in Priority]
DELIVERIES = [mode.value for mode in CollaboratorDelivery]
_TEXT_FIELDS = {"name", "department", "folder", "tenant_id", "client_id", "client_secret_name",
                "collaborator_delivery"}
_FLAGS = {"auto_response", "fetch_enabled", "mark_as_read", "collaborators_from_cc"}


@dataclass
class AccountSaved:
    """An account as stored, and a warning for the admin ("" when there is none)."""

    account: EmailAccount
    warning: str = ""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def account_json(account: EmailAccount) -> dict:
    """The account as the CLI's `--json` and the API show it: the Key Vault name of the client
    secret, never the secret."""
    return {
        "address": account.address, "name": account.name, "purpose": account.purpose.value,
        "department": account.department, "priority": account.priority.value,
        "auto_response": account.auto_response, "fetch_enabled": account.fetch_enabled,
        "folder": account.folder, "batch_size": account.batch_size,
        "mark_as_read": account.mark_as_read, "tenant_id": account.tenant_id,
        "client_id": account.client_id, "client_secret_name": account.client_secret_name,
        "collaborators_from_cc": account.collaborators_from_cc,
        "collaborator_delivery": account.collaborator_delivery.value,
        "created": _iso(account.created), "last_fetch": _iso(account.last_fetch),
        "last_error": account.last_error, "last_error_time": _iso(account.last_error_time),
        "consecutive_failures": account.consecutive_failures,
    }


def _whole_number(value, field: str) -> int:
    if isinstance(value, bool):
        raise ValidationError(f"{field.replace('_', ' ')} must be a whole number", field)
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValidationError(f"{field.replace('_', ' ')} must be a whole number, got {value!r}",
                              field) from None


def apply_changes(account: EmailAccount, changes: dict) -> None:
    """Set the given fields (None: leave as it is); `validate` runs when the account is saved."""
    for key, value in changes.items():
        if key not in ACCOUNT_FIELDS:
            raise ValidationError(f"unknown email account field {key!r}", key)
        if value is None:
            continue
        if key == "batch_size":
            value = _whole_number(value, key)
        elif key in _FLAGS:
            value = bool(value)
        elif key in _TEXT_FIELDS:
            value = str(value).strip()
        setattr(account, key, value)


def replies_lost_warning(desk: Helpdesk, account: EmailAccount) -> str:
    """The warning when clients' answers to this account's mail would reach nobody."""
    if not client_mail_unanswerable(account, desk.accounts.list()):
        return ""
    return (f"{account.address} may send client mail but is not fetched, and no fetched account "
            "exists for Reply-To: clients' answers would be lost. Enable fetching on it or add a "
            "fetched department account.")


def get_account(desk: Helpdesk, address: str) -> EmailAccount:
    account = desk.accounts.get(address)
    if account is None:
        raise LookupError(f"no email account {address}")
    return account


def add_account(desk: Helpdesk, address: str, **changes) -> AccountSaved:
    """A new account; AlreadyExists (field "address") when one has this address."""
    account = EmailAccount(address=str(address or ""), name="", purpose=Purpose.DEPARTMENT,
                           department="")
    if changes.get("purpose") is None:
        raise ValidationError("purpose is required", "purpose")
    apply_changes(account, changes)
    desk.accounts.add(account)
    return AccountSaved(account, replies_lost_warning(desk, account))


def update_account(desk: Helpdesk, address: str, **changes) -> AccountSaved:
    account = get_account(desk, address)
    apply_changes(account, changes)
    desk.accounts.save(account)
    if not account.can_fetch:
        _stop_push(desk, account.address, account)
    return AccountSaved(account, replies_lost_warning(desk, account))


def remove_account(desk: Helpdesk, address: str) -> None:
    """Remove the account (its Key Vault secret stays: an admin may reuse or delete it)."""
    account = desk.accounts.get(address)
    if account is not None:
        _stop_push(desk, account.address, account)
    if not desk.accounts.remove(address):
        raise LookupError(f"no email account {address}")


def _stop_push(desk: Helpdesk, address: str, account: EmailAccount) -> None:
    """Delete the account's Graph subscriptions (push ingestion); the renewal timer retries
    what Graph refuses now."""
    from .subscriptions import unsubscribe_account

    try:
        unsubscribe_account(desk, address, account)
    except Exception as error:  # Graph down: the hourly timer deletes it later
        log.warning("could not delete the push subscription of %s: %s", address, error)
