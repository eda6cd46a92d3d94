"""The `state` of the admin-consent round trip (Authorize → Entra → /admin/emails/consent).

A token signed with the session key (HMAC-SHA256), naming one account, bound to the signed-in
principal's session and valid for STATE_SECONDS: a callback with a state from another session,
for another account, expired or forged changes nothing.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time

from .auth import Principal
from .settings import WebSettings

STATE_SECONDS = 15 * 60
CONSENT_PATH = "/admin/emails/consent"


class BadState(Exception):
    """The callback's state is missing, forged, expired or from another session."""


def _session_tag(principal: Principal) -> str:
    return hashlib.sha256(f"consent:{principal.session}".encode()).hexdigest()[:32]


def _mac(settings: WebSettings, body: str) -> str:
    digest = hmac.new(settings.session_key, f"consent-state:{body}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def make_state(settings: WebSettings, principal: Principal, address: str,
               now: float | None = None) -> str:
    payload = {"a": address, "s": _session_tag(principal), "n": secrets.token_urlsafe(8),
               "e": int((now if now is not None else time.time()) + STATE_SECONDS)}
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode("ascii")
    return f"{body}.{_mac(settings, body)}"


def read_state(settings: WebSettings, principal: Principal, state: str | None,
               now: float | None = None) -> str:
    """The account address the state was made for; BadState otherwise."""
    if not state or state.count(".") != 1:
        raise BadState("the consent answer carries no valid state")
    body, mac = state.split(".")
    if not hmac.compare_digest(mac, _mac(settings, body)):
        raise BadState("the consent answer's state is not one this app made")
    try:
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        address, tag, expires = str(payload["a"]), str(payload["s"]), int(payload["e"])
    except (ValueError, KeyError, TypeError):
        raise BadState("the consent answer's state cannot be read") from None
    if not hmac.compare_digest(tag, _session_tag(principal)):
        raise BadState("the consent was started in another sign-in session")
    if expires < (now if now is not None else time.time()):
        raise BadState("the consent took too long (the state expired): press Authorize again")
    return address


def redirect_uri(base_url: str) -> str:
    """`{the app's base URL}/admin/emails/consent`: the app registration must list it."""
    return base_url.rstrip("/") + CONSENT_PATH
