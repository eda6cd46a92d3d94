"""A counting (and optionally delaying) reverse proxy in front of Azurite's blob, queue and
table ports.

The benchmarks count storage requests at the HTTP layer, not by wrapping the SDK: the app's
connection string points at this proxy's ports, and every request is labelled by service,
operation and table / container / queue (``table insert tickets``, ``blob upload raw-mail``,
``queue receive outbound-mail``) before it is forwarded. An entity-group transaction is one
request (``table batch <table>``). ``delay`` seconds are added before each request is
forwarded (the issue's "10 ms added to every storage request"), without CPU.

One thread per client connection, each with its own keep-alive connection to Azurite; bodies
are streamed in both directions (a 25 MB mail is never held whole). The benchmarks run it in
its own process (``python -m benchmarks.storage_proxy --serve FD``, driven by
``benchmarks.harness.StorageProxy``) so its CPU is measured apart from the app's.
"""
from __future__ import annotations

import json
import re
import select
import socket
import threading
import time
from collections import Counter
from urllib.parse import parse_qs, unquote, urlsplit

SERVICES = ("blob", "queue", "table")
CHUNK = 64 * 1024
_BATCH_TARGET = re.compile(rb"(?:GET|POST|PUT|MERGE|PATCH|DELETE) https?://[^/\s]+/[^/\s]+/([A-Za-z0-9]+)")
_TABLE_NAME = re.compile(rb'"TableName"\s*:\s*"([^"]+)"')


# ---------------------------------------------------------------------------- labels


def label(service: str, method: str, target: str, headers: dict[str, str], body_head: bytes = b"") -> str:
    """``<service> <operation> <table|container|queue>`` for one request. `headers` are
    lower-cased; `body_head` is the start of the body (batches and create-table name their
    table only there)."""
    parts = urlsplit(target)
    segments = [unquote(s) for s in parts.path.split("/") if s][1:]  # drop the account name
    query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    method = method.upper()
    if service == "table":
        return _table_label(method, segments, headers, body_head)
    if service == "blob":
        return _blob_label(method, segments, query, headers)
    if service == "queue":
        return _queue_label(method, segments, query)
    return f"{service} {method.lower()} ?"


def _table_label(method: str, segments: list[str], headers: dict[str, str], body_head: bytes) -> str:
    resource = segments[0] if segments else ""
    name, _, keys = resource.partition("(")
    if name == "$batch":
        found = _BATCH_TARGET.search(body_head)
        return f"table batch {found.group(1).decode() if found else '?'}"
    if name == "Tables":
        if method == "POST":
            found = _TABLE_NAME.search(body_head)
            return f"table create-table {found.group(1).decode() if found else '?'}"
        table = keys.strip(")'") or "(account)"
        return {"GET": f"table list-tables {table}" if not keys else f"table get-table {table}",
                "DELETE": f"table delete-table {table}"}.get(method, f"table {method.lower()} Tables")
    has_keys = "PartitionKey=" in keys
    conditional = "if-match" in headers
    if method == "GET":
        op = "get" if has_keys else "query"
    elif method == "POST":
        op = "insert"
    elif method == "PUT":
        op = "replace" if conditional else "upsert-replace"
    elif method in ("MERGE", "PATCH"):
        op = "merge" if conditional else "upsert-merge"
    elif method == "DELETE":
        op = "delete"
    else:
        op = method.lower()
    return f"table {op} {name or '(account)'}"


def _blob_label(method: str, segments: list[str], query: dict[str, str], headers: dict[str, str]) -> str:
    comp, restype = query.get("comp", ""), query.get("restype", "")
    if not segments:
        return f"blob {'list-containers' if comp == 'list' else (comp or method.lower())} (account)"
    container = segments[0]
    if restype == "container" or len(segments) == 1:
        if comp == "list":
            op = "list-blobs"
        elif comp == "lease":
            op = f"container-lease-{headers.get('x-ms-lease-action', '?')}"
        elif comp:
            op = f"container-{comp}"
        else:
            op = {"PUT": "create-container", "DELETE": "delete-container"}.get(method, "container-properties")
        return f"blob {op} {container}"
    if comp == "lease":
        op = f"lease-{headers.get('x-ms-lease-action', '?')}"
    elif comp == "block":
        op = "put-block"
    elif comp == "blocklist":
        op = "put-block-list" if method == "PUT" else "get-block-list"
    elif comp:
        op = f"{'set' if method == 'PUT' else 'get'}-{comp}"
    elif method == "PUT":
        op = "copy" if "x-ms-copy-source" in headers else "upload"
    else:
        op = {"GET": "download", "HEAD": "properties", "DELETE": "delete"}.get(method, method.lower())
    return f"blob {op} {container}"


