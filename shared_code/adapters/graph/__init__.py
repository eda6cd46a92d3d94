"""Microsoft Graph mail access for one mailbox, with app-only (client credentials) tokens.

* auth.py: tokens. One MSAL `ConfidentialClientApplication` per (authority, client id, secret)
  per process, so its token cache is reused by every client until the token is near expiry. A 401
  from Graph drops the token that was refused from that cache and the request is retried once.
* client.py: `GraphMailClient`, requests. One `requests.Session` per client, at most
  `settings.graph_max_concurrency` requests in flight (Graph allows 4 per app and mailbox), header
  `Prefer: IdType="ImmutableId"` on every request, connect/read timeouts on every request. 429,
  5xx and connection failures are retried up to `settings.graph_max_retries` times, waiting
  `Retry-After` when given, else 1, 2, 4 ... s (capped at 30 s, with jitter), and never starting
  a wait that would end after the client's deadline.
* errors.py: `GraphError`, `GraphAuthError`. Errors never carry tokens or secrets.
* messages.py: `GraphMessageRef` (what a folder listing yields) and Graph's timestamps.

Import the names from this package (`from shared_code.adapters.graph import GraphMailClient`).
msal and requests cost about 0.2 s to import, so they are imported on first use, not here.
"""
from .auth import DEFAULT_TIMEOUT, GRAPH_SCOPES, TokenProvider, clear_token_cache, granted_roles
from .client import BACKOFF_BASE, BACKOFF_CAP, WELL_KNOWN_FOLDERS, GraphMailClient
from .errors import GraphAuthError, GraphError
from .messages import (
    MESSAGE_FIELDS,
    GraphMessageRef,
    format_graph_datetime,
    parse_graph_datetime,
)

__all__ = [
    "BACKOFF_BASE", "BACKOFF_CAP", "DEFAULT_TIMEOUT", "GRAPH_SCOPES", "MESSAGE_FIELDS",
    "WELL_KNOWN_FOLDERS", "GraphAuthError", "GraphError", "GraphMailClient", "GraphMessageRef",
    "TokenProvider", "clear_token_cache", "format_graph_datetime", "granted_roles",
    "parse_graph_datetime",
]
