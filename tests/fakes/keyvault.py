"""Fake Azure Key Vault (secrets), with the bearer challenge flow azure-keyvault-secrets uses.

* ``GET /secrets/{name}[/{version}]?api-version=...`` and ``PUT /secrets/{name}``; a version's
  ``attributes.exp`` (expiry, epoch seconds) when it was given one.
* A request without a valid token gets 401 and
  ``WWW-Authenticate: Bearer authorization="{authority host}/{tenant}", resource="{resource}"``;
  the SDK then asks its credential for ``{resource}/.default`` in that tenant.

Challenge-resource verification (azure-keyvault-secrets 4.12, ``_validate_challenge_resource``):
the request host, *including the port unless it is 443*, must end with ``"." + <netloc of
the challenge resource>``. Real vaults answer ``resource="https://vault.azure.net"``, which no
local URL satisfies (``*.vault.azure.net`` does not resolve here, ``*.localhost`` does not
resolve on this glibc, and the port is part of the compared text). So by default the fake
serves ``key_vault_url = https://127.0.0.1:PORT`` and challenges with the resource
``https://0.0.1:PORT``: "127.0.0.1:PORT" ends with ".0.0.1:PORT", verification passes, and the
app keeps ``verify_challenge_resource`` at its default (True). The certificate covers 127.0.0.1.
Set ``resource = REAL_VAULT_RESOURCE`` to get the production challenge instead (then only a
client built with ``verify_challenge_resource=False`` accepts it). The SDK caches challenges
per process and vault netloc, so do that on a separate FakeKeyVault instance, not the shared
one. ``tenant_id`` (default "contoso-tenant") is the tenant the challenge names; tokens must
come from it.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from .identity import FakeIdentity
from .server import FakeServer, Request, Response, json_response

REAL_VAULT_RESOURCE = "https://vault.azure.net"
DEFAULT_TENANT = "contoso-tenant"


@dataclass
class _SecretVersion:
    value: str
    version: str
    created: int
    content_type: str | None = None
    tags: dict = field(default_factory=dict)
    expires: int | None = None  # `attributes.exp`, seconds since the epoch


class FakeKeyVault(FakeServer):
    """The Key Vault fake. Add secrets with `set_secret`."""

    service_name = "keyvault"

    def __init__(self, ssl_context, identity: FakeIdentity, tenant_id: str = DEFAULT_TENANT,
                 **kwargs) -> None:
        kwargs.setdefault("public_host", "127.0.0.1")
        super().__init__(ssl_context, **kwargs)
        self.identity = identity
        self.vault_url = self.base_url
        self.local_resource = f"https://0.0.1:{self.port}"
        self._default_tenant = tenant_id
        self.reset()

    def reset(self) -> None:
        """Forget secrets, faults, logs; resource and tenant back to their defaults."""
        super().reset()
        with self._lock:
            self._secrets: dict[str, list[_SecretVersion]] = {}
            self.resource: str = self.local_resource
            self.tenant_id: str = self._default_tenant

    def set_secret(self, name: str, value: str, content_type: str | None = None,
                   expires: datetime | None = None) -> str:
        """Add a new version of a secret (`expires`: its `attributes.exp`); returns the
        version id."""
        with self._lock:
            version = _SecretVersion(value, uuid.uuid4().hex, int(time.time()), content_type,
                                     expires=int(expires.timestamp()) if expires else None)
            self._secrets.setdefault(name.lower(), []).append(version)
            return version.version

    def delete_secret(self, name: str) -> None:
        with self._lock:
            self._secrets.pop(name.lower(), None)

    # -- protocol --------------------------------------------------------------------------
    def extra_headers(self, request: Request) -> dict[str, str]:
        return {"x-ms-keyvault-service-version": "1.9.2.0", "x-ms-keyvault-region": "local"}

    def _challenge(self, message: str) -> Response:
        header = (f'Bearer authorization="{self.identity.base_url}/{self.tenant_id}", '
                  f'resource="{self.resource}"')
        return self.error_response(401, "Unauthorized", message, {"WWW-Authenticate": header})

    def handle(self, request: Request) -> Response:
        auth = request.header("authorization")
        if not auth.lower().startswith("bearer "):
            return self._challenge("AKV10000: Request is missing a Bearer or PoP token.")
        token = auth[7:].strip()
        record = self.identity.inspect(token)
        if record is None:
            return self._challenge("AKV10022: Invalid token: not issued by the expected authority.")
        if record.audience.rstrip("/").lower() != self.resource.rstrip("/").lower():
            return self._challenge(f"AKV10022: Invalid audience. Expected {self.resource}, "
                                   f"found: {record.audience}.")
        if record.tenant.lower() != self.tenant_id.lower():
            return self._challenge("AKV10032: Invalid issuer. Expected one of "
                                   f"{self.identity.base_url}/{self.tenant_id}/v2.0.")
        if self.identity.validate(token, record.audience) is None:
            return self._challenge("AKV10013: Token expired.")
        if "api-version" not in request.query:
            return self.error_response(400, "BadParameter",
                                       "The 'api-version' query parameter is missing.")
        seg = request.segments
        if len(seg) in (2, 3) and seg[0].lower() == "secrets":
            if request.method == "GET":
                return self._get(seg[1], seg[2] if len(seg) == 3 else None)
            if request.method == "PUT" and len(seg) == 2:
                return self._put(seg[1], request)
        return self.error_response(400, "BadParameter", f"Unsupported request: "
                                   f"{request.method} {request.path}")

    def _bundle(self, name: str, v: _SecretVersion) -> dict:
        bundle = {
            "value": v.value,
            "id": f"{self.vault_url}/secrets/{name}/{v.version}",
            "attributes": {"enabled": True, "created": v.created, "updated": v.created,
                           "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90},
            "tags": dict(v.tags),
        }
        if v.expires is not None:
            bundle["attributes"]["exp"] = v.expires
        if v.content_type:
            bundle["contentType"] = v.content_type
        return bundle

    def _get(self, name: str, version: str | None) -> Response:
        with self._lock:
            versions = self._secrets.get(name.lower(), [])
            found = versions[-1] if versions and not version else next(
                (v for v in versions if v.version == version), None)
        if found is None:
            what = f"{name}/{version}" if version else name
            return self.error_response(404, "SecretNotFound",
                                       f"A secret with (name/id) {what} was not found in this "
                                       "key vault. If you recently deleted this secret you may be "
                                       "able to recover it using the correct recovery command.")
        return json_response(200, self._bundle(name, found))

    def _put(self, name: str, request: Request) -> Response:
        try:
            body = request.json()
            value = body["value"]
        except (ValueError, KeyError, TypeError):
            return self.error_response(400, "BadParameter", "Property 'value' is required.")
        with self._lock:
            exp = (body.get("attributes") or {}).get("exp")
            version = _SecretVersion(str(value), uuid.uuid4().hex, int(time.time()),
                                     body.get("contentType"), dict(body.get("tags") or {}),
                                     int(exp) if exp is not None else None)
            self._secrets.setdefault(name.lower(), []).append(version)
        return json_response(200, self._bundle(name, version))
