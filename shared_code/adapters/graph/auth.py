"""App-only Graph tokens: one MSAL `ConfidentialClientApplication` per (authority, client id,
secret) per process, so its token cache is reused by every client until the token is near
expiry; a token Graph refused is dropped from that cache. `clear_token_cache` forgets them all.

msal is imported on first use, not here.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from typing import TYPE_CHECKING

from ...config import DEFAULT_AUTHORITY_HOST
from .errors import GraphAuthError, _scrub

if TYPE_CHECKING:  # pragma: no cover
    from ...config import Settings

GRAPH_SCOPES = ["https://graph.microsoft.com/.default"]
DEFAULT_TIMEOUT = (10.0, 60.0)  # (connect, read) seconds


class _AppEntry:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.app = None


_APPS: dict[str, _AppEntry] = {}
_APPS_LOCK = threading.Lock()


def _authority(settings: "Settings", tenant_id: str) -> str:
    host = (getattr(settings, "authority_host", None) or DEFAULT_AUTHORITY_HOST).rstrip("/")
    return f"{host}/{tenant_id}"


class TokenProvider:
    """App-only Graph tokens for one app registration, from a process-wide MSAL app."""

    def __init__(self, authority: str, client_id: str, client_secret: str,
                 timeout: tuple[float, float] = DEFAULT_TIMEOUT) -> None:
        if not client_id or not client_secret:
            raise GraphAuthError(None, "MissingCredentials",
                                 "tenant id, client id and client secret are required")
        self.authority = authority
        self.client_id = client_id
        self._secret = client_secret
        self._timeout = timeout
        digest = hashlib.sha256(client_secret.encode("utf-8")).hexdigest()
        self._key = f"{authority.lower()}|{client_id}|{digest}"

    def __repr__(self) -> str:
        return f"TokenProvider(authority={self.authority!r}, client_id={self.client_id!r})"

    def _entry(self) -> _AppEntry:
        with _APPS_LOCK:
            entry = _APPS.get(self._key)
            if entry is None:
                entry = _APPS[self._key] = _AppEntry()
            return entry

    def _app(self, entry: _AppEntry):
        # called with entry.lock held: the app is built once (it fetches the OIDC metadata)
        if entry.app is None:
            import msal

            default = self.authority.lower().startswith(DEFAULT_AUTHORITY_HOST + "/")
            try:
                entry.app = msal.ConfidentialClientApplication(
                    self.client_id,
                    client_credential=self._secret,
                    authority=self.authority,
                    instance_discovery=None if default else False,
                    timeout=self._timeout,
                )
            except Exception as error:  # unreachable or malformed authority
                raise GraphAuthError(
                    None, "AuthorityUnavailable",
                    _scrub(f"cannot use authority {self.authority}: "
                           f"{type(error).__name__}: {error}", self._secret),
                    transient=isinstance(error, OSError),
                ) from None
        return entry.app

    def token(self) -> str:
        """An access token, from MSAL's cache while it is valid, else a new one."""
        entry = self._entry()
        with entry.lock:  # one token request at a time per app, the others then hit the cache
            app = self._app(entry)
            try:
                result = app.acquire_token_for_client(scopes=GRAPH_SCOPES)
            except Exception as error:  # network failure, or MSAL's "HTTP Error: 503"
                found = re.search(r"HTTP Error: (\d{3})", str(error))
                status = int(found.group(1)) if found else None
                raise GraphAuthError(
                    status, "TokenRequestFailed",
                    _scrub(f"token request to {self.authority} failed: "
                           f"{type(error).__name__}: {error}", self._secret),
                    transient=isinstance(error, OSError) or status == 429
                    or (status or 0) >= 500,
                ) from None
        if result and "access_token" in result:
            return result["access_token"]
        raise self._auth_error(result or {})

    def _auth_error(self, result: dict) -> GraphAuthError:
        error = str(result.get("error") or "unknown_error")
        description = _scrub(str(result.get("error_description") or ""), self._secret)
        codes = result.get("error_codes") or []
        if codes:
            code = f"AADSTS{codes[0]}"
        elif description.startswith("AADSTS"):
            code = description.split(":", 1)[0].strip()
        else:
            code = error
        first_line = description.splitlines()[0] if description else error
        return GraphAuthError(
            None, code,
            f"token request for client {self.client_id} at {self.authority} failed: "
            f"{error}: {first_line}",
            error=error, description=description,
            correlation_id=result.get("correlation_id"),
            transient=error in ("temporarily_unavailable", "server_error"),
        )

    def invalidate(self, token: str) -> None:
        """Drop `token` from the shared MSAL cache (Graph refused it), so the next call gets a new one."""
        entry = self._entry()
        with entry.lock:
            app = entry.app
            if app is None:
                return
            cache = app.token_cache
            stale = list(cache.search(cache.CredentialType.ACCESS_TOKEN,
                                      query={"client_id": self.client_id, "secret": token}))
            for item in stale:
                cache.remove_at(item)


def clear_token_cache() -> None:
    """Forget every process-wide MSAL app (and with them all cached tokens)."""
    with _APPS_LOCK:
        _APPS.clear()


def granted_roles(access_token: str) -> set[str]:
    """The application permissions the platform granted: the `roles` claim of an app-only
    access token. Read, not verified: the token came from the identity platform over TLS, and
    only Graph decides what it allows (this is for telling the admin what is missing)."""
    try:
        payload = access_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return set()
    roles = claims.get("roles") if isinstance(claims, dict) else None
    return {str(role) for role in roles} if isinstance(roles, list) else set()
