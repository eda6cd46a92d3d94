"""deskmail on its embedded defaults: everything local, nothing to configure.

Starts Azurite (in memory), the Graph / identity-platform / Key Vault stand-ins the tests use
(TLS with a throwaway CA; the Graph client secret lives in the Key Vault stand-in, so the admin
pages can write secrets there), puts demo mail in support@contoso.example, configures that
account, a system account for staff alerts, the Support department and a staff member, and
serves the web app (http://127.0.0.1:8080, development sign-in). Then every `--interval` it runs
what Azure would: the timer function `fetch_mail` queues a job per account and the queue
function `fetch_mailbox` fetches it; and every second it does what the queue function
`send_notification` does (drains outbound-mail), so an action in the browser is mailed within
seconds, and runs the fetch jobs push notifications queued (the Graph stand-in notifies the web
app's webhook, GRAPH_NOTIFICATION_URL), so a new mail becomes a ticket within seconds. The Graph stand-in's outbox is printed. A new demo mail arrives now and then.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import threading
import time
import urllib.request
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes import FakeCloud  # noqa: E402
from tests.fakes.azurite import Azurite  # noqa: E402

MAILBOX = "support@contoso.example"
SYSTEM_MAILBOX = "helpdesk@contoso.example"
AGENT = "agent@contoso.example"
TENANT, CLIENT, SECRET_NAME, SECRET = "contoso-tenant", "deskmail-app", "deskmail-graph-secret", "local-demo-secret"
# what the Function app's managed identity is in Azure: the identity that reads Key Vault
VAULT_IDENTITY = ("contoso-tenant", "deskmail-local-identity", "local-identity-secret")
ADMIN = "admin@contoso.test"
DEV_USERS = f"{ADMIN}:admin,{AGENT}:staff"
# a 1x1 PNG, as an inline logo
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def say(text: str) -> None:
    print(f"{datetime.now():%H:%M:%S}  {text}", flush=True)


def demo_mail(subject: str, sender: str, body: str, *, html: bool = False, headers=None,
              in_reply_to: str | None = None) -> tuple[bytes, str]:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, MAILBOX, subject
    msg["Message-ID"] = message_id = make_msgid(domain="example.org")
    if in_reply_to:
        msg["In-Reply-To"] = msg["References"] = in_reply_to
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    if html:
        msg.add_alternative(f'<p>{body}</p><p><img src="cid:logo@example.org"></p>', subtype="html")
        msg.get_payload()[1].add_related(PIXEL, "image", "png", cid="<logo@example.org>",
                                         filename="logo.png")
    return msg.as_bytes(), message_id


def seed(graph) -> list[tuple[bytes, str]]:
    first = demo_mail("Cannot log in", "Ann Client <ann@example.org>",
                      "Hello, since this morning I cannot log in to the portal.")
    return [
        first,
        demo_mail("Invoice question", "Bob Buyer <bob@example.net>",
                  "Could you resend invoice 2026-114? Our logo is below.", html=True),
        demo_mail("Automatic reply: Cannot log in", "Carol Away <carol@example.com>",
                  "I am out of the office until Monday.",
                  headers={"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"}),
        demo_mail("Re: Cannot log in", "Ann Client <ann@example.org>",
                  "It works again, thanks!\n\nOn Fri, Ann wrote:\n> Hello, since this morning ...",
                  in_reply_to=first[1]),
    ]


def run_functions(functions: dict) -> None:
    """What the Functions host does each minute: the timer, then the queue worker per job."""
    from azure.functions.timer import TimerRequest

    functions["fetch_mail"](TimerRequest(past_due=False))
    run_fetch_jobs(functions)


def run_fetch_jobs(functions: dict) -> int:
    """What the queue function `fetch_mailbox` does with each queued job (push jobs from the
    Graph stand-in's notifications too); how many ran."""
    import azure.functions as func

    from shared_code.adapters.names import FETCH_JOBS
    from shared_code.services.helpdesk import Helpdesk

    queues = Helpdesk.from_env().queues
    ran = 0
    for job, handle in queues.receive(FETCH_JOBS):
        functions["fetch_mailbox"](func.QueueMessage(body=json.dumps(job).encode()))
        queues.delete(FETCH_JOBS, handle)
        ran += 1
    return ran


def send_notifications(graph, shown: list[int]) -> None:
    """What the queue trigger `send_notification` does with each queued notification, then
    what the Graph stand-in received since the last call."""
    from email import message_from_bytes, policy

    from shared_code.services.helpdesk import Helpdesk
    from shared_code.services.outbound_queue import drain_outbound

    for result in drain_outbound(Helpdesk.from_env()):
        say(f"notification {result.template}: {result.outcome}"
            + (f" ({result.reason})" if result.reason else ""))
    for mailbox, raw in graph.sent[shown[0]:]:
        mail = message_from_bytes(raw, policy=policy.default)
        say(f"Graph sendMail by {mailbox}: to {mail['To']}: {mail['Subject']!r} "
            f"(Auto-Submitted: {mail['Auto-Submitted'] or '-'})")
    shown[0] = len(graph.sent)


def serve_web(host: str, port: int):
    """The web app under uvicorn in a thread, as `python -m shared_code.web` serves it."""
    import uvicorn

    from shared_code.web.app import create_app

    server = uvicorn.Server(uvicorn.Config(create_app(), host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="web", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise SystemExit(f"the web app could not listen on {host}:{port} (use --port)")
        time.sleep(0.05)
    base = f"http://{host}:{server.servers[0].sockets[0].getsockname()[1]}"
    with urllib.request.urlopen(f"{base}/health", timeout=30) as answer:
        say(f"web app answers: GET /health -> {answer.status} {json.loads(answer.read())['queues']}")
    return server, thread, base


def report(seen: set[str]) -> None:
    from shared_code.services.helpdesk import Helpdesk

    desk = Helpdesk.from_env()
    for entry in reversed(desk.syslog.list(limit=20)):
        key = f"{entry['PartitionKey']}/{entry['RowKey']}"
        if key not in seen:
            seen.add(key)
            say(f"syslog {entry['level']}: {entry['title']}: {entry['message']}")
    for ticket in desk.tickets.list():
        say(f"ticket #{ticket.number} [{ticket.status.value}] {ticket.subject!r} from "
            f"{ticket.client.email}, {ticket.message_count} message(s)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--once", action="store_true", help="one fetch cycle, then stop")
    parser.add_argument("--cycles", type=int, default=0, help="stop after this many cycles")
    parser.add_argument("--interval", type=int, default=60, help="seconds between fetch runs")
    parser.add_argument("--host", default="127.0.0.1", help="the web app's address")
    parser.add_argument("--port", type=int, default=8080, help="the web app's port (0: any free one)")
    args = parser.parse_args()

    azurite = Azurite(ROOT).start()
    cloud = FakeCloud().start()
    web = web_thread = None
    try:
        os.environ.update({
            "AzureWebJobsStorage": azurite.connection_string,
            "GRAPH_API_URL": cloud.graph_url,
            "AZURE_AUTHORITY_HOST": cloud.authority_host,
            "KEY_VAULT_URL": cloud.key_vault_url,
            "AZURE_TENANT_ID": VAULT_IDENTITY[0], "AZURE_CLIENT_ID": VAULT_IDENTITY[1],
            "AZURE_CLIENT_SECRET": VAULT_IDENTITY[2],
            "DESKMAIL_AUTH": "dev", "DESKMAIL_DEV_USERS": DEV_USERS,
        })
        os.environ.pop(SECRET_NAME.upper().replace("-", "_"), None)
        cloud.identity.register_app(TENANT, CLIENT, SECRET)
        cloud.identity.register_app(*VAULT_IDENTITY)
        cloud.keyvault.set_secret(SECRET_NAME, SECRET)
        # the thread-marker key (domain/thread_marker.py); a demo value, like the Graph secret
        cloud.keyvault.set_secret("deskmail-thread-key", "local-demo-thread-key-not-for-production")
        cloud.graph.add_mailbox(MAILBOX)
        cloud.graph.add_mailbox(SYSTEM_MAILBOX)

        from function_app import app
        from shared_code.domain.model import Department, EmailAccount, Staff
        from shared_code.services.helpdesk import Helpdesk

        desk = Helpdesk.from_env()
        desk.accounts.add(EmailAccount(
            address=MAILBOX, name="Contoso Support", purpose="department", department="Support",
            tenant_id=TENANT, client_id=CLIENT, client_secret_name=SECRET_NAME))
        desk.accounts.add(EmailAccount(
            address=SYSTEM_MAILBOX, name="Contoso Helpdesk", purpose="system",
            department="Support", fetch_enabled=False, tenant_id=TENANT, client_id=CLIENT,
            client_secret_name=SECRET_NAME))
        desk.directory.add_department(Department(name="Support", email=MAILBOX, manager=AGENT))
        desk.directory.add_staff(Staff(name="Andy Agent", email=AGENT, department="Support"))
        mails = seed(cloud.graph)
        for raw, _ in mails[:3]:
            cloud.graph.add_message(MAILBOX, raw)
        pending = mails[3:]

        web, web_thread, url = serve_web(args.host, args.port)
        # links in notifications point at the web app
        os.environ.setdefault("TICKET_URL_BASE", f"{url}/tickets")
        say(f"Azurite: {azurite.connection_string}")
        say(f"Microsoft 365 stand-in: {cloud.graph_url} (mailbox {MAILBOX}); "
            f"Key Vault stand-in: {cloud.key_vault_url}")
        say("For the admin CLI in another terminal (it reads and writes tickets; this process "
            "sends what it queues), export:")
        for name in ("AzureWebJobsStorage", "GRAPH_API_URL", "AZURE_AUTHORITY_HOST", "TICKET_URL_BASE"):
            print(f"  export {name}='{os.environ[name]}'")
        for name, value in cloud.ca_env.items():
            print(f"  export {name}='{value}'")
        print("  .venv/bin/python -m shared_code.cli tickets list", flush=True)
        say(f"web app: {url}/  (sign in at {url}/auth/dev-login, no password: {ADMIN} is an "
            f"admin, {AGENT} is staff; DESKMAIL_AUTH=dev)")

        # indexed once, as the host does (the app refuses to be indexed twice)
        functions = {f.get_function_name(): f.get_user_function() for f in app.get_functions()}
        # push ingestion: the Graph stand-in notifies the web app's webhook when mail arrives
        os.environ.setdefault("GRAPH_NOTIFICATION_URL", f"{url}/api/graph/notifications")
        from azure.functions.timer import TimerRequest

        functions["renew_subscriptions"](TimerRequest(past_due=False))
        say(f"push: Graph stand-in subscriptions {len(cloud.graph.subscriptions)} "
            f"(webhook {os.environ['GRAPH_NOTIFICATION_URL']})")
        cycles = 1 if args.once else args.cycles
        seen: set[str] = set()
        shown = [0]
        while True:
            say("fetch run: timer fetch_mail → queue fetch-jobs → fetch_mailbox")
            run_functions(functions)
            say("send run: queue outbound-mail → Graph sendMail (what send_notification does)")
            send_notifications(cloud.graph, shown)
            report(seen)
            cycles -= 1
            if cycles == 0:
                return 0
            if pending:
                raw, _ = pending.pop(0)
                cloud.graph.add_message(MAILBOX, raw)
                say("a client reply arrived in the demo mailbox")
            # until the next fetch run, send what the web app or the CLI queued, every second
            next_run = time.monotonic() + args.interval
            while (left := next_run - time.monotonic()) > 0:
                time.sleep(min(1.0, left))
                if run_fetch_jobs(functions):  # queued by a push notification
                    say("push: a notification queued a fetch job, fetched")
                    report(seen)
                send_notifications(cloud.graph, shown)
    except KeyboardInterrupt:
        say("stopped")
        return 0
    finally:
        if web is not None:
            web.should_exit = True
            web_thread.join(timeout=30)
        cloud.stop()
        azurite.stop()


if __name__ == "__main__":
    sys.exit(main())
