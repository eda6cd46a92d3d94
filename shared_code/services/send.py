"""Sending one notification: what the `outbound-mail` queue trigger does with each message.

validate → claim (sent at most once) → ticket, department, accounts → sender and recipients
→ loop-safety suppressions → template values → render → MIME → size check → Sent Items check
(only when an earlier attempt may have gone out) → mailbox pacing → Graph sendMail → record
`sent` and index the Message-ID, so a client's reply threads by In-Reply-To.

A notification that must wait (pacing, Graph throttling, another worker's lease) ends
`deferred` with the seconds to wait; a real failure is recorded (code and account, no secret)
and raised. What the queue does with either is in outbound_queue.py.
"""
from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from typing import Callable

from ..adapters.deliveries import (
    BUSY_RETRY_SECONDS,
    Claim,
    Deliveries,
    DeliveryState,
    SendCounters,
    real_failures,
)
from ..adapters.template_store import TemplateStore
from ..domain.autoreply import is_no_reply_sender
from ..domain.model import (
    Department,
    EmailAccount,
    Entry,
    Party,
    Staff,
    Ticket,
    ValidationError,
    normalize_address,
)
from ..domain.notifications import (
    NotificationError,
    outbound_message_id,
    validate_notification,
)
from ..domain.outbound_mail import (
    AUTO_SUBMITTED,
    MAX_SENDMAIL_BYTES,
    build_mime,
    tagged_subject,
)
from ..domain.routing import (
    CLIENT_TEMPLATES,
    RoutingError,
    choose_sender,
    reply_to_account,
    resolve_recipients,
)
from ..domain.templates import Template, build_url, render
from .helpdesk import Helpdesk
from .notification_requests import enqueue_request  # noqa: F401  (the API's, re-exported)

log = logging.getLogger("deskmail.send")

OUTBOUND_POISON = "outbound-mail-poison"
#: Real failures (errors and crashes, not deferrals) before the app moves a notification to
#: the poison queue itself.
MAX_SEND_ATTEMPTS = 5
#: host.json extensions.queues.maxDequeueCount: only a backstop. Deferrals raise the dequeue
#: count too, so it must stay far above MAX_SEND_ATTEMPTS (a test checks host.json).
HOST_MAX_DEQUEUE_COUNT = 1000
#: host.json extensions.queues.visibilityTimeout: a failed message is visible again after it.
HOST_VISIBILITY_TIMEOUT = 30
#: A send (with Graph's own retries, e.g. after a 429) never waits past this; see deliveries.py.
SEND_DEADLINE_SECONDS = 120
AUTO_RESPONSE = "new_ticket_auto_response"

@dataclass
class SendResult:
    id: str
    template: str
    sender: str = ""
    recipients: list[str] = field(default_factory=list)
    subject: str = ""
    outcome: str = ""  # sent | duplicate | suppressed | deferred | failed
    reason: str = ""
    retry_after_seconds: int = 0
    queue_message_id: str = ""  # the storage queue message (the same one across deferrals)
    dequeue_count: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


class _Outbound:
    """What one run of the sender shares between its notifications (and threads): adapters,
    Graph clients per mailbox, and the accounts, departments, staff and templates, read once
    per run since they change rarely and each read is a storage round trip."""

    def __init__(self, desk: Helpdesk, clock: Callable[[], datetime] | None = None,
                 checkpoint: Callable[[str, str], None] | None = None):
        self.desk = desk
        #: the time leases are taken and judged by (tests pass a later one)
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        #: called with ("sending", notification id) just before sendMail and with
        #: ("graph_accepted", notification id) between Graph accepting a mail and recording
        #: it; tests raise there to simulate a crash or a failed storage write
        self.checkpoint = checkpoint or (lambda step, notification_id: None)
        self._graph: dict[str, object] = {}
        self._templates: dict[tuple[str, str], Template] = {}
        self._lock = threading.Lock()

    @cached_property
    def deliveries(self) -> Deliveries:
        return Deliveries(self.desk.connection)

    @cached_property
    def counters(self) -> SendCounters:
        return SendCounters(self.desk.connection)

    @cached_property
    def templates(self) -> TemplateStore:
        return TemplateStore(self.desk.connection)

    @cached_property
    def accounts(self) -> list[EmailAccount]:
        return self.desk.accounts.list()

    @cached_property
    def departments(self) -> dict[str, Department]:
        return {d.name.lower(): d for d in self.desk.directory.list_departments()}

    @cached_property
    def staff(self) -> dict[str, Staff]:
        return {s.email: s for s in self.desk.directory.list_staff()}

    def template(self, key: str, department: str) -> Template:
        cached = self._templates.get((key, department))
        if cached is None:
            cached = self.templates.get(key, department=department)
            self._templates[(key, department)] = cached
        return cached

    def graph(self, account: EmailAccount):
        """A Graph client per sending mailbox, kept for the run (its HTTP connections too)."""
        from ..adapters.graph import GraphMailClient

        with self._lock:
            client = self._graph.get(account.address)
            if client is None:
                secret = self.desk.secrets.get(account.client_secret_name)
                client = self._graph[account.address] = GraphMailClient(
                    self.desk.settings, account, secret)
        client.deadline = time.monotonic() + SEND_DEADLINE_SECONDS
        return client

    def close(self) -> None:
        for client in self._graph.values():
            client.close()


