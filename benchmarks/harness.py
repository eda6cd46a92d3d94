"""The benchmarks' shared harness: Azurite, the counting proxy and the Graph fakes as child
processes, the app's environment pointed at them, CPU and request accounting, time budget,
and the results table. Every benchmark imports it one way::

    sys.path.insert(0, str(ROOT))          # the repository root
    from benchmarks.harness import Stack, ...

Processes (each one's CPU is read separately, so the app's CPU is only the app's):

* this process runs the application's code (``fetch_account``, ``drain_outbound``, the Azure
  SDKs, MSAL), with a fresh ``Helpdesk.from_env()`` per run, as a queue function builds one
  per invocation: ``getrusage(RUSAGE_SELF)`` is the app's CPU;
* Azurite (in memory), ``tests/fakes/azurite.py``;
* the counting proxy (``benchmarks/storage_proxy.py``) in front of Azurite: the app's
  ``AzureWebJobsStorage`` points at it, so storage requests are counted at the HTTP layer;
* the Graph / identity-platform fakes (``tests.fakes.FakeCloud``), ``python -m
  benchmarks.harness --serve-fakes FD`` (a real Graph does not run on the Functions host).

The parent drives the proxy and the fakes over a socket pair (``ChildProcess``).
"""
from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DOMAIN = "contoso.example"
TENANT, CLIENT = "bench-tenant", "deskmail-bench-app"
SECRET_NAME, SECRET = "deskmail-bench-secret", "bench-secret-value"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MB = 1024 * 1024


class BenchmarkTimeout(BaseException):
    """The run's time budget is spent (a BaseException: the app's `except Exception` lets it by)."""


class BenchmarkError(RuntimeError):
    """A child process or a check failed."""


# ============================================================================ child processes


def serve_commands(fd: int, info: dict, commands: dict) -> None:
    """Child side: send `info`, then answer ``(name, args)`` requests with
    ``commands[name](*args)`` until the parent sends None or goes away."""
    from multiprocessing.connection import Connection

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when this stops
    conn = Connection(fd)
    try:
        conn.send({**info, "pid": os.getpid()})
        while True:
            try:
                request = conn.recv()
            except (EOFError, OSError):
                break
            if request is None:
                break
            name, args = request
            try:
                conn.send((True, commands[name](*args)))
            except Exception as error:  # noqa: BLE001 - reported to the parent
                conn.send((False, f"{type(error).__name__}: {error}"))
    finally:
        conn.close()


class ChildProcess:
    """Parent side: ``python -m <module> <flag> FD *extra``; ``child.call(name, *args)``."""

    module = ""
    flag = ""
    commands: tuple[str, ...] = ()

    def __init__(self, *extra: str, timeout: float = 60) -> None:
        from multiprocessing.connection import Connection

        ours, theirs = socket.socketpair()
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module, self.flag, str(theirs.fileno()), *extra],
            cwd=ROOT, stdin=subprocess.DEVNULL, pass_fds=(theirs.fileno(),))
        theirs.close()
        self._conn = Connection(ours.detach())
        self._lock = threading.Lock()
        try:
            if not self._conn.poll(timeout):
                raise BenchmarkError(f"{self.module} did not start in {timeout:.0f} s")
            try:
                self.info = self._conn.recv()
            except EOFError:
                raise BenchmarkError(f"{self.module} exited (its error is above)") from None
        except BaseException:
            self.stop()
            raise
        self.pid = self.info["pid"]

    def call(self, name: str, *args):
        with self._lock:
            self._conn.send((name, args))
            if not self._conn.poll(300):
                raise BenchmarkError(f"{self.module} did not answer {name} in 300 s")
            ok, value = self._conn.recv()
        if not ok:
            raise BenchmarkError(f"{self.module} {name}: {value}")
        return value

    def __getattr__(self, name: str):
        if name in type(self).commands:
            return lambda *args: self.call(name, *args)
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


class StorageProxy(ChildProcess):
    """The counting proxy in its own process: ``StorageProxy(azurite)``; ``.ports``,
    ``.snapshot()``, ``.reset()``, ``.configure(delay_seconds)``."""

    module, flag = "benchmarks.storage_proxy", "--serve"
    commands = ("snapshot", "reset", "configure")

    def __init__(self, azurite, timeout: float = 60) -> None:
        upstream = {"blob": (azurite.host, azurite.blob_port),
                    "queue": (azurite.host, azurite.queue_port),
                    "table": (azurite.host, azurite.table_port)}
        super().__init__(json.dumps(upstream), timeout=timeout)
        self.ports = self.info["ports"]
        self.host = azurite.host

    def connection_string(self) -> str:
        from tests.fakes.azurite import ACCOUNT_KEY, ACCOUNT_NAME

        base = f"http://{self.host}"
        return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
                f"BlobEndpoint={base}:{self.ports['blob']}/{ACCOUNT_NAME};"
                f"QueueEndpoint={base}:{self.ports['queue']}/{ACCOUNT_NAME};"
                f"TableEndpoint={base}:{self.ports['table']}/{ACCOUNT_NAME};")


