"""Settings of the web face: how people sign in, the session key, the stale-fetch limit.

Read once when the app is built; a bad value raises `SettingError` naming it, so a broken
deployment fails at start-up instead of letting anyone in.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from enum import Enum

from ..config import SettingError, minutes_setting, running_in_azure
from ..domain.model import ValidationError, normalize_address


class AuthMode(str, Enum):
    """Who vouches for the signed-in user."""

    EASY_AUTH = "easyauth"  # App Service Authentication (Microsoft Entra ID) signs people in
    DEV = "dev"  # a local sign-in form for the users in DESKMAIL_DEV_USERS
    OFF = "off"  # nobody can sign in (the default on a developer machine)


class Role(str, Enum):
    """What a signed-in user may do; an admin may do everything staff may."""

    STAFF = "staff"
    ADMIN = "admin"


# The Entra ID app roles (the `roles` claim) that grant each role; see docs/web.md.
APP_ROLES = {"deskmail.admin": Role.ADMIN, "deskmail.staff": Role.STAFF}


def _dev_users(raw: str) -> dict[str, Role]:
    users: dict[str, Role] = {}
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        address, _, role = item.rpartition(":")
        try:
            users[normalize_address(address)] = Role(role.strip().lower())
        except (ValueError, ValidationError):
            raise SettingError(f"setting DESKMAIL_DEV_USERS must list address:role pairs with role "
                               f"admin or staff, got {item!r}") from None
    return users


@dataclass(frozen=True)
class WebSettings:
    auth: AuthMode
    dev_users: dict[str, Role] = field(default_factory=dict)
    session_key: bytes = b""
    fetch_stale_minutes: float = 5.0
    secure_cookies: bool = False

    @classmethod
    def from_env(cls) -> "WebSettings":
        azure = running_in_azure()
        raw_mode = os.environ.get("DESKMAIL_AUTH", "").strip().lower()
        try:
            mode = AuthMode(raw_mode) if raw_mode else (AuthMode.EASY_AUTH if azure else AuthMode.OFF)
        except ValueError:
            known = ", ".join(m.value for m in AuthMode)
            raise SettingError(f"setting DESKMAIL_AUTH must be one of {known}, got {raw_mode!r}") from None
        if mode is AuthMode.DEV and azure:
            raise SettingError("setting DESKMAIL_AUTH=dev is refused when the app runs in Azure: "
                               "use easyauth (App Service Authentication)")
        if mode is AuthMode.EASY_AUTH and os.environ.get("WEBSITE_AUTH_ENABLED", "").strip().lower() != "true":
            raise SettingError("setting DESKMAIL_AUTH=easyauth needs App Service Authentication on "
                               "(WEBSITE_AUTH_ENABLED=True, set by the platform when it is): without "
                               "it anyone could send the X-MS-CLIENT-PRINCIPAL headers")
        dev_users = _dev_users(os.environ.get("DESKMAIL_DEV_USERS", ""))
        if mode is AuthMode.DEV and not dev_users:
            raise SettingError("setting DESKMAIL_DEV_USERS is required with DESKMAIL_AUTH=dev, e.g. "
                               "admin@contoso.test:admin,agent@contoso.test:staff")
        raw_key = os.environ.get("DESKMAIL_SESSION_KEY", "").strip()
        if azure and len(raw_key) < 32:
            raise SettingError("setting DESKMAIL_SESSION_KEY (at least 32 characters, a Key Vault "
                               "reference) is required when the app runs in Azure")
        if raw_key and len(raw_key) < 32:
            raise SettingError("setting DESKMAIL_SESSION_KEY must be at least 32 characters")
        # locally a key per process: sessions end when the server restarts
        key = raw_key.encode() if raw_key else secrets.token_bytes(32)
        return cls(auth=mode, dev_users=dev_users, session_key=key,
                   fetch_stale_minutes=minutes_setting("FETCH_STALE_MINUTES", 5.0, minimum=0.001),
                   secure_cookies=azure)
