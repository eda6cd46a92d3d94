"""The webhook served for real (uvicorn in a thread on a socket bound before it starts, so the
Graph fake's handshake and notifications reach it over HTTP) and a queue worker that drains
`fetch-jobs` as the `fetch_mailbox` function would."""
from __future__ import annotations

import socket
import threading
from contextlib import contextmanager

from shared_code.adapters.names import FETCH_JOBS

WEBHOOK_PATH = "/api/graph/notifications"


class Webhook:
    def __init__(self) -> None:
        import uvicorn

        from shared_code.web.app import create_app

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}{WEBHOOK_PATH}"
        self.server = uvicorn.Server(uvicorn.Config(create_app(), log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       name="webhook", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()


@contextmanager
def serving_webhook(monkeypatch):
    """The webhook served, with GRAPH_NOTIFICATION_URL pointing at it (push on)."""
    hook = Webhook()
    monkeypatch.setenv("GRAPH_NOTIFICATION_URL", hook.url)
    try:
        yield hook
    finally:
        hook.stop()


def drain(desk, rounds: int = 10) -> list:
    """Run every fetch job on the queue (visible now) through `run_fetch_job`; the summaries."""
    from shared_code.services.fetch import run_fetch_job

    summaries = []
    for _ in range(rounds):
        batch = desk.queues.receive(FETCH_JOBS, max_messages=32)
        if not batch:
            break
        for job, handle in batch:
            summaries.append(run_fetch_job(desk, job))
            desk.queues.delete(FETCH_JOBS, handle)
    return summaries


def queued_jobs(desk) -> list[dict]:
    """Take every visible fetch job off the queue (without running it)."""
    jobs = []
    while batch := desk.queues.receive(FETCH_JOBS, max_messages=32):
        for job, handle in batch:
            jobs.append(job)
            desk.queues.delete(FETCH_JOBS, handle)
    return jobs
