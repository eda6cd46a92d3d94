"""Fake Microsoft identity platform (Entra ID v2.0): OIDC discovery and client credentials.

Base URL ``https://localhost:PORT`` (use it as the authority host). Endpoints:

* ``GET /{tenant}/v2.0/.well-known/openid-configuration``: discovery as MSAL reads it.
  Unknown tenants get 400 ``invalid_tenant`` (AADSTS90002) like the real service, so
  constructing an MSAL app for an unregistered tenant raises ValueError.
* ``POST /{tenant}/oauth2/v2.0/token``: ``grant_type=client_credentials`` with ``client_id``,
  ``client_secret`` (form or HTTP Basic) and one ``{resource}/.default`` scope.
* ``GET /{tenant}/discovery/v2.0/keys``: an empty JWKS.
* ``GET /{tenant}/adminconsent?client_id=..&redirect_uri=..&state=..``: admin consent, granted
  at once: 302 to ``redirect_uri?admin_consent=True&tenant={tenant}&state=..``, or, after
  ``deny_consent()``, to ``redirect_uri?error=access_denied&error_description=..&state=..``.
  ``consents`` records ``(tenant, client_id, redirect_uri)`` of each grant.

Tokens carry a ``roles`` claim: the app's application permissions, set per app with
``register_app(..., roles=[...])`` (default Mail.ReadWrite and Mail.Send).

Access tokens look like JWTs (unsigned claims, random signature) but are only meaningful to
:meth:`FakeIdentity.validate`, which the Graph and Key Vault fakes call.
"""
from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlencode

from .server import FakeServer, Request, Response, json_response

#: Tenants MSAL/azure-identity may discover before knowing the real one.
GENERIC_TENANTS = frozenset({"common", "organizations", "consumers"})
#: The application permissions an app's tokens carry unless registered with others.
DEFAULT_ROLES = ("Mail.ReadWrite", "Mail.Send")


@dataclass
class IssuedToken:
    """What the fake remembers about an access token it issued."""

    token: str
    tenant: str
    client_id: str
    scope: str
    audience: str
    expires_at: float
    roles: tuple[str, ...] = DEFAULT_ROLES


