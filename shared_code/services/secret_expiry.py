"""Which client secrets the accounts use expire, read where the app can read it.

Two sources, both optional: the `exp` attribute of each Key Vault secret an account names
(SecretStore.expires_on; secrets from environment variables have none), and the app
registration's password credentials through Graph (`GET /applications(appId=...)`), which
needs Application.Read.All: deskmail does not ask for it, so a 403 skips that source quietly.
Of an app's credentials only those whose `hint` (the first three characters Graph keeps) matches
the secret the accounts use count; a credential without a hint counts.
"""
from __future__ import annotations

import time
from datetime import datetime

from ..adapters.graph import GraphError, parse_graph_datetime
from ..domain.incidents import SecretExpiry, SecretSource
from ..domain.model import EmailAccount
from .helpdesk import Helpdesk

GRAPH_DEADLINE_SECONDS = 30


def _oauth_accounts(accounts: list[EmailAccount]) -> list[EmailAccount]:
    return [a for a in accounts if a.tenant_id and a.client_id and a.client_secret_name]


def find_expiries(desk: Helpdesk, accounts: list[EmailAccount], notes: list[str]) -> list[SecretExpiry]:
    """Every expiry date found, with the accounts using the secret; what could not be read
    (other than Graph's 403) is added to `notes`."""
    using = _oauth_accounts(accounts)
    return _key_vault(desk, using, notes) + _app_registrations(desk, using, notes)


def _key_vault(desk: Helpdesk, accounts: list[EmailAccount], notes: list[str]) -> list[SecretExpiry]:
    by_secret: dict[str, list[str]] = {}
    for account in accounts:
        by_secret.setdefault(account.client_secret_name, []).append(account.address)
    found = []
    for name, addresses in sorted(by_secret.items()):
        try:
            expires = desk.secrets.expires_on(name)
        except Exception as error:  # a missing secret or an unreachable vault: say so, go on
            notes.append(f"expiry of Key Vault secret {name} not read: {type(error).__name__}: "
                         f"{error}")
            continue
        if expires is not None:
            found.append(SecretExpiry(SecretSource.KEY_VAULT, name, expires, tuple(addresses)))
    return found


def _app_registrations(desk: Helpdesk, accounts: list[EmailAccount],
                       notes: list[str]) -> list[SecretExpiry]:
    by_app: dict[tuple[str, str, str], list[EmailAccount]] = {}
    for account in accounts:
        key = (account.tenant_id.lower(), account.client_id.lower(), account.client_secret_name)
        by_app.setdefault(key, []).append(account)
    found = []
    for (_, client_id, secret_name), users in sorted(by_app.items()):
        try:
            with desk.mail_client(users[0], deadline=time.monotonic() + GRAPH_DEADLINE_SECONDS) as graph:
                credentials = graph.password_credentials()
            secret = desk.secrets.get(secret_name)
        except GraphError as error:
            if error.status != 403:  # 403: the app may not read its registration; skip quietly
                notes.append(f"password credentials of app {client_id} not read: {error}")
            continue
        except Exception as error:
            notes.append(f"password credentials of app {client_id} not read: "
                         f"{type(error).__name__}: {error}")
            continue
        for credential in credentials:
            hint = str(credential.get("hint") or "")
            end = _end(credential.get("endDateTime"))
            if end is None or (hint and not secret.startswith(hint)):
                continue
            label = credential.get("displayName") or credential.get("keyId") or "secret"
            found.append(SecretExpiry(SecretSource.APP_REGISTRATION, f"{client_id} ({label})", end,
                                      tuple(a.address for a in users)))
    return found


def _end(value: object) -> datetime | None:
    try:
        return parse_graph_datetime(str(value)) if value else None
    except ValueError:
        return None
