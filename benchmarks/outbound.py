"""Outbound benchmark: notifications rendered and sent per second, CPU and storage requests per
notification.

Run from the repository root::

    .venv/bin/python benchmarks/outbound.py [--quick] [--departments 50] [--tickets 10] \
        [--processes 1] [--workers 8]

On the shared harness (``benchmarks/harness.py``: Azurite, the counting proxy, the Graph and
identity fakes with no injected latency, each in its own process). Setup, not measured:
DEPARTMENTS departments, each with its own sending account (Exchange Online allows 30 messages
a minute per mailbox, so the load is spread as a real helpdesk's is), TICKETS tickets each
with one staff reply and one close: Response/Reply and Ticket Closed notifications waiting on
``outbound-mail``. Then PROCESSES child processes ("instances") each run
``services.outbound_queue.drain_outbound`` with WORKERS threads (its default 8), as the queue trigger
would, and the drain is measured: notifications/s, the app's CPU per notification (the
children's own CPU), Azurite's, the proxy's and the fakes', and the storage requests per
notification counted at the proxy, queue receive and delete included.
"""
from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.harness import (  # noqa: E402
    CLIENT, DOMAIN, SECRET_NAME, TENANT, BenchmarkError, Row, Stack, machine, run_main, step,
)

TARGET_REQUESTS_PER_NOTIFICATION = 4.0
TARGET_NOTIFICATIONS_PER_SECOND = 60.0


def _setup(stack: Stack, departments: int, tickets: int) -> int:
    """Departments, sending accounts, staff, tickets with a staff reply and a close each;
    returns how many notifications wait on the queue."""
    from shared_code.domain.model import (
        Department, EmailAccount, Entry, Party, Priority, Staff, Status, Ticket,
    )
    from shared_code.services import actions

    desk = stack.desk()
    now = datetime.now(timezone.utc)
    for d in range(departments):
        name, address = f"Dept{d:03d}", f"dept{d:03d}@{DOMAIN}"
        stack.fakes.add_mailbox(address)
        desk.accounts.add(EmailAccount(address=address, name=f"Contoso {name}", purpose="department",
                                       department=name, fetch_enabled=False, tenant_id=TENANT,
                                       client_id=CLIENT, client_secret_name=SECRET_NAME))
        desk.directory.add_department(Department(name=name, email=address))
        agent = f"agent{d:03d}@{DOMAIN}"
        desk.directory.add_staff(Staff(name=f"Agent {d}", email=agent, department=name))
        for t in range(tickets):
            number = f"{100000 + d * 1000 + t}"
            client = Party(f"Client {number}", f"client{number}@example.org")
            message_id = f"client.{number}@example.org"
            desk.tickets.create(Ticket(number=number, subject=f"Question <{t}> & more",
                                       status=Status.OPEN, priority=Priority.NORMAL,
                                       department=name, client=client, created=now,
                                       last_message_at=now, last_message_id=message_id,
                                       message_count=1))
            desk.tickets.add_entry(Entry(ticket_number=number, entry_id=f"{now:%Y%m%dT%H%M%S%fZ}-0",
                                         type="message", sender=client, message_id=message_id,
                                         date=now, subject="Question", body_html="",
                                         body_text="Hello,\nthe checkout shows an error.\n" * 20))
            desk.index.record(message_id, number, "inbound")
            actions.reply(desk, number, agent, "Thanks, fixed. Please try again.\n" * 10)
            actions.close(desk, number, by=agent)
    return departments * tickets * 2


def _clear_outbound_queue(stack: Stack) -> None:
    """Notifications the inbound benchmark left behind are not part of this measure."""
    from azure.core.exceptions import ResourceNotFoundError
    from azure.storage.queue import QueueClient

    from shared_code.adapters.names import OUTBOUND_MAIL

    with QueueClient.from_connection_string(stack.direct_connection_string, OUTBOUND_MAIL) as queue:
        try:
            queue.clear_messages()
        except ResourceNotFoundError:
            pass


def _drain(ready, go, done, workers: int) -> None:
    """One "Functions instance" (a child process): drain the queue with `workers` threads;
    report its outcomes and its own CPU seconds. The SDKs are imported before the clock
    starts (a cold start is not a per-notification cost)."""
    import azure.data.tables  # noqa: F401
    import azure.storage.blob  # noqa: F401
    import azure.storage.queue  # noqa: F401
    import msal  # noqa: F401
    import requests  # noqa: F401

    from shared_code.adapters import graph, table_base  # noqa: F401
    from shared_code.domain import outbound_mail, templates  # noqa: F401
    from shared_code.services.helpdesk import Helpdesk
    from shared_code.services.outbound_queue import drain_outbound

    desk = Helpdesk.from_env()
    ready.set()
    go.wait()
    cpu = time.process_time()
    results = drain_outbound(desk, max_messages=100_000, workers=workers)
    done.put(([r.outcome for r in results], time.process_time() - cpu))


