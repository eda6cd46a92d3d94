"""Inbound-path benchmark: Graph fake → fetch_account → pipeline → real Azurite.

Run from the repository root::

    .venv/bin/python benchmarks/inbound.py              # full run (N=300), a few minutes
    .venv/bin/python benchmarks/inbound.py --quick      # smoke run (N=30), under a minute
    .venv/bin/python benchmarks/inbound.py --profile    # also cProfile one 100-mail fetch run

Processes:

* this process runs the application's fetch code (``fetch_account``, the pipeline, the Azure
  SDKs and MSAL), exactly as the ``fetch_mailbox`` queue function does (a fresh ``Helpdesk`` per
  run), so its CPU time is the application's;
* Azurite (in memory) is a child process; its CPU is read from ``/proc/<pid>/stat``;
* the Graph / identity-platform fakes (``tests.fakes.FakeCloud``) run in a second child
  process (this script with ``--serve-fakes``), driven over a socket pair (:class:`Fakes`), so
  their TLS and JSON work is not counted as the application's CPU and does not compete for
  this process's GIL (a real Graph does not run on the Functions instance either);
* part (e) runs in a fresh child process of this script (``--memory-probe``) so its peak RSS
  is its own.

Measured (each target line prints "target met" / "target missed"):

a. mails/s end to end with no injected latency: N mixed small mails (plain, HTML with an
   inline image, a reply threading to an earlier mail) in one mailbox, batch size 100,
   ``fetch_account`` called until a run fetches 0; wall time from the first run's start to
   the end of the last.                                              target >= 100 mails/s
b. CPU ms per mail of this process (getrusage user+sys), of Azurite and of the fakes.
c. Graph requests per mail (the fake's request log), storage requests per mail (counted by
   wrapping azure-core's RequestsTransport.send in this process), by operation; and, as a
   calibration, what one Table Storage request costs (SDK vs the same GET over http.client).
d. with Graph latency 0.05 s and a concurrency limit of 4: mails/s, against the bound those
   allow, 4 / (0.05 s x Graph requests per mail).                   target >= 50% of the bound
e. peak RSS growth while ingesting one ~25 MB mail with 10 inline images, in a fresh child
   process, after a warm-up fetch of one small mail.              target < 200 MB above idle
f. import time of function_app: median of 7 fresh interpreters minus the median of 7
   ``python -c pass``; the top 5 entries of ``python -X importtime``.

Every mail is checked at the end (marked read in Graph, ledger ``done``, outcomes as expected).
The run stops by itself: a SIGALRM budget (``--budget``) aborts it, and every child process is
stopped in ``finally`` blocks. Results are printed as a table and as JSON (``--json FILE`` also
writes the JSON to a file).
"""
from __future__ import annotations

import argparse
import base64
import cProfile
import io
import json
import os
import pstats
import random
import re
import resource
import socket
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import contextmanager
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DOMAIN = "contoso.example"
TENANT, CLIENT = "bench-tenant", "deskmail-bench-app"
SECRET_NAME, SECRET = "deskmail-bench-secret", "bench-secret-value"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MB = 1024 * 1024

# a 1x1 PNG, as an inline logo in the HTML mails
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)

TARGET_MAILS_PER_SECOND = 100.0
TARGET_BOUND_RATIO = 0.5
TARGET_MEMORY_MB = 200.0


class BenchmarkTimeout(BaseException):
    """The run's time budget is spent (a BaseException: the app's `except Exception` lets it by)."""


class BenchmarkError(RuntimeError):
    """A child process or a check failed."""


# ============================================================================ the fakes, in a child


def serve_fakes(fd: int) -> None:
    """Child process (``--serve-fakes FD``): serve FakeCloud and answer the commands the parent
    sends over the socket `fd` until it says stop or goes away."""
    from multiprocessing.connection import Connection

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when this stops
    from tests.fakes import FakeCloud

    conn = Connection(fd)
    cloud = FakeCloud(set_ca_env=False).start()
    try:
        conn.send({"graph_url": cloud.graph_url, "authority_host": cloud.authority_host,
                   "ca_env": cloud.ca_env, "pid": os.getpid()})
        while True:
            try:
                request = conn.recv()
            except (EOFError, OSError):
                break
            if request is None:
                break
            name, args = request
            try:
                conn.send((True, _FAKE_COMMANDS[name](cloud, *args)))
            except Exception as error:  # noqa: BLE001 - reported to the parent
                conn.send((False, f"{type(error).__name__}: {error}"))
    finally:
        cloud.stop()
        conn.close()


def _request_kind(method: str, path: str) -> str:
    """A Graph request's kind for the tables: list, $value, mark_read, folder, other."""
    bare = path.split("?", 1)[0]
    if bare.endswith("/$value"):
        return "GET $value"
    if method == "PATCH":
        return "PATCH message (mark read)"
    if bare.endswith("/messages"):
        return "GET messages (list page)"
    if "/mailFolders" in bare:
        return "GET mailFolders"
    return f"{method} other"


def _fake_stats(cloud, mailbox: str) -> dict:
    marker = f"/users/{mailbox.lower()}/"
    records = [r for r in list(cloud.graph.requests) if marker in r.path.lower()]
    return {
        "graph_requests": len(records),
        "kinds": dict(Counter(_request_kind(r.method, r.path) for r in records)),
        "statuses": {str(k): v for k, v in Counter(r.status for r in records).items()},
        "max_concurrency": cloud.graph.max_concurrency_seen(mailbox),
        "token_requests": sum(1 for r in list(cloud.identity.requests) if "/token" in r.path),
        "fake_errors": len(cloud.graph.errors),
    }


