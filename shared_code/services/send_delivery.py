"""One claimed notification on its way out: sender and recipients, loop-safety
suppressions, render, MIME, size check, the Sent Items check, sendMail.

Each step ends in an outcome kept on the object (`record`: the state and fields to write),
not in a write: services/send.py records the outcomes of a queue message's notifications in
one transaction. A real failure is kept in `error` (code and account, no secret).
"""
from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from ..adapters.deliveries import BUSY_RETRY_SECONDS, Claim, DeliveryState, real_failures
from ..adapters.names import ATTACHMENTS
from ..domain.autoreply import is_no_reply_sender
from ..domain.model import CollaboratorDelivery, EmailAccount, Entry, Party, Ticket, ValidationError, normalize_address
from ..domain.notifications import outbound_message_id
from ..domain.outbound_mail import AUTO_SUBMITTED, MAX_SENDMAIL_BYTES, build_mime, tagged_subject
from ..domain.staff_files import MAILBOX_SEND_LIMIT
from ..domain.routing import (
    RoutingError,
    choose_sender,
    collaborators_of,
    reply_to_account,
    resolve_recipients,
)
from ..domain.templates import render
from ..domain.thread_marker import ThreadKeys, normalized_subject, thread_index
from .helpdesk import ThreadKeyMissing
from .outbound_run import Outbound
from .send_values import shows_thread, template_values

log = logging.getLogger("deskmail.send")


def _iso(value) -> str:
    return value.isoformat(timespec="seconds") if isinstance(value, datetime) else str(value or "")

def thread_headers(n: dict, ticket: Ticket, system_domain: str, keys: ThreadKeys | None) -> dict:
    """The marker and Outlook's Thread-Topic / Thread-Index of a notification's mail
    (domain/thread_marker.py). The conversation starts at the ticket's creation; a mail that
    answers one (In-Reply-To) is a response level timed by the notification's creation, so a
    retried send writes the same bytes."""
    created = ticket.created
    try:
        answered = datetime.fromisoformat(n["created"]) if n.get("in_reply_to") else None
    except (KeyError, TypeError, ValueError):
        answered = created
    return {"marker": keys.marker(ticket.number) if keys else None,
            "thread_topic": normalized_subject(ticket.subject) or None,
            "thread_index": thread_index(system_domain, ticket.number, created, answered, n["id"])}


#: Real failures (errors and crashes, not deferrals) before the app moves a notification to
#: the poison queue itself.
MAX_SEND_ATTEMPTS = 5
AUTO_RESPONSE = "new_ticket_auto_response"


@dataclass
class SendResult:
    id: str
    template: str
    sender: str = ""
    recipients: list[str] = field(default_factory=list)
    subject: str = ""
    outcome: str = ""  # sent | duplicate | suppressed | deferred | failed | held
    reason: str = ""
    error_code: str = ""  # Graph's error code (or the failure's class) when it failed
    retry_after_seconds: int = 0
    queue_message_id: str = ""  # the storage queue message (the same one across deferrals)
    dequeue_count: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