def measure_notifications(stack: Stack, departments: int, tickets: int, processes: int = 1,
                          workers: int = 8) -> dict:
    _clear_outbound_queue(stack)
    expected = _setup(stack, departments, tickets)
    spawn = multiprocessing.get_context("spawn")
    go, done = spawn.Event(), spawn.Queue()
    drains = []
    try:
        for _ in range(processes):
            ready = spawn.Event()
            drains.append(spawn.Process(target=_drain, args=(ready, go, done, workers), daemon=True))
            drains[-1].start()
            if not ready.wait(120):
                raise BenchmarkError("a draining process did not start in 120 s")
        sent_before = stack.fakes.stats(None)["sent"]
        with stack.window() as window:
            go.set()
            reports = [done.get(timeout=3600) for _ in drains]
        for drain in drains:
            drain.join(30)
    finally:
        for drain in drains:
            if drain.is_alive():
                drain.terminate()
                drain.join(10)
    sent = stack.fakes.stats(None)["sent"] - sent_before
    outcomes = Counter(o for report in reports for o in report[0])
    window.app_cpu = sum(report[1] for report in reports)
    problems = []
    if outcomes != Counter(sent=expected) or sent != expected:
        problems.append(f"outbound: outcomes {dict(outcomes)}, the Graph fake received {sent}, "
                        f"expected {expected} sent")
    return {"notifications": expected, "departments": departments, "processes": processes,
            "workers": workers, "outcomes": dict(outcomes), "graph_received": sent,
            **window.per(expected), "problems": problems}


def outbound_rows(results: dict) -> list[Row]:
    o = results["outbound"]
    per = o["storage_requests_per_item"]
    return [
        Row("storage requests per notification sent (queue receive and delete included)",
            f"{per:.2f}", f"<= {TARGET_REQUESTS_PER_NOTIFICATION:g}",
            per <= TARGET_REQUESTS_PER_NOTIFICATION),
        Row(f"notifications sent per second ({o['notifications']}, {o['departments']} sending "
            f"mailboxes, {o['processes']} process x {o['workers']} threads)",
            f"{o['per_second']:.1f}/s", f">= {TARGET_NOTIFICATIONS_PER_SECOND:g}/s",
            o["per_second"] >= TARGET_NOTIFICATIONS_PER_SECOND),
        Row("  CPU per notification: app / Azurite / proxy / fakes",
            f"{o['app_cpu_ms']:.1f} / {o['azurite_cpu_ms']:.1f} / {o['proxy_cpu_ms']:.1f} / "
            f"{o['fakes_cpu_ms']:.1f} ms"),
    ]


def print_operations(results: dict) -> None:
    o = results["outbound"]
    print(f"\nstorage requests per notification by operation ({o['storage_requests_per_item']:.2f}):")
    for op, count in o["storage_by_operation"].items():
        print(f"   {count:6.3f}  {op}")
    if o["non_2xx"]:
        print("   answered other than 2xx: " + ", ".join(f"{k}: {v}" for k, v in o["non_2xx"].items()))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--departments", type=int, help="sending mailboxes (default 50, quick 10)")
    parser.add_argument("--tickets", type=int, help="per department, at most 14 (default 10, quick 3)")
    parser.add_argument("--processes", type=int, default=1, help="draining processes (instances)")
    parser.add_argument("--workers", type=int, default=8, help="threads per process "
                        "(drain_outbound's default 8)")


def outbound_defaults(args, departments: int = 50) -> None:
    args.departments = args.departments or (10 if args.quick else departments)
    args.tickets = args.tickets or (3 if args.quick else 10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("--quick", action="store_true", help="smoke run: 60 notifications")
    parser.add_argument("--json", metavar="FILE", help="write the JSON results here (else printed)")
    parser.add_argument("--budget", type=int, default=1800, help="abort after this many seconds")
    args = parser.parse_args(argv)
    outbound_defaults(args)

    def run(args) -> dict:
        results = {"machine": machine(), "args": vars(args)}
        with Stack() as stack:
            step(f"setup: {args.departments * args.tickets * 2} notifications; then the drain")
            results["outbound"] = measure_notifications(stack, args.departments, args.tickets,
                                                        args.processes, args.workers)
            results["problems"] = results["outbound"]["problems"] + stack.proxy_problems()
        return results

    return run_main(run, args, args.budget, outbound_rows, print_operations)


if __name__ == "__main__":
    sys.exit(main())