# ---------------------------------------------------------------- one notification


def send_notification(desk: Helpdesk, notification: dict, dequeue_count: int = 1, *,
                      clock: Callable[[], datetime] | None = None,
                      checkpoint: Callable[[str, str], None] | None = None) -> SendResult:
    """Send one notification; raises on a failure worth retrying (Graph, storage)."""
    out = _Outbound(desk, clock=clock, checkpoint=checkpoint)
    try:
        return _send(out, notification, dequeue_count)
    finally:
        out.close()


class TooManyAttempts(RuntimeError):
    """Every allowed attempt ended without an outcome (crashes, time-outs): give up."""


def _send(out: _Outbound, notification: dict, dequeue_count: int) -> SendResult:
    desk = out.desk
    result = SendResult(id=str(notification.get("id") or "") if isinstance(notification, dict) else "",
                        template=str(notification.get("template") or "")
                        if isinstance(notification, dict) else "")
    try:
        validate_notification(notification)
        if len(result.id) > 200:
            raise NotificationError("field 'id' is longer than 200 characters")
    except NotificationError as error:
        result.outcome, result.reason = "failed", f"invalid notification: {error}"
        desk.syslog.write("error", "Notification refused", f"{result.id or '(no id)'}: {error}")
        return result

    claim = out.deliveries.claim(notification, now=out.clock())
    if claim.status == "finished":
        result.outcome, result.reason = "duplicate", f"already {claim.row.get('state')}"
        return result
    if claim.status == "busy":
        result.outcome, result.reason = "deferred", "another worker is sending it"
        result.retry_after_seconds = claim.wait_seconds
        return result
    if real_failures(claim.row) > MAX_SEND_ATTEMPTS:  # earlier attempts crashed or timed out
        # this claim is no attempt: give the count back, keep `sending` (it may have gone out)
        out.deliveries.update(result.id, DeliveryState.SENDING,
                              attempts=int(claim.row["attempts"]) - 1, maybe_sent=True)
        raise TooManyAttempts(f"{MAX_SEND_ATTEMPTS} attempts to send notification {result.id} "
                              "ended without an answer (the worker crashed or timed out)")
    sending = _Delivery(out, notification, result, claim)
    try:
        return sending.run()
    except Exception as error:  # a kill or a time-out records nothing: the lease tells
        sending.failed(error)
        raise