@dataclass
class _App:
    tenant: str
    client_id: str
    secret: str
    revoked: bool = False
    roles: tuple[str, ...] = DEFAULT_ROLES


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class FakeIdentity(FakeServer):
    """The identity platform fake. Register apps with `register_app`."""

    service_name = "identity"

    def __init__(self, ssl_context, **kwargs) -> None:
        super().__init__(ssl_context, **kwargs)
        self.reset()

    # -- test helpers ----------------------------------------------------------------------
    def reset(self) -> None:
        """Forget apps, tokens, faults, logs; `token_lifetime` back to 3600."""
        super().reset()
        with self._lock:
            self._apps: dict[tuple[str, str], _App] = {}
            self._tokens: dict[str, IssuedToken] = {}
            self.token_lifetime: int = 3600
            self.token_requests: int = 0
            self.consent_denial: tuple[str, str] | None = None
            self.consents: list[tuple[str, str, str]] = []

    def register_app(self, tenant_id: str, client_id: str, secret: str,
                     roles: list[str] | tuple[str, ...] | None = None) -> None:
        """Register (or re-register with a new secret) an app in a tenant; `roles` are the
        application permissions its tokens carry (default DEFAULT_ROLES)."""
        with self._lock:
            self._apps[(tenant_id.lower(), client_id.lower())] = _App(
                tenant_id, client_id, secret, roles=tuple(DEFAULT_ROLES if roles is None else roles))

    def deny_consent(self, error: str = "access_denied",
                     description: str = "AADSTS65004: User declined to consent to access the app."
                     ) -> None:
        """The next admin consents are declined: the redirect carries `error`."""
        with self._lock:
            self.consent_denial = (error, description)

    def revoke(self, client_id: str) -> None:
        """The app's consent is revoked in every tenant: token requests get 400."""
        self._set_revoked(client_id, True)

    def restore(self, client_id: str) -> None:
        """Undo `revoke` (MSAL still replays a cached 400 for 60 s per app object)."""
        self._set_revoked(client_id, False)

    def _set_revoked(self, client_id: str, revoked: bool) -> None:
        with self._lock:
            for app in self._apps.values():
                if app.client_id.lower() == client_id.lower():
                    app.revoked = revoked

    def expire_all_tokens(self) -> None:
        """Every issued token is now expired for the services (clients still cache them)."""
        with self._lock:
            for record in self._tokens.values():
                record.expires_at = min(record.expires_at, time.time() - 1)

    def issued_tokens(self) -> list[IssuedToken]:
        with self._lock:
            return list(self._tokens.values())

    def inspect(self, token: str) -> IssuedToken | None:
        """The record of a token this fake issued (expired or not), else None."""
        with self._lock:
            return self._tokens.get(token)

    def validate(self, token: str, audience_prefix: str) -> tuple[str, str] | None:
        """``(tenant, client_id)`` if `token` is live and its audience starts with the prefix."""
        record = self.inspect(token)
        if record is None or record.expires_at <= time.time():
            return None
        if not record.audience.lower().startswith(audience_prefix.lower().rstrip("/")):
            return None
        return record.tenant, record.client_id

    def authority(self, tenant_id: str) -> str:
        """``https://localhost:PORT/{tenant}``, the MSAL authority for a tenant."""
        return f"{self.base_url}/{tenant_id}"

    def _known_tenant(self, tenant: str) -> bool:
        with self._lock:
            return tenant.lower() in GENERIC_TENANTS or any(
                app.tenant.lower() == tenant.lower() for app in self._apps.values())

    # -- protocol --------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        seg = request.segments
        if request.method == "GET" and len(seg) == 4 and seg[1:] == [
                "v2.0", ".well-known", "openid-configuration"]:
            return self._discovery(seg[0])
        if request.method == "GET" and seg[1:] == ["discovery", "v2.0", "keys"]:
            return json_response(200, {"keys": []})
        if request.method == "GET" and len(seg) == 2 and seg[1] == "adminconsent":
            return self._admin_consent(seg[0], request)
        if len(seg) == 4 and seg[1:] == ["oauth2", "v2.0", "token"]:
            if request.method != "POST":
                return self._oauth_error(405, "invalid_request", 900561,
                                         "The endpoint only accepts POST requests.")
            return self._token(seg[0], request)
        return self._oauth_error(404, "invalid_request", 90007, f"No such endpoint: {request.path}")

    def _discovery(self, tenant: str) -> Response:
        if not self._known_tenant(tenant):
            return self._oauth_error(
                400, "invalid_tenant", 90002,
                f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID "
                "and are signing into the correct cloud.")
        base = f"{self.base_url}/{tenant}"
        return json_response(200, {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{self.base_url}/oidc/userinfo",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "oid"],
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
        })

    def _token(self, tenant: str, request: Request) -> Response:
        with self._lock:
            self.token_requests += 1
        form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8"),
                                             keep_blank_values=True).items()}
        client_id, secret = form.get("client_id", ""), form.get("client_secret")
        basic = request.header("authorization")
        if basic.lower().startswith("basic "):
            user, _, password = base64.b64decode(basic[6:]).decode("utf-8").partition(":")
            client_id, secret = client_id or user, password
        grant = form.get("grant_type", "")
        if grant != "client_credentials":
            return self._oauth_error(400, "unsupported_grant_type", 70003,
                                     f"The app requested an unsupported grant type '{grant}'.")
        if not client_id:
            return self._oauth_error(400, "invalid_request", 900144,
                                     "The request body must contain the following parameter: "
                                     "'client_id'.")
        if tenant.lower() in GENERIC_TENANTS:
            return self._oauth_error(400, "invalid_request", 700016,
                                     "Use a tenant-specific endpoint for the client credentials "
                                     "flow, not /common or /organizations.")
        if not self._known_tenant(tenant):
            return self._oauth_error(400, "invalid_request", 90002,
                                     f"Tenant '{tenant}' not found. Check to make sure you have "
                                     "the correct tenant ID.")
        with self._lock:
            app = self._apps.get((tenant.lower(), client_id.lower()))
        if app is None:
            return self._oauth_error(
                400, "unauthorized_client", 700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{tenant}'. This can happen if the application has not been installed by the "
                "administrator of the tenant or consented to by any user in the tenant.")
        if app.revoked:
            return self._oauth_error(
                400, "unauthorized_client", 65001,
                f"The user or administrator has not consented to use the application with ID "
                f"'{client_id}'. Send an interactive authorization request for this user and "
                "resource.")
        if not secret:
            return self._oauth_error(401, "invalid_client", 7000218,
                                     "The request body must contain the following parameter: "
                                     "'client_assertion' or 'client_secret'.")
        if not secrets.compare_digest(secret.encode(), app.secret.encode()):
            return self._oauth_error(
                401, "invalid_client", 7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is "
                f"the client secret value, not the client secret ID, for a secret added to app "
                f"'{client_id}'.")
        scope = form.get("scope", "").strip()
        scopes = scope.split()
        if len(scopes) != 1 or not scopes[0].endswith("/.default"):
            return self._oauth_error(
                400, "invalid_scope", 1002012,
                f"The provided value for scope {scope} is not valid. Client credential flows "
                "must have a scope value with /.default suffixed to the resource identifier "
                "(application ID URI).")
        return json_response(200, self._issue(app, scopes[0]))

    def _admin_consent(self, tenant: str, request: Request) -> Response:
        client_id = request.query.get("client_id", "")
        redirect_uri = request.query.get("redirect_uri", "")
        if not client_id or not redirect_uri:
            return self._oauth_error(400, "invalid_request", 900144,
                                     "The request must contain client_id and redirect_uri.")
        if not self._known_tenant(tenant):
            return self._oauth_error(400, "invalid_tenant", 90002, f"Tenant '{tenant}' not found.")
        state = {"state": request.query["state"]} if "state" in request.query else {}
        with self._lock:
            denial = self.consent_denial
            if denial is None:
                self.consents.append((tenant, client_id, redirect_uri))
        if denial is not None:
            answer = {"error": denial[0], "error_description": denial[1], **state}
        else:
            answer = {"admin_consent": "True", "tenant": tenant, **state}
        separator = "&" if "?" in redirect_uri else "?"
        return Response(302, b"", {"Location": redirect_uri + separator + urlencode(answer)})

    def _issue(self, app: _App, scope: str) -> dict:
        audience = scope[: -len("/.default")]
        lifetime = int(self.token_lifetime)
        now = int(time.time())
        claims = {"aud": audience, "iss": f"{self.base_url}/{app.tenant}/v2.0", "iat": now,
                  "nbf": now, "exp": now + lifetime, "appid": app.client_id, "tid": app.tenant,
                  "roles": list(app.roles), "jti": uuid.uuid4().hex}
        header = {"typ": "JWT", "alg": "RS256", "kid": "deskmail-fake"}
        token = ".".join([_b64url(json.dumps(header).encode()),
                          _b64url(json.dumps(claims).encode()), _b64url(secrets.token_bytes(64))])
        with self._lock:
            self._tokens[token] = IssuedToken(token, app.tenant, app.client_id, scope, audience,
                                              time.time() + lifetime, app.roles)
        return {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime,
                "access_token": token}

    # -- errors ----------------------------------------------------------------------------
    def _oauth_error(self, status: int, error: str, aadsts: int, description: str,
                     headers: dict[str, str] | None = None) -> Response:
        trace, correlation = uuid.uuid4(), uuid.uuid4()
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
        return json_response(status, {
            "error": error,
            "error_description": f"AADSTS{aadsts}: {description} Trace ID: {trace} "
                                 f"Correlation ID: {correlation} Timestamp: {stamp}",
            "error_codes": [aadsts],
            "timestamp": stamp,
            "trace_id": str(trace),
            "correlation_id": str(correlation),
        }, headers)

    def error_response(self, status: int, code: str, message: str,
                       headers: dict[str, str] | None = None) -> Response:
        error = "temporarily_unavailable" if status >= 500 or status == 429 else code
        return self._oauth_error(status, error, 50196 if status == 429 else 90033, message, headers)

    def default_error_code(self, status: int) -> str:
        return "invalid_request"
