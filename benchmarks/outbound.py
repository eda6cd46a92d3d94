"""Outbound benchmark: notifications rendered and sent per second, and process CPU per one.

Starts Azurite and, in a child process (so its CPU is not counted as the app's), the Graph and
identity stand-ins with no injected latency; the CPU of both is reported separately. Sets up DEPARTMENTS departments, each with its own
sending account (Exchange Online allows 30 messages a minute per mailbox, so the run spreads
over mailboxes as a real helpdesk does) and tickets with a staff reply each; their Response
notifications, plus a Ticket Closed notice per ticket, wait on `outbound-mail`. Then one
`drain_outbound` sends them all, as the queue trigger would, and is timed.

    .venv/bin/python benchmarks/outbound.py [--departments 50] [--tickets 10] \
        [--processes 1] [--workers 1]
"""
from __future__ import annotations

import argparse
import multiprocessing
from collections import Counter
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.inbound import StorageCounter, proc_cpu_seconds  # noqa: E402
from tests.fakes.azurite import Azurite  # noqa: E402

TENANT, CLIENT_ID, SECRET_NAME, SECRET = "bench-tenant", "bench-app", "bench-secret", "bench-secret-value"


def _cloud(conn, mailboxes: list[str]) -> None:
    """Child process: the Graph and identity fakes until told to stop; reports what was sent."""
    from tests.fakes import FakeCloud

    cloud = FakeCloud(set_ca_env=False).start()
    cloud.identity.register_app(TENANT, CLIENT_ID, SECRET)
    for mailbox in mailboxes:
        cloud.graph.add_mailbox(mailbox)
    conn.send((cloud.graph_url, cloud.authority_host, cloud.ca_bundle_path))
    conn.recv()
    conn.send(len(cloud.graph.sent))
    cloud.stop()


def _setup(departments: int, tickets: int) -> int:
    from shared_code.domain.model import (
        Department, EmailAccount, Entry, Party, Priority, Staff, Status, Ticket,
    )
    from shared_code.services import actions
    from shared_code.services.helpdesk import Helpdesk

    desk = Helpdesk.from_env()
    now = datetime.now(timezone.utc)
    for d in range(departments):
        name, address = f"Dept{d:03d}", f"dept{d:03d}@contoso.example"
        desk.accounts.add(EmailAccount(address=address, name=f"Contoso {name}", purpose="department",
                                       department=name, fetch_enabled=False, tenant_id=TENANT,
                                       client_id=CLIENT_ID, client_secret_name=SECRET_NAME))
        desk.directory.add_department(Department(name=name, email=address))
        agent = f"agent{d:03d}@contoso.example"
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


def _drain(ready, go, done, workers: int, ports: dict[int, str]) -> None:
    """One "Functions instance": drain the queue with `workers` threads; report its outcomes,
    CPU seconds and storage requests (counted by the inbound benchmark's transport wrapper)."""
    from shared_code.services.helpdesk import Helpdesk
    from shared_code.services.send import drain_outbound

    desk = Helpdesk.from_env()
    counter = StorageCounter(ports).install()
    ready.set()
    go.wait()
    cpu = time.process_time()
    results = drain_outbound(desk, max_messages=100_000, workers=workers)
    done.put(([r.outcome for r in results], time.process_time() - cpu, counter.snapshot()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--departments", type=int, default=50)
    parser.add_argument("--tickets", type=int, default=10, help="per department (at most 14)")
    parser.add_argument("--processes", type=int, default=1, help="draining processes (instances)")
    parser.add_argument("--workers", type=int, default=1, help="threads per process")
    args = parser.parse_args()

    mailboxes = [f"dept{d:03d}@contoso.example" for d in range(args.departments)]
    spawn = multiprocessing.get_context("spawn")
    parent, child = spawn.Pipe()
    cloud = spawn.Process(target=_cloud, args=(child, mailboxes), daemon=True)
    cloud.start()
    graph_url, authority_host, ca_bundle = parent.recv()
    azurite = Azurite(ROOT).start()
    try:
        os.environ.update({
            "AzureWebJobsStorage": azurite.connection_string, "GRAPH_API_URL": graph_url,
            "AZURE_AUTHORITY_HOST": authority_host, "SSL_CERT_FILE": ca_bundle,
            "REQUESTS_CA_BUNDLE": ca_bundle, SECRET_NAME.upper().replace("-", "_"): SECRET,
        })
        os.environ.pop("KEY_VAULT_URL", None)
        expected = _setup(args.departments, args.tickets)

        go, done = spawn.Event(), spawn.Queue()
        ports = {azurite.blob_port: "blob", azurite.queue_port: "queue",
                 azurite.table_port: "table"}
        drains = []
        for _ in range(args.processes):
            ready = spawn.Event()
            drains.append(spawn.Process(target=_drain, args=(ready, go, done, args.workers, ports)))
            drains[-1].start()
            ready.wait(60)
        others = {"Azurite": azurite.process.pid, "the Graph/identity fakes": cloud.pid}
        before = {name: proc_cpu_seconds(pid) for name, pid in others.items()}
        wall = time.perf_counter()
        go.set()
        reports = [done.get(timeout=3600) for _ in drains]
        wall = time.perf_counter() - wall
        spent = {name: proc_cpu_seconds(pid) - before[name] for name, pid in others.items()}
        for drain in drains:
            drain.join(10)

        parent.send("stop")
        received = parent.recv()
        outcomes = [o for report in reports for o in report[0]]
        counts = {o: outcomes.count(o) for o in sorted(set(outcomes))}
        cpu = sum(report[1] for report in reports)
        print(f"{expected} notifications, {args.departments} sending mailboxes, "
              f"{args.processes} process(es) x {args.workers} thread(s), {os.cpu_count()} CPUs")
        print(f"outcomes {counts}; the Graph fake received {received}")
        print(f"wall {wall:.2f} s -> {expected / wall:.1f} notifications/s")
        print(f"process CPU {cpu:.2f} s -> {cpu * 1000 / expected:.1f} ms per notification")
        for name, seconds in spent.items():
            print(f"  CPU of {name}: {seconds * 1000 / expected:.1f} ms per notification")
        requests = sum((report[2] for report in reports), start=Counter())
        print(f"storage requests: {sum(requests.values()) / expected:.2f} per notification")
        for label, count in requests.most_common():
            print(f"  {count / expected:6.3f}  {label}")
        return 0 if counts == {"sent": expected} and received == expected else 1
    finally:
        azurite.stop()
        cloud.join(10)


if __name__ == "__main__":
    sys.exit(main())
