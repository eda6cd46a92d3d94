"""Push benchmark (issue 10 §1): time from a mail's arrival in the fake mailbox to its ticket,
with Graph change notifications (push) and with the minute timer alone, in the same run.

Run from the repository root::

    .venv/bin/python benchmarks/push.py            # 200 mails over 10 minutes per mailbox
    .venv/bin/python benchmarks/push.py --quick    # 40 mails over 3 minutes
    .venv/bin/python benchmarks/push.py --quick --batch-size 100   # no timer backlog

In one process: Azurite, the TLS fakes (Graph with subscriptions), the web app's webhook under
uvicorn, two queue workers that poll `fetch-jobs` every `--poll` seconds when it is empty (as
the Functions host does with host.json's maxPollingInterval of 2 s) and run `run_fetch_job`,
and the minute timer (`enqueue_fetch_jobs` every 60 s from a random phase). Two mailboxes
receive the same arrival schedule (uniformly random times): `push@` has a subscription,
`timer@` has none, so it is fetched by the timer alone. A ticket counts as existing when the
fetch job that created it has finished (an upper bound: the ticket row is written earlier).
Exit status 1 when a mail never became a ticket or the push target is missed.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PUSH, TIMER = "push@contoso.example", "timer@contoso.example"
TENANT, CLIENT = "bench-tenant", "deskmail-bench-app"
SECRET_NAME, SECRET = "deskmail-bench-secret", "bench-secret-value"
TARGET_MEDIAN, TARGET_P95 = 3.0, 10.0


def _mail(subject: str, to: str) -> bytes:
    from email.message import EmailMessage
    from email.utils import make_msgid

    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Ann Client <ann@example.org>", to, subject
    msg["Message-ID"] = make_msgid(domain="example.org")
    msg.set_content(f"Benchmark mail {subject}.")
    return msg.as_bytes()


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


class Bench:
    def __init__(self, args) -> None:
        self.args = args
        self.arrived: dict[str, float] = {}
        self.ticketed: dict[str, float] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.jobs = 0

    def worker(self) -> None:
        from shared_code.adapters.names import FETCH_JOBS
        from shared_code.services.fetch import run_fetch_job
        from shared_code.services.helpdesk import Helpdesk

        while not self.stop.is_set():
            desk = Helpdesk.from_env()
            batch = desk.queues.receive(FETCH_JOBS, max_messages=1, visibility_timeout=60)
            if not batch:
                self.stop.wait(self.args.poll)
                continue
            for job, handle in batch:
                summary = run_fetch_job(desk, job)
                desk.queues.delete(FETCH_JOBS, handle)
                if summary.created:
                    done = time.monotonic()
                    subjects = {t.subject for t in desk.tickets.list()}
                    with self.lock:
                        self.jobs += 1
                        for subject in subjects:
                            self.ticketed.setdefault(subject, done)

    def timer(self) -> None:
        from shared_code.services.fetch import enqueue_fetch_jobs
        from shared_code.services.helpdesk import Helpdesk

        if self.stop.wait(random.uniform(0, 60)):
            return
        while True:
            enqueue_fetch_jobs(Helpdesk.from_env())
            if self.stop.wait(60):
                return

    def arrivals(self, graph) -> None:
        start = time.monotonic()
        times = sorted(random.uniform(0, self.args.window) for _ in range(self.args.mails))
        for n, at in enumerate(times):
            delay = start + at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            for box in (PUSH, TIMER):
                subject = f"{box.split('@')[0]} mail {n:04d}"
                graph.add_message(box, _mail(subject, box))
                self.arrived[subject] = time.monotonic()

    def latencies(self, prefix: str) -> tuple[list[float], int]:
        with self.lock:
            values = [self.ticketed[s] - t for s, t in self.arrived.items()
                      if s.startswith(prefix) and s in self.ticketed]
        missing = sum(1 for s in self.arrived if s.startswith(prefix)) - len(values)
        return values, missing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="40 mails over 3 minutes (--mails and --window still apply)")
    parser.add_argument("--mails", type=int, help="mails per mailbox (default 200)")
    parser.add_argument("--window", type=float, help="seconds of arrivals (default 600)")
    parser.add_argument("--poll", type=float, default=1.0,
                        help="a worker's wait when the queue is empty (seconds)")
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=20,
                        help="both accounts' batch_size: the most mails one fetch run takes "
                             "(20, the default, leaves a backlog when mail arrives faster)")
    args = parser.parse_args()
    quick = (40, 180.0) if args.quick else (200, 600.0)
    args.mails = args.mails or quick[0]
    args.window = args.window or quick[1]
    random.seed(args.seed)

    from tests.fakes import FakeCloud
    from tests.fakes.azurite import Azurite
    from tests.integration.push_helpers import Webhook

    azurite = Azurite(ROOT).start()
    cloud = FakeCloud().start()
    hook = None
    bench = Bench(args)
    threads: list[threading.Thread] = []
    try:
        os.environ.update({"AzureWebJobsStorage": azurite.connection_string,
                           "GRAPH_API_URL": cloud.graph_url,
                           "AZURE_AUTHORITY_HOST": cloud.authority_host,
                           SECRET_NAME.upper().replace("-", "_"): SECRET})
        os.environ.pop("KEY_VAULT_URL", None)
        cloud.identity.register_app(TENANT, CLIENT, SECRET)
        hook = Webhook()
        os.environ["GRAPH_NOTIFICATION_URL"] = hook.url

        from shared_code.domain.model import EmailAccount
        from shared_code.services.helpdesk import Helpdesk
        from shared_code.services.subscriptions import sync_account

        desk = Helpdesk.from_env()
        for box in (PUSH, TIMER):
            cloud.graph.add_mailbox(box)
            desk.accounts.add(EmailAccount(
                address=box, name=box, purpose="department", department="Support",
                tenant_id=TENANT, client_id=CLIENT, client_secret_name=SECRET_NAME,
                batch_size=args.batch_size))
        report = sync_account(desk, PUSH)
        if report.errors or not report.created:
            print(f"PROBLEM: could not subscribe: {report.errors}")
            return 1
        threads = [threading.Thread(target=bench.worker, daemon=True) for _ in range(2)]
        threads.append(threading.Thread(target=bench.timer, daemon=True))
        for thread in threads:
            thread.start()
        print(f"{args.mails} mails per mailbox over {args.window:.0f} s, batch_size "
              f"{args.batch_size} ...", flush=True)
        bench.arrivals(cloud.graph)
        deadline = time.monotonic() + 150  # the timer's last round, with room to spare
        while time.monotonic() < deadline and len(bench.ticketed) < len(bench.arrived):
            time.sleep(1)
    finally:
        bench.stop.set()
        for thread in threads:
            thread.join(timeout=60)
        if hook is not None:
            hook.stop()
        cloud.stop()
        azurite.stop()

    status = 0
    print(f"\n{'mode':<22}{'mails':>6}{'median s':>10}{'p95 s':>8}{'max s':>8}{'missing':>9}")
    for label, prefix in (("push (+ timer)", "push "), ("minute timer alone", "timer ")):
        values, missing = bench.latencies(prefix)
        if not values:
            print(f"{label:<22}{0:>6}{'-':>10}{'-':>8}{'-':>8}{missing:>9}")
            status = 1
            continue
        print(f"{label:<22}{len(values):>6}{statistics.median(values):>10.2f}"
              f"{_p95(values):>8.2f}{max(values):>8.2f}{missing:>9}")
        if missing:
            status = 1
    push_values, _ = bench.latencies("push ")
    if push_values and (statistics.median(push_values) >= TARGET_MEDIAN
                        or _p95(push_values) >= TARGET_P95):
        print(f"PROBLEM: push misses its target (median < {TARGET_MEDIAN} s, "
              f"p95 < {TARGET_P95} s)")
        status = 1
    print(f"notifications delivered: {cloud.graph.push_delivered}, failed: "
          f"{len(cloud.graph.push_failures)}; fetch jobs that created tickets: {bench.jobs}")
    return status


if __name__ == "__main__":
    sys.exit(main())
