"""Fake Application Insights ingestion endpoint, for the real Azure Monitor exporter.

* ``POST /v2.1/track``: a JSON array of envelopes (plain, or gzip with
  ``Content-Encoding: gzip``), answered 200 with the ingestion service's body
  ``{"itemsReceived": n, "itemsAccepted": n, "errors": []}``. The envelopes are kept in
  ``envelopes`` (dicts as sent: ``name``, ``iKey``, ``time``, ``tags``, ``data.baseType``,
  ``data.baseData``), in arrival order.
* Anything else (live metrics, a wrong path) is 404 and stays in ``requests``, so a test can
  assert that the exporter sent nothing but envelopes to ``/v2.1/track``.

No Entra ID: with ``Authorization=AAD`` the exporter would first ask the identity platform for
a token of the Monitor audience with its credential, and the app's credential is the managed
identity, which has no endpoint here. The fake accepts only requests without a bearer token,
as a component that allows local authentication would (so a test that sent one would notice).
"""
from __future__ import annotations

import gzip
import json

from .server import FakeServer, Request, Response, json_response

TRACK_PATH = "/v2.1/track"


class FakeAppInsights(FakeServer):
    """The ingestion fake; ``connection_string(ikey)`` points an exporter at it."""

    service_name = "appinsights"

    def __init__(self, ssl_context, **kwargs) -> None:
        kwargs.setdefault("public_host", "127.0.0.1")
        super().__init__(ssl_context, **kwargs)
        self.reset()

    def reset(self) -> None:
        with self._lock:
            super().reset()
            self.envelopes: list[dict] = []

    def connection_string(self, instrumentation_key: str) -> str:
        """A connection string without Entra ID, ingestion here, no live metrics endpoint."""
        return f"InstrumentationKey={instrumentation_key};IngestionEndpoint={self.base_url}/"

    def error_response(self, status: int, code: str, message: str,
                       headers: dict[str, str] | None = None) -> Response:
        return json_response(status, {"itemsReceived": 0, "itemsAccepted": 0, "errors": [
            {"index": 0, "statusCode": status, "message": f"{code}: {message}"}]}, headers)

    def handle(self, request: Request) -> Response:
        if request.method != "POST" or request.path != TRACK_PATH:
            return self.error_response(404, "NotFound", f"no such endpoint {request.path}")
        if request.header("authorization"):
            return self.error_response(401, "Unauthorized", "Entra ID is not served here")
        body = request.body
        if request.header("content-encoding").lower() == "gzip":
            body = gzip.decompress(body)
        envelopes = json.loads(body.decode("utf-8"))
        if not isinstance(envelopes, list):
            envelopes = [envelopes]
        with self._lock:
            self.envelopes.extend(envelopes)
        count = len(envelopes)
        return json_response(200, {"itemsReceived": count, "itemsAccepted": count, "errors": []})

    def wait_for_envelopes(self, matches, timeout: float) -> bool:
        """Block until some received envelope satisfies `matches(envelope)` (woken by each
        request, no polling); False if none did within `timeout`, a guard against a hang."""
        with self._recorded:
            return self._recorded.wait_for(lambda: any(map(matches, self.envelopes)), timeout)