def _fake_configure(cloud, latency: float, limit: int | None) -> None:
    cloud.graph.latency = latency
    cloud.graph.concurrency_limit = limit


_FAKE_COMMANDS = {
    "register_app": lambda cloud, tenant, client, secret:
        cloud.identity.register_app(tenant, client, secret) and None,
    "add_mailbox": lambda cloud, address: cloud.graph.add_mailbox(address),
    "add_messages": lambda cloud, address, raws: [cloud.graph.add_message(address, raw)
                                                  for raw in raws],
    "configure": _fake_configure,
    "stats": _fake_stats,
    "unread": lambda cloud, address: [m["id"] for m in cloud.graph.messages(address)
                                      if not m["isRead"]],
    "message_count": lambda cloud, address: len(cloud.graph.messages(address)),
}


class Fakes:
    """The parent's handle on the fakes child process: ``fakes.add_messages(address, raws)`` ..."""

    def __init__(self, timeout: float = 60) -> None:
        from multiprocessing.connection import Connection

        ours, theirs = socket.socketpair()
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve-fakes", str(theirs.fileno())],
            cwd=ROOT, stdin=subprocess.DEVNULL, pass_fds=(theirs.fileno(),))
        theirs.close()
        self._conn = Connection(ours.detach())
        self._lock = threading.Lock()
        try:
            if not self._conn.poll(timeout):
                raise BenchmarkError(f"the fakes process did not start in {timeout:.0f} s")
            try:
                info = self._conn.recv()
            except EOFError:
                raise BenchmarkError("the fakes process exited (its error is above)") from None
        except BaseException:
            self.stop()
            raise
        self.graph_url, self.authority_host = info["graph_url"], info["authority_host"]
        self.ca_env, self.pid = info["ca_env"], info["pid"]

    def _call(self, name: str, *args):
        with self._lock:
            self._conn.send((name, args))
            if not self._conn.poll(300):
                raise BenchmarkError(f"the fakes process did not answer {name} in 300 s")
            ok, value = self._conn.recv()
        if not ok:
            raise BenchmarkError(f"fakes {name}: {value}")
        return value

    def __getattr__(self, name: str):
        if name in _FAKE_COMMANDS:
            return lambda *args: self._call(name, *args)
        raise AttributeError(name)

    def stop(self) -> None:
        try:
            self._conn.send(None)
        except (OSError, ValueError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self._conn.close()


# ============================================================================ storage request count


class StorageCounter:
    """Counts the Azure Storage requests this process makes, by service, operation and target.

    Installed by wrapping azure-core's `RequestsTransport.send` (the sync transport every
    storage SDK here uses); the application code is not touched.
    """

    def __init__(self, ports: dict[int, str]) -> None:
        self.ports = ports
        self.counts: Counter = Counter()
        self._lock = threading.Lock()

    def install(self) -> "StorageCounter":
        from azure.core.pipeline.transport import RequestsTransport

        original = RequestsTransport.send
        counter = self

        def send(transport, request, **kwargs):
            counter.record(request.method, request.url)
            return original(transport, request, **kwargs)

        send.__wrapped__ = original
        RequestsTransport.send = send
        return self

    def uninstall(self) -> None:
        from azure.core.pipeline.transport import RequestsTransport

        original = getattr(RequestsTransport.send, "__wrapped__", None)
        if original is not None:
            RequestsTransport.send = original

    def label(self, method: str, url: str) -> str:
        parts = urlsplit(url)
        service = self.ports.get(parts.port, "other")
        segments = [unquote(s) for s in parts.path.split("/") if s][1:]  # drop the account name
        target = segments[0] if segments else "(account)"
        query = parse_qs(parts.query)
        if service == "table":
            name, _, keys = target.partition("(")
            if method == "GET":
                op = ("get entity" if "PartitionKey=" in keys
                      else "list tables" if name == "Tables" else "query")
            else:
                op = {"POST": "create table" if name == "Tables" else "insert",
                      "PUT": "update (replace)", "PATCH": "upsert (merge)",
                      "MERGE": "upsert (merge)", "DELETE": "delete"}.get(method, method)
            return f"table {op} {name}"
        if service == "blob":
            comp = query.get("comp", [""])[0]
            restype = query.get("restype", [""])[0]
            if restype == "container":
                return f"blob {method} container {target}"
            op = {"PUT": "upload", "GET": "download", "HEAD": "exists"}.get(method, method)
            if comp:
                op = comp  # e.g. "lease" (acquire, renew and release all look alike here)
            return f"blob {op} {target}"
        if service == "queue":
            op = {"POST": "send", "PUT": "create queue"}.get(method, method)
            return f"queue {op} {target}"
        return f"{service} {method}"

    def record(self, method: str, url: str) -> None:
        label = self.label(method, url)
        with self._lock:
            self.counts[label] += 1

    def snapshot(self) -> Counter:
        with self._lock:
            return Counter(self.counts)


# ============================================================================ the stack


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a live process and its live descendants, in seconds."""
    total = 0.0
    for candidate in [pid, *_descendants(pid)]:
        try:
            fields = Path(f"/proc/{candidate}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    return total


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        out.append(child)
        todo.extend(children.get(child, []))
    return out


def self_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Stack:
    """Azurite and the fakes as child processes, this process's env pointed at them.

    ``stack.add_account(address, batch_size)`` creates the Graph mailbox and the deskmail
    account; ``stack.desk()`` is a fresh ``Helpdesk.from_env()`` (one per fetch run, as the
    queue function builds one per invocation).
    """

    def __init__(self) -> None:
        self.azurite = None
        self.fakes: Fakes | None = None
        self.counter: StorageCounter | None = None
        self._saved_env: dict[str, str | None] = {}

    def start(self) -> "Stack":
        from tests.fakes.azurite import Azurite

        self.azurite = Azurite(ROOT).start()
        self.fakes = Fakes()
        env = {
            "AzureWebJobsStorage": self.azurite.connection_string,
            "GRAPH_API_URL": self.fakes.graph_url,
            "AZURE_AUTHORITY_HOST": self.fakes.authority_host,
            SECRET_NAME.upper().replace("-", "_"): SECRET,
            **self.fakes.ca_env,
        }
        for name, value in env.items():
            self._saved_env[name] = os.environ.get(name)
            os.environ[name] = value
        self._saved_env.setdefault("KEY_VAULT_URL", os.environ.get("KEY_VAULT_URL"))
        os.environ.pop("KEY_VAULT_URL", None)
        self.fakes.register_app(TENANT, CLIENT, SECRET)
        self.counter = StorageCounter({self.azurite.blob_port: "blob",
                                       self.azurite.queue_port: "queue",
                                       self.azurite.table_port: "table"}).install()
        return self

    def stop(self) -> None:
        if self.counter is not None:
            self.counter.uninstall()
            self.counter = None
        if self.fakes is not None:
            self.fakes.stop()
            self.fakes = None
        if self.azurite is not None:
            self.azurite.stop()
            self.azurite = None
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env = {}

    def __enter__(self) -> "Stack":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def azurite_pid(self) -> int:
        return self.azurite.process.pid

    def desk(self):
        from shared_code.services.helpdesk import Helpdesk

        return Helpdesk.from_env()

    def add_account(self, address: str, batch_size: int = 100, **options) -> None:
        from shared_code.domain.model import EmailAccount

        self.fakes.add_mailbox(address)
        self.desk().accounts.add(EmailAccount(
            address=address, name=f"Bench {address.split('@')[0]}", purpose="department",
            department="Support", batch_size=batch_size, tenant_id=TENANT, client_id=CLIENT,
            client_secret_name=SECRET_NAME, **options))


# ============================================================================ mails


def _mail(sender: str, to: str, subject: str, body: str, *, html: bool = False,
          in_reply_to: str | None = None) -> tuple[bytes, str]:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Date"] = format_datetime(datetime.now(timezone.utc))
    msg["Message-ID"] = message_id = make_msgid(domain="bench.example")
    if in_reply_to:
        msg["In-Reply-To"] = msg["References"] = in_reply_to
    msg.set_content(body)
    if html:
        msg.add_alternative(f"<p>{body}</p><p><img src=\"cid:logo@bench.example\"></p>",
                            subtype="html")
        msg.get_payload()[1].add_related(PIXEL, "image", "png", cid="<logo@bench.example>",
                                         filename="logo.png")
    return msg.as_bytes(), message_id


SENDERS = ["Ann Client <ann@example.org>", "Bob Buyer <bob@example.net>",
           "Chen Wei <chen@example.com>", "Dora Diaz <dora@example.org>"]


def mixed_mails(count: int, to: str) -> tuple[list[bytes], Counter]:
    """`count` small mails cycling plain / HTML with an inline image / a reply to the plain mail
    two before it (which threads by In-Reply-To). Returns the raws and the expected outcomes."""
    raws, expected, last_plain = [], Counter(), None
    for i in range(count):
        sender = SENDERS[i % len(SENDERS)]
        kind = i % 3
        if kind == 0:
            raw, last_plain = _mail(sender, to, f"Printer {i} is on fire",
                                    f"Hello,\n\nprinter {i} on floor {i % 7} is on fire again.\n"
                                    "Please send someone.\n\nAnn")
            expected["created"] += 1
        elif kind == 1:
            raw, _ = _mail(sender, to, f"Invoice question {i}",
                           f"Could you resend invoice 2026-{i:04d}? Our logo is below.", html=True)
            expected["created"] += 1
        else:
            raw, _ = _mail(SENDERS[(i - 2) % len(SENDERS)], to, f"Re: Printer {i - 2} is on fire",
                           "It works again, thanks!\n\nOn Mon, Ann wrote:\n> Hello,\n"
                           f"> printer {i - 2} is on fire again.", in_reply_to=last_plain)
            expected["threaded"] += 1
        raws.append(raw)
    return raws, expected


def big_inline_mail(to: str, images: int = 10, target_bytes: int = 25 * MB) -> tuple[bytes, int]:
    """multipart/related HTML referencing `images` cid images of random bytes, base64-encoded,
    sized so the raw mail is about `target_bytes`. Returns (raw, decoded bytes per image)."""
    # base64 with 76-character lines and CRLF: 4/3 x 78/76 raw bytes per decoded byte
    per_image = int(target_bytes / images / (4 / 3 * 78 / 76))
    rng = random.Random(25)
    boundary_rel, boundary_alt = "bench-related-boundary", "bench-alternative-boundary"
    cids = [f"image{n:02d}@bench.example" for n in range(images)]
    html = ("<html><body><p>Photos of the damage, as requested.</p>"
            + "".join(f'<p><img src="cid:{cid}" alt="photo {n}"></p>' for n, cid in enumerate(cids))
            + "</body></html>")
    head = (
        "From: Paula Photos <paula@example.org>\r\n"
        f"To: {to}\r\n"
        "Subject: Photos of the water damage\r\n"
        f"Date: {format_datetime(datetime.now(timezone.utc))}\r\n"
        f"Message-ID: {make_msgid(domain='bench.example')}\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/related; boundary="{boundary_rel}"; type="multipart/alternative"\r\n'
        "\r\n"
        f"--{boundary_rel}\r\n"
        f'Content-Type: multipart/alternative; boundary="{boundary_alt}"\r\n'
        "\r\n"
        f"--{boundary_alt}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        "Photos of the damage, as requested.\r\n"
        f"--{boundary_alt}\r\n"
        "Content-Type: text/html; charset=utf-8\r\n\r\n"
        f"{html}\r\n"
        f"--{boundary_alt}--\r\n"
    ).encode("ascii")
    chunks = [head]
    for n, cid in enumerate(cids):
        data = rng.randbytes(per_image)
        chunks.append((
            f"--{boundary_rel}\r\n"
            f'Content-Type: image/jpeg; name="photo{n:02d}.jpg"\r\n'
            "Content-Transfer-Encoding: base64\r\n"
            f"Content-ID: <{cid}>\r\n"
            f'Content-Disposition: inline; filename="photo{n:02d}.jpg"\r\n'
            "\r\n"
        ).encode("ascii"))
        chunks.append(base64.encodebytes(data).replace(b"\n", b"\r\n"))
    chunks.append(f"--{boundary_rel}--\r\n".encode("ascii"))
    return b"".join(chunks), per_image


# ============================================================================ fetch runs


def drain(stack: Stack, address: str, max_runs: int = 50) -> list:
    """fetch_account until a run fetches nothing (a fresh Helpdesk per run, like the queue
    function); returns the FetchSummary of every run."""
    from shared_code.services.fetch import fetch_account

    summaries = []
    for _ in range(max_runs):
        summary = fetch_account(stack.desk(), address)
        summaries.append(summary)
        if summary.skipped:
            raise BenchmarkError(f"fetch of {address} skipped: {summary.skipped}")
        if summary.fetched == 0:
            return summaries
    raise BenchmarkError(f"{address}: still fetching after {max_runs} runs (mailbox stuck?)")


def totals(summaries) -> Counter:
    out = Counter()
    for s in summaries:
        for name in ("fetched", "created", "threaded", "discarded", "duplicates", "ignored",
                     "quarantined"):
            out[name] += getattr(s, name)
        out["errors"] += len(s.errors)
    return out


def verify(stack: Stack, address: str, count: int, expected: Counter | None, got: Counter) -> list[str]:
    """Every mail read, every ledger row done, outcomes as expected; returns the problems."""
    problems = []
    unread = stack.fakes.unread(address)
    if unread:
        problems.append(f"{len(unread)} mails still unread")
    rows = stack.desk().ledger.list(address)
    states = Counter(row.get("state") for row in rows)
    if len(rows) != count or states.get("done", 0) != count:
        problems.append(f"ledger: {len(rows)} rows, states {dict(states)}, expected {count} done")
    if got["errors"]:
        problems.append(f"{got['errors']} errors in the fetch summaries")
    for name, value in (expected or {}).items():
        if got[name] != value:
            problems.append(f"{name}: {got[name]}, expected {value}")
    return problems


def measure_ingest(stack: Stack, address: str, raws: list[bytes], expected: Counter | None) -> dict:
    """Seed `raws` into `address`, drain it, and return the throughput, CPU and request figures."""
    stack.fakes.add_messages(address, raws)
    graph_before = stack.fakes.stats(address)
    storage_before = stack.counter.snapshot()
    cpu_before = self_cpu_seconds()
    azurite_before = proc_cpu_seconds(stack.azurite_pid)
    fakes_before = proc_cpu_seconds(stack.fakes.pid)
    started = time.perf_counter()
    summaries = drain(stack, address)
    wall = time.perf_counter() - started
    cpu = self_cpu_seconds() - cpu_before
    azurite_cpu = proc_cpu_seconds(stack.azurite_pid) - azurite_before
    fakes_cpu = proc_cpu_seconds(stack.fakes.pid) - fakes_before
    storage = stack.counter.snapshot() - storage_before
    graph_after = stack.fakes.stats(address)
    got = totals(summaries)
    mails = got["fetched"]
    kinds = Counter(graph_after["kinds"]) - Counter(graph_before["kinds"])
    statuses = Counter(graph_after["statuses"]) - Counter(graph_before["statuses"])
    graph_requests = graph_after["graph_requests"] - graph_before["graph_requests"]
    storage_total = sum(storage.values())
    return {
        "mails": mails,
        "runs": len(summaries),
        "wall_seconds": round(wall, 3),
        "mails_per_second": round(mails / wall, 1) if wall else 0.0,
        "cpu_ms_per_mail": round(1000 * cpu / mails, 2) if mails else None,
        "azurite_cpu_ms_per_mail": round(1000 * azurite_cpu / mails, 2) if mails else None,
        "fakes_cpu_ms_per_mail": round(1000 * fakes_cpu / mails, 2) if mails else None,
        "graph_requests": graph_requests,
        "graph_requests_per_mail": round(graph_requests / mails, 3) if mails else None,
        "graph_requests_by_kind": dict(kinds),
        "graph_statuses": dict(statuses),
        "graph_max_concurrency": graph_after["max_concurrency"],
        "token_requests": graph_after["token_requests"] - graph_before["token_requests"],
        "storage_requests": storage_total,
        "storage_requests_per_mail": round(storage_total / mails, 2) if mails else None,
        "storage_requests_by_operation": dict(storage.most_common()),
        "outcomes": {k: v for k, v in got.items() if k != "fetched"},
        "problems": verify(stack, address, len(raws), expected, got),
    }


def warm_up(stack: Stack) -> None:
    """Imports (MSAL, requests, the Azure SDKs), tables, containers, queues, the first token."""
    address = f"bench-warmup@{DOMAIN}"
    stack.add_account(address)
    raws, _ = mixed_mails(3, address)
    stack.fakes.add_messages(address, raws)
    drain(stack, address)


def storage_round_trip(stack: Stack, count: int = 200) -> dict:
    """Calibration: what one Table Storage request costs here, through the SDK (as the app
    makes it) and as the same signed GET sent with bare http.client (no SDK, no requests)."""
    import http.client

    from azure.data.tables import TableServiceClient

    service = TableServiceClient.from_connection_string(stack.azurite.connection_string)
    service.create_table_if_not_exists("benchcalibration")
    table = service.get_table_client("benchcalibration")
    table.upsert_entity({"PartitionKey": "p", "RowKey": "r", "value": "x" * 200})
    captured = {}
    table.get_entity("p", "r", raw_response_hook=lambda r: captured.setdefault("req", r.http_request))
    request = captured["req"]
    url = urlsplit(request.url)
    path = url.path + (f"?{url.query}" if url.query else "")
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)

    def bare() -> None:
        conn.request("GET", path, headers=dict(request.headers))
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise BenchmarkError(f"calibration GET answered {response.status}")

    def timed(call) -> dict:
        call()
        cpu, azurite = self_cpu_seconds(), proc_cpu_seconds(stack.azurite_pid)
        started = time.perf_counter()
        for _ in range(count):
            call()
        wall = time.perf_counter() - started
        return {"wall_ms": round(1000 * wall / count, 2),
                "client_cpu_ms": round(1000 * (self_cpu_seconds() - cpu) / count, 2),
                "azurite_cpu_ms": round(1000 * (proc_cpu_seconds(stack.azurite_pid) - azurite)
                                        / count, 2)}

    from azure.core.pipeline.transport import RequestsTransport

    # the same client without requests' per-request environment lookups (proxies, .netrc)
    quiet = TableServiceClient.from_connection_string(
        stack.azurite.connection_string, transport=RequestsTransport(use_env_settings=False))
    quiet_table = quiet.get_table_client("benchcalibration")
    try:
        return {"requests": count,
                "sdk_get_entity": timed(lambda: table.get_entity("p", "r")),
                "sdk_get_entity_no_env_settings": timed(lambda: quiet_table.get_entity("p", "r")),
                "http_client_get": timed(bare)}
    finally:
        conn.close()
        quiet.close()
        service.delete_table("benchcalibration")
        service.close()


# ============================================================================ (e) memory, in a child


def memory_probe(warm: str, big: str) -> dict:
    """In a fresh process: fetch `warm` (one small mail), then `big` (the 25 MB mail)."""
    from shared_code.services.fetch import fetch_account
    from shared_code.services.helpdesk import Helpdesk

    def rss_mb() -> tuple[float, float]:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        current = 0.0
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                current = int(line.split()[1]) / 1024
        return peak, current

    warm_summary = fetch_account(Helpdesk.from_env(), warm)
    idle_peak, idle_rss = rss_mb()
    started = time.perf_counter()
    big_summary = fetch_account(Helpdesk.from_env(), big)
    seconds = time.perf_counter() - started
    peak, rss = rss_mb()
    return {
        "warm_up": {"fetched": warm_summary.fetched, "created": warm_summary.created,
                    "errors": warm_summary.errors},
        "big": {"fetched": big_summary.fetched, "created": big_summary.created,
                "errors": big_summary.errors, "seconds": round(seconds, 2)},
        "idle_peak_mb": round(idle_peak, 1), "idle_rss_mb": round(idle_rss, 1),
        "peak_mb": round(peak, 1), "rss_after_mb": round(rss, 1),
        "peak_growth_mb": round(peak - idle_peak, 1),
    }


def measure_memory(stack: Stack, timeout: float) -> dict:
    warm, big = f"bench-mem-warm@{DOMAIN}", f"bench-mem-big@{DOMAIN}"
    stack.add_account(warm)
    stack.add_account(big)
    stack.fakes.add_messages(warm, mixed_mails(1, warm)[0])
    raw, per_image = big_inline_mail(big)
    stack.fakes.add_messages(big, [raw])
    raw_mb = len(raw) / MB
    del raw
    result = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--memory-probe", warm, big],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=os.environ.copy())
    if result.returncode != 0:
        raise BenchmarkError(f"memory probe failed ({result.returncode}):\n{result.stderr[-3000:]}")
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    probe.update(raw_mail_mb=round(raw_mb, 1), images=10, image_mb=round(per_image / MB, 2))
    ticket = _big_ticket(stack, big)
    probe["inline_images_stored"] = ticket
    return probe


def _big_ticket(stack: Stack, address: str) -> int | None:
    """How many inline attachments the big mail's ticket entry holds."""
    desk = stack.desk()
    for row in desk.ledger.list(address):
        if row.get("ticket"):
            entries = desk.tickets.entries(row["ticket"])
            return sum(1 for e in entries for a in e.attachments if a.inline)
    return None


# ============================================================================ (f) import time


def measure_import(repeats: int) -> dict:
    python = sys.executable

    def timed(code: str) -> float:
        started = time.perf_counter()
        subprocess.run([python, "-c", code], cwd=ROOT, check=True, timeout=60,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - started

    timed("import function_app")  # warm the file cache and the .pyc files
    app = [timed("import function_app") for _ in range(repeats)]
    bare = [timed("pass") for _ in range(repeats)]
    result = subprocess.run([python, "-X", "importtime", "-c", "import function_app"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, check=True)
    rows = []
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if match:
            rows.append((int(match.group(1)), int(match.group(2)), len(match.group(3)) // 2,
                         match.group(4)))
    total = next((cum for _, cum, _, name in rows if name == "function_app"), None)
    by_self = sorted(rows, reverse=True)[:5]
    # cumulative, for what function_app pulls in (nesting level 1: its direct imports and the
    # heavy leaves below them are listed by self time above)
    nested = [r for r in rows if r[2] >= 1 and r[3] != "function_app"]
    by_cumulative = sorted(nested, key=lambda r: r[1], reverse=True)[:5]
    return {
        "repeats": repeats,
        "import_function_app_ms": round(1000 * statistics.median(app), 1),
        "python_pass_ms": round(1000 * statistics.median(bare), 1),
        "import_cost_ms": round(1000 * (statistics.median(app) - statistics.median(bare)), 1),
        "importtime_function_app_cumulative_ms": round(total / 1000, 1) if total else None,
        "top_self": [{"module": n, "self_ms": round(s / 1000, 1), "cumulative_ms": round(c / 1000, 1)}
                     for s, c, _, n in by_self],
        "top_cumulative": [{"module": n, "self_ms": round(s / 1000, 1),
                            "cumulative_ms": round(c / 1000, 1)} for s, c, _, n in by_cumulative],
    }


# ============================================================================ profile


#: (label, file name ending, function name) of the entries whose cumulative time the profile
#: summary reports; built-ins have the file name "~".
PROFILE_ENTRIES = (
    ("fetch_account (the whole run)", "shared_code/services/fetch.py", "fetch_account"),
    ("storage requests: azure-core Pipeline.run, all of them", "azure/core/pipeline/_base.py", "run"),
    ("  socket recv_into (waiting for the answers, the CPU and the GIL)", "~",
     "<method 'recv_into' of '_socket.socket' objects>"),
    ("  socket sendall (also waits for the GIL and the CPU)", "~",
     "<method 'sendall' of '_socket.socket' objects>"),
    ("  requests: per-request environment lookups (proxies)", "requests/sessions.py",
     "merge_environment_settings"),
    ("  requests: per-request ~/.netrc lookups", "requests/utils.py", "get_netrc_auth"),
    ("parse_mail", "shared_code/domain/mail/parse.py", "parse_mail"),
    ("waiting for the download pool (Future.result)", "concurrent/futures/_base.py", "result"),
)


def _profile_summary(stats: pstats.Stats) -> list[dict]:
    rows = []
    for label, file_end, function in PROFILE_ENTRIES:
        calls, cumulative = 0, 0.0
        for (filename, _, name), (_, ncalls, _, cumtime, _) in stats.stats.items():
            if name == function and filename.replace("\\", "/").endswith(file_end):
                calls += ncalls
                cumulative += cumtime
        rows.append({"entry": label, "calls": calls, "cumulative_seconds": round(cumulative, 3)})
    own = sum(tottime for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items()
              if "/shared_code/" in filename.replace("\\", "/"))
    rows.append({"entry": "deskmail's own code (shared_code, self time)", "calls": None,
                 "cumulative_seconds": round(own, 3)})
    return rows


def profile_fetch(stack: Stack, mails: int = 100, top: int = 30) -> dict:
    """cProfile one fetch run of `mails` new mails (main thread only; the download pool's
    threads are not profiled, their time shows as waiting in the main thread)."""
    from shared_code.services.fetch import fetch_account

    address = f"bench-profile@{DOMAIN}"
    stack.add_account(address, batch_size=mails)
    raws, _ = mixed_mails(mails, address)
    stack.fakes.add_messages(address, raws)
    storage_before = stack.counter.snapshot()
    desk = stack.desk()
    profiler = cProfile.Profile()
    started = time.perf_counter()
    summary = profiler.runcall(fetch_account, desk, address)
    wall = time.perf_counter() - started
    storage = stack.counter.snapshot() - storage_before
    stats = pstats.Stats(profiler)
    out = io.StringIO()
    stats.stream = out
    stats.sort_stats("cumulative").print_stats(top)
    return {
        "mails": summary.fetched, "wall_seconds": round(wall, 3),
        "errors": summary.errors,
        "storage_requests_per_mail": round(sum(storage.values()) / max(1, summary.fetched), 2),
        "storage_requests_by_operation": dict(storage.most_common()),
        "summary": _profile_summary(stats),
        "top_cumulative": out.getvalue(),
    }


# ============================================================================ report


def verdict(met: bool) -> str:
    return "target met" if met else "target missed"


def print_report(results: dict) -> None:
    a, d, e, f = (results.get(k) for k in ("a_throughput", "d_latency", "e_memory", "f_import"))
    lines = []
    if a:
        lines += [
            ("a. mails/s, no latency", f"{a['mails_per_second']:.1f} mails/s "
             f"({a['mails']} mails, {a['runs']} runs, {a['wall_seconds']:.2f} s)",
             f">= {TARGET_MAILS_PER_SECOND:.0f}", verdict(a["mails_per_second"] >= TARGET_MAILS_PER_SECOND)),
            ("b. CPU ms/mail, this process", f"{a['cpu_ms_per_mail']:.2f} ms", "", ""),
            ("b. CPU ms/mail, Azurite", f"{a['azurite_cpu_ms_per_mail']:.2f} ms", "", ""),
            ("b. CPU ms/mail, Graph fakes", f"{a['fakes_cpu_ms_per_mail']:.2f} ms", "", ""),
            ("c. Graph requests/mail", f"{a['graph_requests_per_mail']:.3f} "
             f"({a['graph_requests']} requests, {a['token_requests']} token requests)", "", ""),
            ("c. storage requests/mail", f"{a['storage_requests_per_mail']:.2f} "
             f"({a['storage_requests']} requests)", "", ""),
        ]
    rt = results.get("c_storage_round_trip")
    if rt:
        sdk, bare = rt["sdk_get_entity"], rt["http_client_get"]
        quiet = rt["sdk_get_entity_no_env_settings"]
        lines += [
            ("c. one storage request, SDK", f"{sdk['wall_ms']:.2f} ms wall, {sdk['client_cpu_ms']:.2f} ms "
             f"CPU here + {sdk['azurite_cpu_ms']:.2f} ms Azurite (get_entity x {rt['requests']})", "", ""),
            ("c. same, use_env_settings=False", f"{quiet['wall_ms']:.2f} ms wall, "
             f"{quiet['client_cpu_ms']:.2f} ms CPU here + {quiet['azurite_cpu_ms']:.2f} ms Azurite",
             "", ""),
            ("c. same GET, bare http.client", f"{bare['wall_ms']:.2f} ms wall, {bare['client_cpu_ms']:.2f} ms "
             f"CPU here + {bare['azurite_cpu_ms']:.2f} ms Azurite", "", ""),
        ]
    if d:
        lines += [
            ("d. mails/s, 50 ms latency, limit 4", f"{d['mails_per_second']:.1f} mails/s "
             f"({d['mails']} mails, {d['wall_seconds']:.2f} s, max concurrency "
             f"{d['graph_max_concurrency']}, 429s {d['graph_statuses'].get('429', 0)})", "", ""),
            ("d. bound 4/(0.05 x req/mail)", f"{d['bound_mails_per_second']:.1f} mails/s "
             f"({d['graph_requests_per_mail']:.3f} req/mail)", "", ""),
            ("d. ratio to the bound", f"{100 * d['ratio_to_bound']:.0f} %",
             f">= {100 * TARGET_BOUND_RATIO:.0f} %", verdict(d["ratio_to_bound"] >= TARGET_BOUND_RATIO)),
        ]
    if e:
        lines += [("e. peak RSS growth, 25 MB mail", f"{e['peak_growth_mb']:.1f} MB "
                   f"(idle peak {e['idle_peak_mb']:.0f} MB -> {e['peak_mb']:.0f} MB; "
                   f"raw {e['raw_mail_mb']:.1f} MB, {e['inline_images_stored']} images stored)",
                   f"< {TARGET_MEMORY_MB:.0f} MB", verdict(e["peak_growth_mb"] < TARGET_MEMORY_MB))]
    if f:
        lines += [("f. import function_app", f"{f['import_cost_ms']:.0f} ms "
                   f"(median {f['import_function_app_ms']:.0f} ms - python -c pass "
                   f"{f['python_pass_ms']:.0f} ms, n={f['repeats']})", "", "")]
    width = max(len(line[0]) for line in lines) if lines else 0
    value_width = min(80, max(len(line[1]) for line in lines)) if lines else 0
    print()
    for name, value, target, met in lines:
        print(f"{name:<{width}}  {value:<{value_width}}  {target:<8} {met}".rstrip())
    if f:
        print("\n   python -X importtime, top 5 by self time:")
        for row in f["top_self"]:
            print(f"     {row['self_ms']:8.1f} ms self {row['cumulative_ms']:8.1f} ms cum.  {row['module']}")
        print("   top 5 by cumulative time (below function_app):")
        for row in f["top_cumulative"]:
            print(f"     {row['cumulative_ms']:8.1f} ms cum.  {row['module']}")
    if a:
        print("\n   storage requests per mail by operation (part a):")
        for op, count in sorted(a["storage_requests_by_operation"].items(), key=lambda i: -i[1]):
            print(f"     {count / a['mails']:6.2f}  {op}")
        print("   Graph requests by kind (part a): " + ", ".join(
            f"{k}: {v}" for k, v in sorted(a["graph_requests_by_kind"].items())))
    for key in ("a_throughput", "d_latency"):
        if results.get(key, {}).get("problems"):
            print(f"\n   PROBLEMS in {key}: " + "; ".join(results[key]["problems"]))
    profile = results.get("profile")
    if profile:
        print(f"\nProfile of one fetch run of {profile['mails']} mails "
              f"({profile['wall_seconds']:.2f} s under cProfile, main thread):")
        for row in profile["summary"]:
            calls = f"{row['calls']:6d} calls" if row["calls"] is not None else " " * 12
            print(f"   {row['cumulative_seconds']:7.3f} s {calls}  {row['entry']}")
        print(profile["top_cumulative"])


# ============================================================================ main


@contextmanager
def time_budget(seconds: int):
    """Abort the run (BenchmarkTimeout) after `seconds`, and on SIGTERM, so cleanup runs."""
    def on_alarm(signum, frame):
        raise BenchmarkTimeout(f"time budget of {seconds} s spent")

    def on_term(signum, frame):
        raise BenchmarkTimeout("terminated")

    previous = signal.signal(signal.SIGALRM, on_alarm), signal.signal(signal.SIGTERM, on_term)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous[0])
        signal.signal(signal.SIGTERM, previous[1])


def machine() -> dict:
    """Where and on what code the numbers were taken (git is read only, never changed)."""
    load = os.getloadavg()

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                                  timeout=10).stdout.rstrip("\n")
        except (OSError, subprocess.SubprocessError):
            return ""

    changed = [line[3:] for line in git("status", "--porcelain", "--", "function_app.py",
                                        "functions", "shared_code").splitlines()]
    return {"nproc": os.cpu_count(), "python": sys.version.split()[0],
            "platform": sys.platform, "loadavg_at_start": [round(x, 2) for x in load],
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": git("rev-parse", "--short", "HEAD"), "uncommitted_app_files": changed}


def run(args) -> dict:
    results: dict = {"machine": machine(), "args": {"mails": args.mails, "quick": args.quick}}

    def step(text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)

    with Stack() as stack:
        step("warm-up")
        warm_up(stack)

        step(f"(a-c) {args.mails} mails, no latency")
        address = f"bench-throughput@{DOMAIN}"
        stack.add_account(address, batch_size=100)
        raws, expected = mixed_mails(args.mails, address)
        results["a_throughput"] = measure_ingest(stack, address, raws, expected)

        step(f"(d) {args.mails} mails, Graph latency 50 ms, concurrency limit 4")
        address = f"bench-latency@{DOMAIN}"
        stack.add_account(address, batch_size=100)
        raws, expected = mixed_mails(args.mails, address)
        stack.fakes.configure(0.05, 4)
        try:
            d = measure_ingest(stack, address, raws, expected)
        finally:
            stack.fakes.configure(0.0, None)
        d["bound_mails_per_second"] = round(4 / (0.05 * d["graph_requests_per_mail"]), 1)
        d["ratio_to_bound"] = round(d["mails_per_second"] / d["bound_mails_per_second"], 3)
        results["d_latency"] = d

        step("storage round-trip calibration")
        results["c_storage_round_trip"] = storage_round_trip(stack)

        step("(e) one 25 MB mail with 10 inline images, in a child process")
        results["e_memory"] = measure_memory(stack, timeout=180)

        if args.profile:
            step("profile: one fetch run of 100 mails under cProfile")
            results["profile"] = profile_fetch(stack)

    step(f"(f) import time, {args.import_repeats} fresh interpreters each")
    results["f_import"] = measure_import(args.import_repeats)
    results["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    a, d, e = results["a_throughput"], results["d_latency"], results["e_memory"]
    results["targets"] = {
        "a_mails_per_second": verdict(a["mails_per_second"] >= TARGET_MAILS_PER_SECOND),
        "d_ratio_to_bound": verdict(d["ratio_to_bound"] >= TARGET_BOUND_RATIO),
        "e_peak_growth_mb": verdict(e["peak_growth_mb"] < TARGET_MEMORY_MB),
    }
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mails", type=int, help="mails for parts a and d (default 300, quick 30)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 30 mails, 3 import runs")
    parser.add_argument("--profile", action="store_true",
                        help="also cProfile one fetch run of 100 mails")
    parser.add_argument("--json", metavar="FILE", help="also write the JSON results here")
    parser.add_argument("--budget", type=int, help="abort after this many seconds "
                        "(default 600, quick 120)")
    parser.add_argument("--memory-probe", nargs=2, metavar=("WARM", "BIG"), help=argparse.SUPPRESS)
    parser.add_argument("--serve-fakes", type=int, metavar="FD", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.serve_fakes is not None:
        serve_fakes(args.serve_fakes)
        return 0

    if args.memory_probe:
        print(json.dumps(memory_probe(*args.memory_probe)))
        return 0

    args.mails = args.mails or (30 if args.quick else 300)
    args.import_repeats = 3 if args.quick else 7
    budget = args.budget or (120 if args.quick else 600)
    try:
        with time_budget(budget):
            results = run(args)
    except BenchmarkTimeout as stop:
        print(f"benchmark aborted: {stop}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("benchmark interrupted", file=sys.stderr)
        return 130
    print_report(results)
    text = json.dumps(results, indent=2, default=str)
    print("\nJSON:")
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    problems = [p for key in ("a_throughput", "d_latency") for p in results[key]["problems"]]
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