class _Delivery:
    """One claimed notification on its way out."""

    def __init__(self, out: _Outbound, notification: dict, result: SendResult, claim: Claim):
        self.out, self.desk, self.n, self.result = out, out.desk, notification, result
        self.claim = claim
        self.sender: EmailAccount | None = None
        self.accepted = False  # Graph took the mail: never release the claim after this
        self.uncertain = False  # sendMail timed out or got a 5xx: Exchange may have taken it

    # -- outcomes
    def _finish(self, outcome: str, reason: str = "", **fields) -> SendResult:
        self.result.outcome, self.result.reason = outcome, reason
        self.out.deliveries.update(self.n["id"], outcome, reason=reason, **self._what(), **fields)
        return self.result

    def _what(self) -> dict:
        return {"sender": self.result.sender, "recipients": ", ".join(self.result.recipients),
                "subject": self.result.subject}

    def _defer(self, seconds: int, reason: str) -> SendResult:
        """Give the claim back and wait; not a failure (the row counts it as a deferral)."""
        self.result.retry_after_seconds = max(0, int(seconds))
        deferrals = int((self.claim.row or {}).get("deferrals") or 0) + 1
        return self._finish(DeliveryState.DEFERRED.value, reason, retry_after=int(seconds),
                            deferrals=deferrals)

    def _fail(self, code: str, reason: str) -> SendResult:
        self.desk.syslog.write("error", "Notification failed",
                               f"notification {self.n['id']} ({self.n['template']}, ticket "
                               f"#{self.n['ticket_number']}): {reason}",
                               account=self.result.sender)
        return self._finish("failed", reason, error_code=code, error=reason)

    def failed(self, error: BaseException) -> None:
        """Record why a send raised; unless Graph accepted the mail, let the retry claim it."""
        from ..adapters.graph import GraphError
        from ..adapters.secret_store import SecretNotFound

        if self.accepted:
            return
        code = getattr(error, "code", "") or type(error).__name__
        text = f"{type(error).__name__}: {error}"
        if isinstance(error, (GraphError, SecretNotFound)):
            self.desk.syslog.write(
                "error", "Send failed",
                f"notification {self.n['id']} ({self.n['template']}, ticket "
                f"#{self.n['ticket_number']}) from {self.result.sender}: {code}: {error} "
                f"(attempt {real_failures(self.claim.row)} of {MAX_SEND_ATTEMPTS})",
                account=self.result.sender)
        state = DeliveryState.UNCERTAIN if self.uncertain else DeliveryState.QUEUED
        flag = {"maybe_sent": True} if self.uncertain else {}
        try:
            self.out.deliveries.update(self.n["id"], state, error_code=code, error=text,
                                       **self._what(), **flag)
        except Exception:  # storage is down too; the lease expires and the retry claims it
            log.exception("could not record the failure of notification %s", self.n["id"])

    # -- the steps
    def run(self) -> SendResult:
        from ..adapters.graph import GraphError

        n, desk = self.n, self.desk
        ticket = desk.tickets.get(str(n["ticket_number"]))
        if ticket is None:
            return self._fail("TicketNotFound", f"no ticket #{n['ticket_number']}")
        department = self.out.departments.get(ticket.department.lower())
        try:
            self.sender = choose_sender(n["template"], ticket.department, department,
                                        self.out.accounts)
            recipients = resolve_recipients(n["recipient"], ticket, department,
                                            lambda email: self.out.staff.get(email.lower()))
        except RoutingError as error:
            return self._fail("NoSender", str(error))
        self.result.sender = self.sender.address
        recipients = self._allowed(recipients, {a.address for a in self.out.accounts})
        self.result.recipients = [p.email for p in recipients]
        if not recipients:
            return self._finish("suppressed", self.result.reason or "no recipients for "
                                f"{n['recipient'].get('role')!r} on ticket #{ticket.number}")

        template = self.out.template(n["template"], ticket.department)
        rendered = render(template, self._values(ticket, department, recipients, template))
        self.result.subject = tagged_subject(ticket.number, rendered.subject)
        message_id = n.get("message_id") or outbound_message_id(n["id"], desk.settings.system_domain)
        reply_to = reply_to_account(n["template"], ticket.department, department,
                                    self.out.accounts, self.sender)
        try:
            raw = build_mime(
                reply_to=Party(reply_to.name, reply_to.address) if reply_to else None,
                sender=Party(self.sender.name, self.sender.address), recipients=recipients,
                subject=self.result.subject, text=rendered.text, html=rendered.html,
                message_id=message_id, in_reply_to=n.get("in_reply_to", ""),
                references=n.get("references") or [],
                auto_submitted=AUTO_SUBMITTED.get(n["template"]),
                separator=desk.settings.reply_separator if n["template"] in CLIENT_TEMPLATES else None,
            )
        except ValueError as error:
            return self._fail("InvalidMessage", str(error))
        if len(raw) > MAX_SENDMAIL_BYTES:
            return self._fail("MessageTooLarge",
                              f"MessageTooLarge: the mail is {len(raw):,} bytes, over the "
                              f"{MAX_SENDMAIL_BYTES:,} bytes Graph's sendMail takes; not sent")

        graph = self.out.graph(self.sender)
        if self.claim.maybe_sent and self._found_in_sent_items(graph, message_id):
            self.accepted = True
            desk.syslog.write("info", "Notification already sent",
                              f"notification {n['id']} ({n['template']}, ticket #{ticket.number})"
                              f" was found in {self.sender.address}'s Sent Items: an earlier "
                              "attempt went out, so it is not sent again",
                              account=self.sender.address)
            return self._finish("sent", "found in Sent Items (sent by an earlier attempt)",
                                message_id=message_id, sent=datetime.now(timezone.utc),
                                error="", error_code="")

        wait = self.out.counters.take_send_slot(self.sender.address, len(recipients))
        if wait:
            return self._defer(wait, f"{self.sender.address} reached Exchange Online's "
                               "sending limit; sending later")

        # indexed first: a reply must thread even if recording `sent` fails after the send
        desk.index.record(message_id, ticket.number, "outbound",
                          entry_id=n.get("response_entry_id") or "")
        self.out.checkpoint("sending", n["id"])
        try:
            graph.send_mime(raw)
        except GraphError as error:
            if error.throttled:  # Graph refused it for now: nothing was sent
                wait = BUSY_RETRY_SECONDS if error.retry_after is None else error.retry_after
                return self._defer(math.ceil(wait), f"Graph is throttling {self.sender.address}"
                                   f" ({error.code}); sending again in {math.ceil(wait)} s")
            self.uncertain = (error.code in ("Timeout", "ConnectionError")
                              or error.status in (500, 502, 504))
            raise
        self.accepted = True
        self.out.checkpoint("graph_accepted", n["id"])
        return self._finish("sent", message_id=message_id, sent=datetime.now(timezone.utc),
                            error="", error_code="")

    def _found_in_sent_items(self, graph, message_id: str) -> bool:
        """Whether an earlier attempt went out. A mailbox whose Sent Items the app may not
        read (403/404: e.g. outside the Mail.ReadWrite RBAC scope) cannot be checked: it is
        sent again, as without the check, and the system log says why."""
        from ..adapters.graph import GraphError

        try:
            return graph.find_sent(message_id) is not None
        except GraphError as error:
            if error.status not in (403, 404) or error.throttled:
                raise
            self.desk.syslog.write(
                "warning", "Sent Items not checked",
                f"notification {self.n['id']} may have been sent by an earlier attempt, but "
                f"{self.sender.address}'s Sent Items cannot be read ({error.code}); sending "
                "it again. Give the app Mail.ReadWrite on this mailbox to avoid duplicates.",
                account=self.sender.address)
            return False

    def _allowed(self, recipients: list[Party], system: set[str]) -> list[Party]:
        """Drop recipients that would start or feed a mail loop; log each with its reason."""
        settings = self.desk.settings
        auto = self.n["template"] == AUTO_RESPONSE
        staff = {s.email for s in self.out.staff.values() if s.active}
        kept = []
        for party in recipients:
            try:
                email = normalize_address(party.email)
            except ValidationError:
                reason = f"{party.email!r} is not a valid address"
            else:
                if email in system:
                    reason = f"{email} is one of the helpdesk's own addresses"
                elif auto and email in staff:
                    reason = f"{email} is a staff member"
                elif auto and is_no_reply_sender(email, settings.no_reply_pattern):
                    reason = f"{email} is a no-reply address"
                elif auto and not self.out.counters.take_auto_response(
                        email, self.n["id"], settings.auto_response_limit,
                        settings.auto_response_window_minutes):
                    reason = (f"{email} already got {settings.auto_response_limit} auto-responses "
                              f"within {settings.auto_response_window_minutes} minutes")
                else:
                    kept.append(Party(party.name, email))
                    continue
            self.result.reason = reason
            self.desk.syslog.write(
                "info", "Auto-response suppressed" if auto else "Notification suppressed",
                f"no {self.n['template']} for ticket #{self.n['ticket_number']}: {reason}",
                account=self.result.sender)
        return kept

    def _values(self, ticket: Ticket, department, recipients: list[Party],
                template: Template) -> dict[str, str]:
        n, desk = self.n, self.desk
        sender = n.get("sender") or {}
        # the thread is read only when the template shows some of it (a round trip saved)
        wanted = {"ticket.lastMessage", "message", "response"}
        if not (sender.get("name") and sender.get("email")):
            wanted |= {"sender.name", "sender.email"}
        shown = template.subject + template.html + template.text
        thread = any(f"%{{{name}}}" in shown for name in wanted)
        entries = desk.tickets.entries(ticket.number) if thread else []
        by_id = {e.entry_id: e for e in entries}
        messages = [e for e in entries if e.type == "message"]
        last = messages[-1] if messages else None
        trigger = by_id.get(n.get("entry_id") or "")
        message: Entry | None = trigger if trigger and trigger.type == "message" else last
        response = by_id.get(n.get("response_entry_id") or "")
        actor = n.get("actor") or {}
        assignee = self.out.staff.get(ticket.assignee.lower()) if ticket.assignee else None
        return {
            "ticket.number": ticket.number,
            "ticket.subject": ticket.subject,
            "ticket.status": ticket.status.value.capitalize(),
            "ticket.priority": ticket.priority.value.capitalize(),
            "ticket.dept": ticket.department,
            "ticket.staff": assignee.name if assignee else ticket.assignee,
            "ticket.createDate": f"{ticket.created:%Y-%m-%d %H:%M} UTC" if ticket.created else "",
            "ticket.lastMessage": last.body_text if last else "",
            "ticket.client.name": ticket.client.name or ticket.client.email,
            "ticket.client.email": ticket.client.email,
            "recipient.name": ", ".join(p.name or p.email for p in recipients),
            "recipient.email": ", ".join(p.email for p in recipients),
            "url": build_url(desk.settings.ticket_url_base, ticket.number),
            "response": response.body_text if response else "",
            "message": message.body_text if message else "",
            "sender.name": sender.get("name") or (message.sender.name if message else ""),
            "sender.email": sender.get("email") or (message.sender.email if message else ""),
            "staff.name": actor.get("name") or actor.get("email") or "",
            "transfer.from": n.get("previous_department", ""),
            "sla.hours": str(department.sla_hours if department else 24),
        }