# -- the Graph and identity fakes, in a child


def _request_kind(method: str, path: str) -> str:
    """A Graph request's kind for the tables: list, $value, mark_read, sendMail, other."""
    bare = path.split("?", 1)[0]
    if bare.endswith("/$value"):
        return "GET $value"
    if bare.endswith("/sendMail"):
        return "POST sendMail"
    if method == "PATCH":
        return "PATCH message (mark read)"
    if bare.endswith("/messages"):
        return "GET messages (list page)"
    if "/mailFolders" in bare:
        return "GET mailFolders"
    return f"{method} other"


def _fake_stats(cloud, mailbox: str | None) -> dict:
    marker = f"/users/{mailbox.lower()}/" if mailbox else "/users/"
    records = [r for r in list(cloud.graph.requests) if marker in r.path.lower()]
    return {
        "graph_requests": len(records),
        "kinds": dict(Counter(_request_kind(r.method, r.path) for r in records)),
        "statuses": {str(k): v for k, v in Counter(r.status for r in records).items()},
        "max_concurrency": cloud.graph.max_concurrency_seen(mailbox) if mailbox else None,
        "token_requests": sum(1 for r in list(cloud.identity.requests) if "/token" in r.path),
        "fake_errors": len(cloud.graph.errors),
        "sent": len(cloud.graph.sent),
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


def serve_fakes(fd: int) -> None:
    """Child process (``python -m benchmarks.harness --serve-fakes FD``): FakeCloud."""
    from tests.fakes import FakeCloud

    cloud = FakeCloud(set_ca_env=False).start()
    try:
        serve_commands(fd, {"graph_url": cloud.graph_url, "authority_host": cloud.authority_host,
                            "ca_env": cloud.ca_env},
                       {name: (lambda *a, _f=f: _f(cloud, *a)) for name, f in _FAKE_COMMANDS.items()})
    finally:
        cloud.stop()


class Fakes(ChildProcess):
    """The fakes child: ``fakes.add_messages(address, raws)``, ``fakes.stats(mailbox)`` ..."""

    module, flag = "benchmarks.harness", "--serve-fakes"
    commands = tuple(_FAKE_COMMANDS)

    def __init__(self, timeout: float = 60) -> None:
        super().__init__(timeout=timeout)
        self.graph_url, self.authority_host = self.info["graph_url"], self.info["authority_host"]
        self.ca_env = self.info["ca_env"]


# ============================================================================ CPU


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


# ============================================================================ the stack


@dataclass
class Window:
    """What one measured stretch cost: wall, CPU per process, storage requests by label."""

    wall: float = 0.0
    app_cpu: float = 0.0
    azurite_cpu: float = 0.0
    proxy_cpu: float = 0.0
    fakes_cpu: float = 0.0
    storage: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    proxy_errors: list = field(default_factory=list)

    @property
    def storage_requests(self) -> int:
        return sum(self.storage.values())

    def per(self, count: int) -> dict:
        """The figures divided by `count` (mails, notifications), for the JSON."""
        n = max(1, count)
        return {
            "wall_seconds": round(self.wall, 3),
            "per_second": round(count / self.wall, 1) if self.wall else None,
            "app_cpu_ms": round(1000 * self.app_cpu / n, 2),
            "azurite_cpu_ms": round(1000 * self.azurite_cpu / n, 2),
            "proxy_cpu_ms": round(1000 * self.proxy_cpu / n, 2),
            "fakes_cpu_ms": round(1000 * self.fakes_cpu / n, 2),
            "storage_requests": self.storage_requests,
            "storage_requests_per_item": round(self.storage_requests / n, 2),
            "storage_by_operation": {k: round(v / n, 3) for k, v in self.storage.most_common()},
            "non_2xx": {k: v for k, v in self.statuses.items()
                        if not k.rsplit(" ", 1)[-1].startswith("2")},
            "proxy_errors": self.proxy_errors,
        }


class Stack:
    """Azurite, the counting proxy and the fakes as child processes, this process's env
    pointed at them (storage through the proxy).

    ``stack.add_account(address, batch_size)`` creates the Graph mailbox and the deskmail
    account; ``stack.desk()`` is a fresh ``Helpdesk.from_env()``; ``with stack.window() as w``
    measures a stretch of work.
    """

    def __init__(self) -> None:
        self.azurite = None
        self.proxy: StorageProxy | None = None
        self.fakes: Fakes | None = None
        self._saved_env: dict[str, str | None] = {}

    def start(self) -> "Stack":
        from tests.fakes.azurite import Azurite

        self.azurite = Azurite(ROOT).start()
        self.proxy = StorageProxy(self.azurite)
        self.fakes = Fakes()
        env = {
            "AzureWebJobsStorage": self.proxy.connection_string(),
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
        return self

    def stop(self) -> None:
        for child in (self.fakes, self.proxy):
            if child is not None:
                child.stop()
        self.fakes = self.proxy = None
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
    def direct_connection_string(self) -> str:
        """Azurite itself, bypassing the proxy: for the harness's own checks and setup."""
        return self.azurite.connection_string

    def desk(self):
        from shared_code.services.helpdesk import Helpdesk

        return Helpdesk.from_env()

    def add_account(self, address: str, batch_size: int = 100, department: str = "Support",
                    **options) -> None:
        from shared_code.domain.model import EmailAccount

        self.fakes.add_mailbox(address)
        self.desk().accounts.add(EmailAccount(
            address=address, name=f"Bench {address.split('@')[0]}", purpose="department",
            department=department, batch_size=batch_size, tenant_id=TENANT, client_id=CLIENT,
            client_secret_name=SECRET_NAME, **options))

    def proxy_problems(self) -> list[str]:
        """Requests the proxy could not relay (each one a PROBLEM: the counts may be off)."""
        return [f"storage proxy: {error}" for error in self.proxy.snapshot()["errors"]]

    def storage_counts(self) -> tuple[Counter, Counter, list]:
        snap = self.proxy.snapshot()
        return Counter(snap["requests"]), Counter(snap["statuses"]), snap["errors"]

    @contextmanager
    def window(self, extra_cpu_pids: tuple[int, ...] = ()):
        """Measure the stretch inside the block; the Window is filled when the block ends.
        `extra_cpu_pids`: app processes besides this one (their CPU counts as the app's)."""
        w = Window()
        requests, statuses, errors = self.storage_counts()
        pids = {"azurite_cpu": self.azurite.process.pid, "proxy_cpu": self.proxy.pid,
                "fakes_cpu": self.fakes.pid}
        before = {k: proc_cpu_seconds(pid) for k, pid in pids.items()}
        extra_before = sum(proc_cpu_seconds(pid) for pid in extra_cpu_pids)
        cpu, started = self_cpu_seconds(), time.perf_counter()
        yield w
        w.wall = time.perf_counter() - started
        w.app_cpu = (self_cpu_seconds() - cpu
                     + sum(proc_cpu_seconds(pid) for pid in extra_cpu_pids) - extra_before)
        for key, pid in pids.items():
            setattr(w, key, proc_cpu_seconds(pid) - before[key])
        after, after_statuses, after_errors = self.storage_counts()
        w.storage, w.statuses = after - requests, after_statuses - statuses
        w.proxy_errors = after_errors[len(errors):]


# ============================================================================ run control


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


def step(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def machine() -> dict:
    """Where and on what code the numbers were taken (git is read only, never changed)."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                                  timeout=10).stdout.rstrip("\n")
        except (OSError, subprocess.SubprocessError):
            return ""

    changed = [line[3:] for line in git("status", "--porcelain", "--", "function_app.py",
                                        "functions", "shared_code").splitlines()]
    return {"nproc": os.cpu_count(), "python": sys.version.split()[0],
            "platform": sys.platform, "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": git("rev-parse", "--short", "HEAD"), "uncommitted_app_files": changed}


# ============================================================================ the table


@dataclass
class Row:
    """One line of the results table; `met` is None for a figure without a target."""

    measure: str
    value: str
    target: str = ""
    met: bool | None = None

    def as_dict(self) -> dict:
        return {"measure": self.measure, "value": self.value, "target": self.target,
                "verdict": verdict(self.met)}


def verdict(met: bool | None) -> str:
    return "" if met is None else ("met" if met else "missed")


def print_table(rows: list[Row], title: str = "") -> None:
    """The issue's table: | measure | value | target | met/missed |."""
    if title:
        print(f"\n{title}\n")
    print("| measure | value | target | met/missed |")
    print("|---|---|---|---|")
    for row in rows:
        print(f"| {row.measure} | {row.value} | {row.target} | {verdict(row.met)} |")


def run_main(run, args, budget: int, rows_of, extra_report=None) -> int:
    """Run `run(args)` under the time budget; print the table, the extras and the JSON; exit
    status 0, 1 when a check failed (`results["problems"]`), 2 when the budget ran out."""
    try:
        with time_budget(budget):
            results = run(args)
    except BenchmarkTimeout as stop:
        print(f"benchmark aborted: {stop}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("benchmark interrupted", file=sys.stderr)
        return 130
    results["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    rows = rows_of(results)
    results["table"] = [r.as_dict() for r in rows]
    print_table(rows, f"{results['machine']['date']}, commit {results['machine']['commit']}, "
                      f"load average {results['machine']['loadavg_at_start'][0]} -> "
                      f"{results['machine']['loadavg_at_end'][0]} on {os.cpu_count()} CPUs")
    if extra_report:
        extra_report(results)
    text = json.dumps(results, indent=2, default=str)
    if getattr(args, "json", None):
        Path(args.json).write_text(text + "\n")
    else:
        print("\nJSON:\n" + text)
    problems = results.get("problems") or []
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve-fakes":
        serve_fakes(int(sys.argv[2]))
    else:
        sys.exit("usage: python -m benchmarks.harness --serve-fakes FD")
