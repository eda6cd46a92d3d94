"""Base of the TLS fakes: a threaded HTTPS server with a request log and fault injection.

Subclasses implement `handle(request) -> Response` and `error_response(status, code, message)`
(the service's own error shape). The base class gives every fake:

* ``requests``: log of :class:`RequestRecord` ``(method, path, status)``, in completion order.
  ``path`` is the decoded path with query (``+`` in the query read as a space); ``.headers``
  holds the request headers with lower-case names; status 0 means the request was dropped.
* ``fail_next(status, count=1, retry_after=None, path_contains=None, method=None, code=None,
  message=None)``: the next matching requests get that error instead of being served.
* ``hang_next(seconds, count=1, path_contains=None, method=None)``: the next matching requests
  wait `seconds`, are not served, and their connection is closed without a response
  (a client with a shorter read timeout sees a timeout).
* ``latency``: seconds added to every request.
* ``hold_until_in_flight(count)``: requests with a concurrency key wait until `count` of them
  are in flight at once (then the gate stays open), so a test gets real overlap by counting
  requests, not by hoping that latency makes them overlap.
* concurrency tracking keyed by `concurrency_key(request)` (Graph: the mailbox), with an
  optional ``concurrency_limit`` answered by `throttle_response()`.
"""
from __future__ import annotations

import json
import ssl
import sys
import threading
import traceback
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, unquote_plus, urlsplit

JSON_TYPE = "application/json; charset=utf-8"


class RequestRecord(tuple):
    """``(method, path, status)`` plus ``.headers`` (a dict) of the request."""

    def __new__(cls, method: str, path: str, status: int, headers: dict[str, str]):
        record = super().__new__(cls, (method, path, status))
        record.headers = headers
        return record

    method = property(lambda self: self[0])
    path = property(lambda self: self[1])
    status = property(lambda self: self[2])


@dataclass
class Request:
    """A parsed request as the fakes see it."""

    method: str
    raw_path: str  # as sent, percent-encoded, with query
    path: str  # percent-decoded path, no query
    segments: list[str]  # percent-decoded path segments
    query: dict[str, str]  # first value of each parameter, decoded
    headers: dict[str, str]  # lower-cased names
    body: bytes

    @property
    def logged_path(self) -> str:
        """Decoded path and query, e.g. ``/v1.0/users/a@b/messages?$filter=isRead eq false``."""
        path, sep, query = self.raw_path.partition("?")
        return unquote(path) + sep + unquote_plus(query)

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None,
                  content_type: str = JSON_TYPE) -> Response:
    """A JSON response."""
    return Response(status, json.dumps(payload).encode("utf-8"),
                    {"Content-Type": content_type, **(headers or {})})


@dataclass
class _Fault:
    kind: str  # "fail", "fail_after" (do the work, then fail) or "hang"
    count: int
    status: int = 0
    seconds: float = 0.0
    retry_after: float | int | str | None = None
    path_contains: str | None = None
    method: str | None = None
    code: str | None = None
    message: str | None = None

    def matches(self, request: Request) -> bool:
        if self.method and self.method.upper() != request.method:
            return False
        return not self.path_contains or self.path_contains in request.logged_path


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 120  # idle keep-alive connections are closed after this

    def setup(self) -> None:
        super().setup()
        self.connection.do_handshake()  # in this worker thread, not the accept loop

    def _serve(self) -> None:
        self.server.fake._dispatch(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass


class _HTTPSServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address, fake: "FakeServer", ssl_context: ssl.SSLContext) -> None:
        self.fake = fake
        self.ssl_context = ssl_context
        super().__init__(address, _Handler)

    def get_request(self):
        sock, address = self.socket.accept()
        return self.ssl_context.wrap_socket(
            sock, server_side=True, do_handshake_on_connect=False), address

    def handle_error(self, request, client_address) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, TimeoutError, OSError)):
            return  # clients hanging up (timeouts, aborted handshakes) are normal here
        super().handle_error(request, client_address)


