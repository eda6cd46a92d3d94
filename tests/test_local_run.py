"""The README's run command works on its embedded defaults: it fetches the demo mailbox, serves
the web app with the development sign-in, and sends what is queued between fetch runs."""
from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECRETS = ("local-demo-secret", "local-identity-secret")


def test_local_run_fetches_the_demo_mailbox():
    out = subprocess.run([sys.executable, "scripts/run_local.py", "--cycles", "2", "--interval", "1",
                          "--port", "0"],
                         cwd=ROOT,
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    assert "3 fetched, 2 new tickets, 0 replies, 1 discarded" in out.stdout
    assert "'Cannot log in' from ann@example.org" in out.stdout
    for secret in SECRETS:
        assert secret not in out.stdout + out.stderr
    # the second cycle: the client's reply arrived and threads into the first ticket
    assert "1 fetched, 0 new tickets, 1 replies" in out.stdout
    assert "'Cannot log in' from ann@example.org, 2 message(s)" in out.stdout
    # the web app was served, and answered its own health check
    assert re.search(r"web app answers: GET /health -> 200", out.stdout)
    assert "/auth/dev-login" in out.stdout and "agent@contoso.example is staff" in out.stdout


class _Lines:
    """The run's stdout, line by line, read by a thread (a bounded wait per line)."""

    def __init__(self, process):
        self.seen: list[str] = []
        self._queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, args=(process.stdout,), daemon=True).start()

    def _read(self, stream):
        for line in stream:
            self._queue.put(line)
        self._queue.put(None)

    def until(self, pattern: str) -> re.Match:
        while True:
            line = self._queue.get(timeout=180)  # a hung run fails instead of hanging the suite
            assert line is not None, "the local run stopped:\n" + "".join(self.seen)
            self.seen.append(line)
            match = re.search(pattern, line)
            if match:
                return match


def test_the_local_run_serves_the_web_app_and_sends_what_is_queued_within_the_interval():
    import requests

    stderr = tempfile.TemporaryFile()
    process = subprocess.Popen([sys.executable, "scripts/run_local.py", "--port", "0",
                                "--interval", "3600"], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=stderr, text=True)
    try:
        lines = _Lines(process)
        exports = {}
        while "SSL_CERT_FILE" not in exports:
            name, value = lines.until(r"export (\w+)='(.*)'").groups()
            exports[name] = value
        url = lines.until(r"web app: (http://127\.0\.0\.1:\d+)/").group(1)
        number = lines.until(r"ticket #(\d+) \[open\] 'Cannot log in'").group(1)
        # push: the client's reply arrives after the first run and is fetched within seconds,
        # not at the next run an hour away (the Graph stand-in notified the webhook)
        lines.until(r"push: a notification queued a fetch job")
        lines.until(r"'Cannot log in' from ann@example\.org, 2 message\(s\)")

        web = requests.Session()
        web.trust_env = False
        health = web.get(f"{url}/health")
        assert health.status_code == 200 and health.json()["healthy"] is True
        login = web.post(f"{url}/auth/dev-login", data={"email": "admin@contoso.test"},
                         allow_redirects=False)
        assert login.status_code == 303
        assert web.get(f"{url}/api/v1/session").json()["role"] == "admin"

        # a reply queued from elsewhere (the CLI here; the web app alike) is sent long before
        # the next fetch run, an hour away
        env = {**os.environ, **exports}
        reply = subprocess.run([sys.executable, "-m", "shared_code.cli", "tickets", "reply", number,
                                "--staff", "agent@contoso.example", "--text", "Fixed, try again."],
                               cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert reply.returncode == 0, reply.stderr
        lines.until(r"Graph sendMail by support@contoso\.example: to .*ann@example\.org.*Cannot log in")
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=120)
        stderr.seek(0)
        errors = stderr.read().decode(errors="replace")
    assert "Traceback" not in errors, errors
    for secret in SECRETS:
        assert secret not in "".join(lines.seen) + errors
