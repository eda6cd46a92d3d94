"""Who is asking: the signed-in principal, its role, the session cookie and CSRF tokens.

Three ways in, decided by `WebSettings.auth`:
- Easy Auth: the platform signs people in and passes `X-MS-CLIENT-PRINCIPAL` (base64 JSON with
  the claims, app roles among them). Trusted only in that mode, which refuses to start unless
  the platform says the feature is on. A machine caller's Entra ID bearer token is validated by
  the same platform feature and arrives the same way.
- Dev: `POST /auth/dev-login` signs in a user listed in DESKMAIL_DEV_USERS with a signed cookie.
- Off: nobody.

A browser session (cookie) must send a CSRF token with every state-changing request; a bearer
token caller need not, since a browser never attaches that header by itself.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from .settings import APP_ROLES, AuthMode, Role, WebSettings

SESSION_COOKIE = "deskmail_session"
SESSION_SECONDS = 12 * 3600
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True)
class Principal:
    email: str
    name: str
    role: Role | None  # None: signed in, but neither staff nor admin
    session: str  # what the CSRF token is bound to
    via: str  # "dev", "easyauth" or "bearer"

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.STAFF, Role.ADMIN)

    @property
    def needs_csrf(self) -> bool:
        return self.via != "bearer"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: bytes, purpose: str, payload: str) -> str:
    return _b64(hmac.new(key, f"{purpose}:{payload}".encode(), hashlib.sha256).digest())


def session_cookie(settings: WebSettings, email: str, now: float | None = None) -> str:
    """A signed cookie value naming the dev user, a random session id and when it expires."""
    body = _b64(json.dumps({"email": email, "sid": secrets.token_urlsafe(16),
                            "exp": int((now or time.time()) + SESSION_SECONDS)}).encode())
    return f"{body}.{_sign(settings.session_key, 'session', body)}"


def _dev_principal(settings: WebSettings, cookie: str | None, now: float) -> Principal | None:
    if not cookie or "." not in cookie:
        return None
    body, signature = cookie.rsplit(".", 1)
    if not hmac.compare_digest(signature, _sign(settings.session_key, "session", body)):
        return None
    try:
        data = json.loads(_unb64(body))
    except ValueError:
        return None
    email = str(data.get("email", ""))
    if not isinstance(data.get("exp"), int) or data["exp"] < now or email not in settings.dev_users:
        return None
    return Principal(email=email, name=email, role=settings.dev_users[email],
                     session=str(data.get("sid", "")), via="dev")


def _easy_auth_principal(headers) -> Principal | None:
    raw = headers.get("x-ms-client-principal")
    if not raw:
        return None
    try:
        data = json.loads(base64.b64decode(raw))
        claims = data.get("claims") or []
        values: dict[str, list[str]] = {}
        for claim in claims:
            values.setdefault(str(claim.get("typ", "")), []).append(str(claim.get("val", "")))
    except (ValueError, TypeError, AttributeError):
        return None
    role_claim = str(data.get("role_typ") or "roles")
    roles = {APP_ROLES.get(r.strip().lower()) for r in values.get(role_claim, []) + values.get("roles", [])}
    role = Role.ADMIN if Role.ADMIN in roles else Role.STAFF if Role.STAFF in roles else None
    name_claim = str(data.get("name_typ") or "name")
    email = (headers.get("x-ms-client-principal-name") or next(iter(
        values.get("preferred_username", []) + values.get("email", []) + values.get(name_claim, [])), "")).lower()
    subject = headers.get("x-ms-client-principal-id") or next(iter(
        values.get("http://schemas.microsoft.com/identity/claims/objectidentifier", []) + values.get("oid", [])), email)
    name = next(iter(values.get("name", [])), email)
    via = "bearer" if (headers.get("authorization") or "").lower().startswith("bearer ") else "easyauth"
    return Principal(email=email, name=name, role=role, session=f"easyauth:{subject}", via=via)


def principal_from(settings: WebSettings, headers, cookies, now: float | None = None) -> Principal | None:
    """The signed-in principal of a request, or None."""
    if settings.auth is AuthMode.EASY_AUTH:
        return _easy_auth_principal(headers)
    if settings.auth is AuthMode.DEV:
        return _dev_principal(settings, cookies.get(SESSION_COOKIE), now or time.time())
    return None


def csrf_token(settings: WebSettings, principal: Principal) -> str:
    return _sign(settings.session_key, "csrf", principal.session)


def csrf_ok(settings: WebSettings, principal: Principal, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(str(token), csrf_token(settings, principal))