class FakeServer:
    """A threaded HTTPS fake on 127.0.0.1; `base_url` uses `public_host` (default localhost)."""

    service_name = "fake"

    def __init__(self, ssl_context: ssl.SSLContext, *, port: int = 0,
                 public_host: str = "localhost", bind_host: str = "127.0.0.1") -> None:
        self._lock = threading.RLock()
        self._recorded = threading.Condition(self._lock)  # notified when a request is logged
        self._httpd = _HTTPSServer((bind_host, port), self, ssl_context)
        self.port: int = self._httpd.server_address[1]
        self.base_url = f"https://{public_host}:{self.port}"
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self._reset_common()

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> "FakeServer":
        """Serve in a daemon thread."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                name=f"{self.service_name}-{self.port}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket; sleeping requests wake up."""
        self._wake.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def reset(self) -> None:
        """Forget logs, faults, latency and concurrency stats (subclasses also clear data)."""
        with self._lock:
            self._reset_common()

    def _reset_common(self) -> None:
        old_wake, self._wake = self._wake, threading.Event()
        old_wake.set()  # requests still sleeping from an earlier test give up now
        self.requests: list[RequestRecord] = []
        self.errors: list[str] = []  # tracebacks of bugs in the fake itself
        self.latency: float = 0.0
        self.concurrency_limit: int | None = None
        self._faults: list[_Fault] = []
        self._in_flight: dict[str, int] = {}
        self._max_in_flight: dict[str, int] = {}
        if getattr(self, "_gate", None) is not None:
            self._gate.set()  # requests held in an earlier test go on now
        self._gate_count: int | None = None
        self._gate = threading.Event()

    # -- fault injection -------------------------------------------------------------------
    def fail_next(self, status: int, count: int = 1, retry_after: float | int | str | None = None,
                  path_contains: str | None = None, method: str | None = None,
                  code: str | None = None, message: str | None = None) -> None:
        """Answer the next `count` matching requests with `status` (and Retry-After if given)."""
        with self._lock:
            self._faults.append(_Fault("fail", count, status=status, retry_after=retry_after,
                                       path_contains=path_contains, method=method,
                                       code=code, message=message))

    def fail_after_next(self, status: int, count: int = 1, path_contains: str | None = None,
                        method: str | None = None) -> None:
        """Do the work of the next `count` matching requests, then answer `status` anyway (a
        gateway timing out after the service did it: the client cannot tell)."""
        with self._lock:
            self._faults.append(_Fault("fail_after", count, status=status,
                                       path_contains=path_contains, method=method))

    def hang_next(self, seconds: float, count: int = 1, path_contains: str | None = None,
                  method: str | None = None) -> None:
        """Let the next `count` matching requests sleep `seconds`, then drop them unanswered."""
        with self._lock:
            self._faults.append(_Fault("hang", count, seconds=seconds,
                                       path_contains=path_contains, method=method))

    def hold_until_in_flight(self, count: int) -> None:
        """Hold requests (that have a concurrency key) until `count` are in flight together."""
        with self._lock:
            self._gate_count, self._gate = count, threading.Event()

    def _take_fault(self, request: Request) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(request):
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def max_concurrency(self, key: str) -> int:
        """Highest number of simultaneous requests seen for `key`."""
        with self._lock:
            return self._max_in_flight.get(key, 0)

    # -- subclass hooks --------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    def error_response(self, status: int, code: str, message: str,
                       headers: dict[str, str] | None = None) -> Response:
        return json_response(status, {"error": {"code": code, "message": message}}, headers)

    def default_error_code(self, status: int) -> str:
        return {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
                429: "TooManyRequests", 500: "InternalServerError", 502: "BadGateway",
                503: "ServiceUnavailable", 504: "GatewayTimeout"}.get(status, "Error")

    def concurrency_key(self, request: Request) -> str | None:
        return None

    def throttle_response(self, request: Request) -> Response:
        return self.error_response(429, "TooManyRequests", "Too many concurrent requests.",
                                   {"Retry-After": "1"})

    def extra_headers(self, request: Request) -> dict[str, str]:
        return {}

    # -- plumbing --------------------------------------------------------------------------
    def _parse(self, handler: BaseHTTPRequestHandler) -> Request:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = bytearray()
            while True:
                size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while handler.rfile.readline().strip():
                        pass
                    break
                body += handler.rfile.read(size)
                handler.rfile.readline()
            body = bytes(body)
        else:
            body = handler.rfile.read(int(headers.get("content-length") or 0))
        parts = urlsplit(handler.path)
        raw_segments = [s for s in parts.path.split("/") if s]
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        return Request(method=handler.command, raw_path=handler.path,
                       path=unquote(parts.path), segments=[unquote(s) for s in raw_segments],
                       query=query, headers=headers, body=body)

    def _dispatch(self, handler: BaseHTTPRequestHandler) -> None:
        request = self._parse(handler)
        key = self.concurrency_key(request)
        wake = self._wake
        with self._lock:
            if key is not None:
                now = self._in_flight.get(key, 0) + 1
                self._in_flight[key] = now
                self._max_in_flight[key] = max(self._max_in_flight.get(key, 0), now)
                over_limit = self.concurrency_limit is not None and now > self.concurrency_limit
                if self._gate_count is not None and now >= self._gate_count:
                    self._gate.set()
            else:
                over_limit = False
            latency = self.latency
            gate = self._gate if key is not None and self._gate_count is not None else None
        try:
            if gate is not None:
                gate.wait(60)  # a safety net only: never reached when the test is right
            if latency:
                wake.wait(latency)
            fault = self._take_fault(request)
            if fault is not None and fault.kind == "hang":
                wake.wait(fault.seconds)
                if wake is self._wake:  # not after a reset: a later test's log stays its own
                    self._record(request, 0)
                handler.close_connection = True
                return
            try:
                if over_limit:
                    response = self.throttle_response(request)
                elif fault is not None:
                    if fault.kind == "fail_after":
                        self.handle(request)
                    response = self._fault_response(fault)
                else:
                    response = self.handle(request)
            except Exception:  # a bug in the fake: answer 500, keep the traceback
                text = traceback.format_exc()
                with self._lock:
                    self.errors.append(text)
                print(f"[{self.service_name}] {text}", file=sys.stderr)
                response = self.error_response(500, "InternalServerError", "fake crashed")
        finally:
            if key is not None:
                with self._lock:
                    if wake is self._wake:  # counters of an earlier test were reset
                        self._in_flight[key] = max(0, self._in_flight.get(key, 1) - 1)
        self._record(request, response.status)
        self._write(handler, request, response)

    def _fault_response(self, fault: _Fault) -> Response:
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(fault.retry_after)
        return self.error_response(
            fault.status, fault.code or self.default_error_code(fault.status),
            fault.message or f"Injected fault: HTTP {fault.status}.", headers)

    def _record(self, request: Request, status: int) -> None:
        with self._lock:
            self.requests.append(RequestRecord(request.method, request.logged_path, status,
                                               dict(request.headers)))
            self._recorded.notify_all()

    def wait_for_request(self, matches, timeout: float) -> bool:
        """Block until a logged request satisfies `matches(record)` (woken by each request,
        no polling); False if none did within `timeout`, a guard against a hang only."""
        with self._recorded:
            return self._recorded.wait_for(lambda: any(matches(r) for r in self.requests),
                                           timeout)

    def _write(self, handler: BaseHTTPRequestHandler, request: Request, response: Response) -> None:
        body = b"" if request.method == "HEAD" else response.body
        handler.send_response(response.status)
        headers = {"request-id": str(uuid.uuid4()), **self.extra_headers(request),
                   **response.headers}
        client_request_id = request.header("client-request-id")
        if client_request_id:
            headers.setdefault("client-request-id", client_request_id)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(response.body)))
        handler.end_headers()
        if body:
            handler.wfile.write(body)
        handler.wfile.flush()