# ---------------------------------------------------------------- tests of an account


def send_test_mail(desk: Helpdesk, address: str, to: str) -> str:
    """The guide's "Send a test email to verify": a short mail from an account; returns its
    Message-ID, raises GraphError (with the Graph error code) when Graph refuses."""
    from ..adapters.graph import GraphMailClient

    account = desk.accounts.get(address)
    if account is None:
        raise LookupError(f"no email account {address}")
    if not (account.tenant_id and account.client_id and account.client_secret_name):
        raise ValidationError(f"{account.address} has no Microsoft 365 OAuth credentials")
    message_id = f"deskmail.test.{uuid.uuid4().hex}@{desk.settings.system_domain}"
    text = (f"This is a test message from deskmail, sent as {account.address} through "
            "Microsoft Graph. Sending works.")
    raw = build_mime(sender=Party(account.name, account.address),
                     recipients=[Party("", normalize_address(to))],
                     subject=f"deskmail test message from {account.address}",
                     text=text, html=f"<p>{text}</p>", message_id=message_id, in_reply_to="",
                     references=[], auto_submitted="auto-generated", separator=None)
    with GraphMailClient(desk.settings, account, desk.secrets.get(account.client_secret_name),
                         deadline=time.monotonic() + SEND_DEADLINE_SECONDS) as graph:
        graph.send_mime(raw)
    desk.syslog.write("info", "Test mail sent", f"{account.address} sent a test message to {to}",
                      account=account.address)
    return message_id


_MOVED = {"DeferralLost", "handle_queue_message", "drain_outbound", "record_poison",
          "failed_notifications", "requeue"}


def __getattr__(name: str):
    """The queue side lives in outbound_queue.py; imports of it from here keep working."""
    if name in _MOVED:
        from . import outbound_queue

        return getattr(outbound_queue, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