def _queue_label(method: str, segments: list[str], query: dict[str, str]) -> str:
    if not segments:
        return f"queue {'list-queues' if query.get('comp') == 'list' else method.lower()} (account)"
    queue = segments[0]
    if len(segments) == 1:
        op = {"PUT": "create-queue", "DELETE": "delete-queue"}.get(method, "queue-properties")
    elif len(segments) == 2:
        if method == "GET":
            op = "peek" if query.get("peekonly", "").lower() == "true" else "receive"
        else:
            op = {"POST": "send", "DELETE": "clear"}.get(method, method.lower())
    else:
        op = {"DELETE": "delete-message", "PUT": "update-message"}.get(method, method.lower())
    return f"queue {op} {queue}"


# ---------------------------------------------------------------------------- HTTP plumbing


def _read_head(reader) -> tuple[bytes, list[bytes]] | None:
    """(start line, header lines) or None at the end of the connection."""
    line = reader.readline(65537)
    while line in (b"\r\n", b"\n"):
        line = reader.readline(65537)
    if not line:
        return None
    lines = []
    while True:
        header = reader.readline(65537)
        if header in (b"\r\n", b"\n", b""):
            return line, lines
        lines.append(header)


def _headers(lines: list[bytes]) -> dict[str, str]:
    out = {}
    for raw in lines:
        name, _, value = raw.decode("latin-1").partition(":")
        out[name.strip().lower()] = value.strip()
    return out


def _copy_body(reader, sink: socket.socket, headers: dict[str, str], first: bytes = b"") -> None:
    """Stream a message body (chunked or Content-Length) from `reader` to `sink`; `first` is
    what was already read of a Content-Length body."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        while True:
            size_line = reader.readline(65537)
            if not size_line:
                raise ConnectionError("body ended inside a chunk header")
            sink.sendall(size_line)
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while True:  # trailers, then the empty line
                    trailer = reader.readline(65537)
                    sink.sendall(trailer)
                    if trailer in (b"\r\n", b"\n", b""):
                        return
            _copy_exact(reader, sink, size + 2)  # the chunk and its CRLF
    remaining = int(headers.get("content-length", "0") or 0) - len(first)
    if first:
        sink.sendall(first)
    _copy_exact(reader, sink, remaining)


def _copy_exact(reader, sink: socket.socket, count: int) -> None:
    while count > 0:
        data = reader.read(min(CHUNK, count))
        if not data:
            raise ConnectionError("body ended early")
        sink.sendall(data)
        count -= len(data)


def _dropped(sock: socket.socket) -> bool:
    """True when an idle keep-alive connection was closed by the other end."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)  # an idle HTTP connection only becomes readable when it closes


# ---------------------------------------------------------------------------- the proxy