class Delivery:
    """One claimed notification of a queue message."""

    def __init__(self, out: Outbound, notification: dict, result: SendResult, claim: Claim):
        self.out, self.desk, self.n, self.result = out, out.desk, notification, result
        self.claim = claim
        self.sender: EmailAccount | None = None
        self.recipients: list[Party] = []
        self.raw = b""
        self.draft: tuple[bytes, list[tuple[str, str, bytes]]] | None = None  # over 4 MB: draft + files
        self.message_id = ""
        self.accepted = False  # Graph took the mail: never release the claim after this
        self.uncertain = False  # sendMail timed out or got a 5xx: Exchange may have taken it
        self.record: tuple[DeliveryState, dict] | None = None  # the outcome to write
        self.error: BaseException | None = None  # a real failure: the message is retried

    @property
    def ready(self) -> bool:
        """Prepared and not yet finished: waiting for its pacing slot and sendMail."""
        return self.record is None and self.error is None

    # -- outcomes
    def finish(self, outcome: str, reason: str = "", **fields) -> None:
        self.result.outcome, self.result.reason = outcome, reason
        self.record = (DeliveryState(outcome), {"reason": reason, **self._what(), **fields})

    def _what(self) -> dict:
        return {"sender": self.result.sender, "recipients": ", ".join(self.result.recipients),
                "subject": self.result.subject}

    def defer(self, seconds: int, reason: str) -> None:
        """Give the claim back and wait; not a failure (the row counts it as a deferral)."""
        self.result.retry_after_seconds = max(0, int(seconds))
        deferrals = int((self.claim.row or {}).get("deferrals") or 0) + 1
        self.finish(DeliveryState.DEFERRED.value, reason, retry_after=int(seconds),
                    deferrals=deferrals)

    def fail(self, code: str, reason: str) -> None:
        """A failure no retry can mend (no sender, too large ...): recorded `failed`."""
        self.desk.syslog.write("error", "Notification failed",
                               f"notification {self.n['id']} ({self.n['template']}, ticket "
                               f"#{self.n['ticket_number']}): {reason}",
                               account=self.result.sender)
        self.result.error_code = code
        self.finish(DeliveryState.FAILED.value, reason, error_code=code, error=reason)

    def hold(self, held: dict[str, dict]) -> None:
        """Every recipient is undeliverable: recorded `held` (shown by `notifications failed`
        and the ticket) until `clients clear-bounce` and `notifications requeue`."""
        reason = "held: " + "; ".join(
            f"{email} undeliverable since {_iso(row.get('since'))}, status {row.get('status')}"
            for email, row in held.items())
        self.desk.syslog.write("warning", "Notification held",
                               f"notification {self.n['id']} ({self.n['template']}, ticket "
                               f"#{self.n['ticket_number']}): {reason}", account=self.result.sender)
        self.result.error_code = "Undeliverable"
        self.finish(DeliveryState.HELD.value, reason, error_code="Undeliverable", error=reason)

    def failed(self, error: BaseException) -> None:
        """A send raised: record why and, unless Graph accepted the mail, let a retry claim it."""
        from ..adapters.graph import GraphError
        from ..adapters.secret_store import SecretNotFound

        self.error = error
        self.result.outcome = "failed"
        self.result.reason = f"{type(error).__name__}: {error}"
        code = getattr(error, "code", "") or type(error).__name__
        self.result.error_code = code
        if self.accepted:
            return
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
        self.record = (state, {"error_code": code, "error": text, **self._what(), **flag})

    # -- the steps
    def prepare(self, ticket: Ticket | None, entries) -> None:
        """Sender, recipients, suppressions, render, MIME, size; `entries()` reads the thread
        (once per queue message). Ends `ready`, or with an outcome."""
        n, desk = self.n, self.desk
        if ticket is None:
            return self.fail("TicketNotFound", f"no ticket #{n['ticket_number']}")
        department = self.out.departments.get(ticket.department.lower())
        try:
            self.sender = choose_sender(n["template"], ticket.department, department,
                                        self.out.accounts)
            recipients = resolve_recipients(n["recipient"], ticket, department,
                                            lambda email: self.out.staff.get(email.lower()))
        except RoutingError as error:
            return self.fail("NoSender", str(error))
        self.result.sender = self.sender.address
        self.recipients = self._allowed(recipients, {a.address for a in self.out.accounts})
        held = self._undeliverable(self.recipients)
        if held and len(held) == len(self.recipients):
            self.result.recipients = [p.email for p in self.recipients]
            return self.hold(held)
        self.recipients = [p for p in self.recipients if p.email not in held]
        cc = self._cc(ticket, {a.address for a in self.out.accounts})
        if cc:  # a collaborator a permanent bounce marked is left off too
            cc_held = self._undeliverable(cc)
            cc = [p for p in cc if p.email not in cc_held]
        self.result.recipients = [p.email for p in self.recipients + cc]
        if not self.recipients:
            return self.finish("suppressed", self.result.reason or "no recipients for "
                               f"{n['recipient'].get('role')!r} on ticket #{ticket.number}")

        template = self.out.template(n["template"], ticket.department)
        thread: list[Entry] = entries() if shows_thread(template, n) else []
        rendered = render(template, template_values(
            n, ticket, department, self.recipients, thread, self.out.staff,
            desk.settings.ticket_url_base))
        self.result.subject = tagged_subject(ticket.number, rendered.subject)
        self.message_id = n.get("message_id") or outbound_message_id(
            n["id"], desk.settings.system_domain)
        reply_to = reply_to_account(n["template"], ticket.department, department,
                                    self.out.accounts, self.sender)
        try:
            threading = thread_headers(n, ticket, desk.settings.system_domain, self.out.thread_keys)
        except ThreadKeyMissing as error:
            return self.fail("ThreadKeyMissing", str(error))
        try:
            files = self._files(entries) if n.get("attachments") else []
        except LookupError as error:
            return self.fail("AttachmentMissing", f"a file of the response is not in Blob: {error}")
        try:
            mime = dict(
                reply_to=Party(reply_to.name, reply_to.address) if reply_to else None,
                sender=Party(self.sender.name, self.sender.address), recipients=self.recipients,
                cc=cc,
                subject=self.result.subject, text=rendered.text, html=rendered.html,
                message_id=self.message_id, in_reply_to=n.get("in_reply_to", ""),
                references=n.get("references") or [],
                auto_submitted=AUTO_SUBMITTED.get(n["template"]),
                separator=desk.settings.reply_separator,  # staff answer alerts by mail too
                **threading,
            )
            self.raw = build_mime(**mime, attachments=files)
            if len(self.raw) > MAX_SENDMAIL_BYTES and files:  # a draft and upload sessions
                self.draft = (build_mime(**mime), files)
        except ValueError as error:
            return self.fail("InvalidMessage", str(error))
        limit = MAILBOX_SEND_LIMIT if self.draft else MAX_SENDMAIL_BYTES
        if len(self.raw) > limit or (self.draft and len(self.draft[0]) > MAX_SENDMAIL_BYTES):
            return self.fail("MessageTooLarge",
                             f"MessageTooLarge: the mail is {len(self.raw):,} bytes, over the "
                             f"{limit:,} bytes Graph takes; not sent")

    def _files(self, entries) -> list[tuple[str, str, bytes]]:
        """The files of the response entry, read from Blob: only what staff stored on the
        thread is ever attached, whatever the notification names."""
        wanted = self.n.get("response_entry_id")
        for entry in entries():
            if entry.entry_id == wanted:
                try:
                    # inline pictures too (a response answered by email, issue 10 §4):
                    # the mail is rendered from the template, where they are not shown
                    return [(a.name, a.content_type, self.desk.blobs.get(ATTACHMENTS, a.sha256))
                            for a in entry.attachments]
                except Exception as error:  # noqa: BLE001 - the blob port's missing-blob error
                    raise LookupError(str(error)) from None
        return []

    def check_sent_items(self) -> None:
        """After a claim that may follow a send: finished `sent` when the mail is there."""
        if not (self.claim.maybe_sent and self._found_in_sent_items()):
            return
        self.accepted = True
        self.desk.syslog.write(
            "info", "Notification already sent",
            f"notification {self.n['id']} ({self.n['template']}, ticket "
            f"#{self.n['ticket_number']}) was found in {self.sender.address}'s Sent Items: an "
            "earlier attempt went out, so it is not sent again", account=self.sender.address)
        self.finish("sent", "found in Sent Items (sent by an earlier attempt)",
                    message_id=self.message_id, sent=datetime.now(timezone.utc),
                    error="", error_code="")

    def send(self) -> None:
        """sendMail; throttling defers, other Graph errors raise (`uncertain` when Exchange
        may have taken the mail)."""
        from ..adapters.graph import GraphError

        graph = self.out.graph(self.sender)
        self.out.checkpoint("sending", self.n["id"])
        try:
            if self.draft:
                graph.send_large(*self.draft)
            else:
                graph.send_mime(self.raw)
        except GraphError as error:
            if error.throttled:  # Graph refused it for now: nothing was sent
                wait = BUSY_RETRY_SECONDS if error.retry_after is None else error.retry_after
                return self.defer(math.ceil(wait), f"Graph is throttling {self.sender.address}"
                                  f" ({error.code}); sending again in {math.ceil(wait)} s")
            self.uncertain = (error.code in ("Timeout", "ConnectionError")
                              or error.status in (500, 502, 504))
            raise
        self.accepted = True
        self.out.checkpoint("graph_accepted", self.n["id"])
        self.finish("sent", message_id=self.message_id, sent=datetime.now(timezone.utc),
                    error="", error_code="")

    def _found_in_sent_items(self) -> bool:
        """Whether an earlier attempt went out. A mailbox whose Sent Items the app may not
        read (403/404: e.g. outside the Mail.ReadWrite RBAC scope) cannot be checked: it is
        sent again, as without the check, and the system log says why."""
        from ..adapters.graph import GraphError

        try:
            return self.out.graph(self.sender).find_sent(self.message_id) is not None
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

    def _cc(self, ticket: Ticket, system: set[str]) -> list[Party]:
        """A response to the client carries the ticket's collaborators on Cc, read at send
        time (a removed one is not mailed), unless the ticket's account sends them one mail
        each (services/actions.py queues those). Never the auto-response or staff mail."""
        if self.n["template"] != "response" or self.n["recipient"].get("role") != "client":
            return []
        account = next((a for a in self.out.accounts if a.address == ticket.account), None)
        if account is not None and account.collaborator_delivery != CollaboratorDelivery.CC:
            return []
        to = {p.email for p in self.recipients}
        kept = []
        for address in collaborators_of(ticket):
            try:
                email = normalize_address(address)
            except ValidationError:
                continue
            if email not in system and email not in to:
                kept.append(Party("", email))
        return kept

    def _undeliverable(self, recipients: list[Party]) -> dict[str, dict]:
        """The recipients a permanent bounce marked (one point read each), by address;
        a mail that still has other recipients goes to those, and the log names the rest."""
        held = {}
        for party in recipients:
            row = self.desk.undeliverable.get(party.email)
            if row is not None:
                held[party.email] = row
        if held and len(held) < len(recipients):
            self.desk.syslog.write(
                "info", "Notification recipient held",
                f"{self.n['template']} for ticket #{self.n['ticket_number']} is not sent to "
                f"{', '.join(held)}: undeliverable (a permanent bounce)", account=self.result.sender)
        return held

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
