"""Secrets (the Graph client secrets) from Key Vault, or from environment variables locally.

With `KEY_VAULT_URL` set, `SecretStore.get("deskmail-graph-secret")` reads the secret of that
name with `DefaultAzureCredential` (the Function app's managed identity in Azure). Without it,
the same call reads the environment variable `DESKMAIL_GRAPH_SECRET` (the name upper-cased,
`-` turned into `_`), for local development. Values are cached for `ttl_seconds` and never logged;
errors name the secret and where it was looked up, never a value.

`set(name, value)` writes a new version to Key Vault (the admin's Remote mailbox form); secrets
from environment variables are read-only (`writable` is False), since the app cannot change
its own environment.

The Azure SDK is imported and the client created on the first `get`, not at import time.
"""
from __future__ import annotations

import os
import threading
import time
from datetime import datetime

from ..config import DEFAULT_AUTHORITY_HOST


class SecretStoreReadOnly(RuntimeError):
    """Secrets come from environment variables (no KEY_VAULT_URL): they cannot be written."""


class SecretWriteFailed(RuntimeError):
    """Key Vault refused or could not take a new secret version (the message has no value)."""


class SecretNotFound(LookupError):
    """A secret does not exist (or is empty); the message says where it was looked up."""

    def __init__(self, name: str, where: str = "") -> None:
        self.name = name
        self.where = where
        text = f"secret {name!r} not found"
        super().__init__(f"{text} in {where}" if where else text)


def env_var_name(name: str) -> str:
    """The environment variable holding secret `name` locally: `deskmail-graph` -> `DESKMAIL_GRAPH`."""
    return name.strip().upper().replace("-", "_")


def is_default_authority(authority_host: str | None) -> bool:
    return (authority_host or DEFAULT_AUTHORITY_HOST).rstrip("/").lower() == DEFAULT_AUTHORITY_HOST


class SecretStore:
    """`get(name) -> str` from Key Vault (settings.key_vault_url) or the environment."""

    def __init__(self, settings, ttl_seconds: float = 300) -> None:
        self.settings = settings
        self.vault_url: str | None = getattr(settings, "key_vault_url", None) or None
        self.ttl_seconds = float(ttl_seconds)
        self._cache: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._client = None
        self._credential = None

    # -- public --------------------------------------------------------------------------------
    def get(self, name: str) -> str:
        """The value of secret `name`; raises SecretNotFound when it does not exist or is empty."""
        if not name or not name.strip():
            raise ValueError("secret name must not be empty")
        name = name.strip()
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(name)
            if cached is not None and cached[1] > now:
                return cached[0]
        value = self._fetch_from_vault(name) if self.vault_url else self._fetch_from_env(name)
        if self.ttl_seconds > 0:
            with self._lock:
                self._cache[name] = (value, time.monotonic() + self.ttl_seconds)
        return value

    @property
    def writable(self) -> bool:
        """True when secrets live in Key Vault and `set` can write them."""
        return bool(self.vault_url)

    def set(self, name: str, value: str) -> None:
        """Write a new version of secret `name` to Key Vault; the value is never logged."""
        if not name or not name.strip():
            raise ValueError("secret name must not be empty")
        if not value:
            raise ValueError("secret value must not be empty")
        if not self.vault_url:
            raise SecretStoreReadOnly(
                f"secret {name.strip()!r} cannot be written: secrets come from environment "
                f"variables ({env_var_name(name)}) because KEY_VAULT_URL is not set")
        name = name.strip()
        from azure.core.exceptions import AzureError, HttpResponseError

        try:
            self._secret_client().set_secret(name, value)
        except HttpResponseError as error:
            code = getattr(getattr(error, "error", None), "code", None) or ""
            raise SecretWriteFailed(f"Key Vault {self.vault_url} refused to write secret "
                                    f"{name!r}: HTTP {error.status_code} {code}".rstrip()) from None
        except AzureError as error:  # no credential, vault unreachable
            raise SecretWriteFailed(f"cannot write secret {name!r} to Key Vault {self.vault_url}: "
                                    f"{type(error).__name__}") from None
        with self._lock:
            self._cache.pop(name, None)

    def expires_on(self, name: str) -> datetime | None:
        """The expiry date (`exp`) of Key Vault secret `name`, read now (not cached); None when
        it has none or secrets come from the environment (no date to read there). Raises
        SecretNotFound when the vault has no such secret."""
        if not name or not name.strip():
            raise ValueError("secret name must not be empty")
        if not self.vault_url:
            return None
        from azure.core.exceptions import ResourceNotFoundError

        try:
            secret = self._secret_client().get_secret(name.strip())
        except ResourceNotFoundError:
            raise SecretNotFound(name.strip(), f"Key Vault {self.vault_url}") from None
        return secret.properties.expires_on

    def invalidate(self, name: str | None = None) -> None:
        """Forget one cached value (after a rotation), or all of them."""
        with self._lock:
            if name is None:
                self._cache.clear()
            else:
                self._cache.pop(name.strip(), None)

    @property
    def source(self) -> str:
        """Where secrets come from: the vault URL or "environment"."""
        return self.vault_url or "environment"

    def close(self) -> None:
        with self._lock:
            client, credential = self._client, self._credential
            self._client = self._credential = None
        for thing in (client, credential):
            if thing is not None:
                thing.close()

    def __repr__(self) -> str:  # never the values
        return f"SecretStore(source={self.source!r}, cached={len(self._cache)})"

    # -- sources -------------------------------------------------------------------------------
    def _fetch_from_env(self, name: str) -> str:
        variable = env_var_name(name)
        value = os.environ.get(variable)
        if not value:
            raise SecretNotFound(name, f"environment variable {variable}")
        return value

    def _fetch_from_vault(self, name: str) -> str:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            secret = self._secret_client().get_secret(name)
        except ResourceNotFoundError:
            raise SecretNotFound(name, f"Key Vault {self.vault_url}") from None
        if not secret.value:
            raise SecretNotFound(name, f"Key Vault {self.vault_url} (the secret is empty)")
        return secret.value

    def _secret_client(self):
        with self._lock:
            if self._client is None:
                from azure.identity import DefaultAzureCredential
                from azure.keyvault.secrets import SecretClient

                self._credential = DefaultAzureCredential(**credential_options(self.settings))
                # the SDK's check that the challenge's resource matches the vault's domain
                # stays on (verify_challenge_resource defaults to True)
                self._client = SecretClient(
                    vault_url=self.vault_url,
                    credential=self._credential,
                    connection_timeout=10,
                    read_timeout=30,
                )
            return self._client


def credential_options(settings) -> dict:
    """Keyword arguments for DefaultAzureCredential that follow settings.authority_host.

    For a non-default authority host (a sovereign cloud, a test identity platform) MSAL must not
    ask the public instance-discovery endpoint whether the host is a known authority: azure-identity
    passes `disable_instance_discovery=True` through to MSAL as `instance_discovery=False`.
    """
    host = getattr(settings, "authority_host", None) or DEFAULT_AUTHORITY_HOST
    if is_default_authority(host):
        return {}
    return {"authority": host, "disable_instance_discovery": True}