class CountingProxy:
    """``CountingProxy({"blob": ("127.0.0.1", 10000), ...}).start()``; ``.ports`` are the
    proxy's own ports by service; ``snapshot()`` the counts so far."""

    def __init__(self, upstream: dict[str, tuple[str, int]], host: str = "127.0.0.1") -> None:
        self.upstream = dict(upstream)
        self.host = host
        self.delay = 0.0
        self.ports: dict[str, int] = {}
        self._counts: Counter = Counter()
        self._statuses: Counter = Counter()
        self._errors: list[str] = []
        self._lock = threading.Lock()
        self._listeners: list[socket.socket] = []
        self._open: set[socket.socket] = set()
        self._stopped = threading.Event()

    def start(self) -> "CountingProxy":
        for service in self.upstream:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.host, 0))
            listener.listen(128)
            self.ports[service] = listener.getsockname()[1]
            self._listeners.append(listener)
            threading.Thread(target=self._accept, args=(listener, service), daemon=True,
                             name=f"proxy-accept-{service}").start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        for sock in self._listeners + list(self._open):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def connection_string(self, account: str, key: str) -> str:
        """A connection string for the proxy's ports (Azurite's account and key)."""
        base = f"http://{self.host}"
        return (f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};"
                + "".join(f"{s.capitalize()}Endpoint={base}:{self.ports[s]}/{account};"
                          for s in SERVICES if s in self.ports))

    # -- counts
    def snapshot(self) -> dict:
        """``{"requests": {label: n}, "statuses": {"label -> 409": n}, "errors": [...]}``."""
        with self._lock:
            return {"requests": dict(self._counts),
                    "statuses": {f"{lab} -> {status}": n for (lab, status), n in self._statuses.items()},
                    "errors": list(self._errors)}

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._statuses.clear()
            self._errors.clear()

    def configure(self, delay: float) -> None:
        self.delay = float(delay)

    # -- serving
    def _accept(self, listener: socket.socket, service: str) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._serve, args=(client, service), daemon=True,
                             name=f"proxy-{service}").start()

    def _connect(self, service: str) -> socket.socket:
        upstream = socket.create_connection(self.upstream[service], timeout=300)
        upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._open.add(upstream)
        return upstream

    def _serve(self, client: socket.socket, service: str) -> None:
        with self._lock:
            self._open.add(client)
        upstream, up_reader = None, None
        reader = client.makefile("rb", buffering=CHUNK)
        try:
            while not self._stopped.is_set():
                head = _read_head(reader)
                if head is None:
                    return
                start, lines = head
                method, target = start.split(b" ", 2)[:2]
                method, target = method.decode("ascii"), target.decode("latin-1")
                headers = _headers(lines)
                if headers.get("expect", "").lower() == "100-continue":
                    lines = [h for h in lines if not h.lower().startswith(b"expect:")]
                    client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                first = b""
                chunked = "chunked" in headers.get("transfer-encoding", "").lower()
                if not chunked and int(headers.get("content-length", "0") or 0) > 0:
                    first = reader.read(min(8192, int(headers["content-length"])))
                name = label(service, method, target, headers, first[:8192])
                with self._lock:
                    self._counts[name] += 1
                if self.delay:
                    time.sleep(self.delay)
                if upstream is None or _dropped(upstream):
                    if upstream is not None:
                        upstream.close()
                    upstream = self._connect(service)
                    up_reader = upstream.makefile("rb", buffering=CHUNK)
                upstream.sendall(start + b"".join(lines) + b"\r\n")
                _copy_body(reader, upstream, headers, first)
                keep = self._relay_response(up_reader, client, method, name)
                if not keep or headers.get("connection", "").lower() == "close":
                    return
        except Exception as error:  # noqa: BLE001 - recorded; the client sees a closed connection
            if not self._stopped.is_set():
                with self._lock:
                    self._errors.append(f"{service}: {type(error).__name__}: {error}")
        finally:
            for sock in (client, upstream):
                if sock is not None:
                    with self._lock:
                        self._open.discard(sock)
                    sock.close()

    def _relay_response(self, up_reader, client: socket.socket, method: str, name: str) -> bool:
        """Forward one response (and any 1xx before it); False when the connection must close."""
        while True:
            head = _read_head(up_reader)
            if head is None:
                raise ConnectionError("Azurite closed the connection before answering")
            status_line, lines = head
            status = int(status_line.split(b" ", 2)[1])
            if status >= 200 or status == 101:
                break
            client.sendall(status_line + b"".join(lines) + b"\r\n")
        headers = _headers(lines)
        with self._lock:
            self._statuses[(name, status)] += 1
        client.sendall(status_line + b"".join(lines) + b"\r\n")
        if method == "HEAD" or status in (204, 304):
            pass
        elif "chunked" in headers.get("transfer-encoding", "").lower() or "content-length" in headers:
            _copy_body(up_reader, client, headers)
        else:  # the body runs to the end of the connection
            while data := up_reader.read1(CHUNK):
                client.sendall(data)
            return False
        return headers.get("connection", "").lower() != "close"


# ---------------------------------------------------------------------------- child process


def serve(fd: int, upstream_json: str) -> None:
    """``python -m benchmarks.storage_proxy --serve FD UPSTREAM_JSON``: run the proxy and
    answer the parent's commands (snapshot, reset, configure) until it says stop."""
    from benchmarks.harness import serve_commands

    upstream = {k: tuple(v) for k, v in json.loads(upstream_json).items()}
    proxy = CountingProxy(upstream).start()
    try:
        serve_commands(fd, {"ports": proxy.ports}, {
            "snapshot": proxy.snapshot, "reset": proxy.reset, "configure": proxy.configure,
        })
    finally:
        proxy.stop()


if __name__ == "__main__":
    import sys

    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]), sys.argv[3])
    else:
        sys.exit("usage: python -m benchmarks.storage_proxy --serve FD UPSTREAM_JSON")
