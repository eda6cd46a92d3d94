"""System mail: a mail about the helpdesk itself (a monitor alert), sent through `outbound-mail`.

A notification belongs to a ticket (its delivery row lives in the ticket's partition); a
monitor alert has no ticket. So it travels on the same queue as its own message shape,
`{"schema": "deskmail.system-mail/1", "id", "kind", "sender", "to", "subject", "text",
"created"}`, and
the queue trigger (outbound_queue.handle_queue_message) hands it here: the same queue, the same
retries, the same mailbox pacing and the same poison queue as notifications. What makes it be
sent once is the claim the producer made before queueing it (services/monitor.py); a retry
after an attempt that may have gone out looks in the sender's Sent Items for its Message-ID
first, as notifications do.

One that fails for good is recorded in table `systemmail` by the poison trigger
(`record_failed`), listed with the failed notifications and requeued by `requeue` (once: the
row goes failed → queued under its ETag); a requeued one always looks in Sent Items first, since
an attempt that ended in poison may have gone out.
"""
from __future__ import annotations

import html as html_lib
import time
from datetime import datetime, timezone

from ..adapters.names import OUTBOUND_MAIL, OUTBOUND_POISON
from ..domain.model import AlreadyExists, EmailAccount, Party, ValidationError, normalize_address
from ..domain.outbound_mail import build_mime
from .helpdesk import Helpdesk
from .outbound_run import SEND_DEADLINE_SECONDS
from .send_delivery import MAX_SEND_ATTEMPTS, SendResult

SCHEMA = "deskmail.system-mail/1"


def is_system_mail(message: object) -> bool:
    return isinstance(message, dict) and message.get("schema") == SCHEMA


def system_mail(kind: str, mail_id: str, sender: str, to: list[str], subject: str,
                text: str) -> dict:
    """The queue message; `mail_id` is derived from what it is about, so a retried producer
    makes the same message (and the same Message-ID)."""
    recipients = sorted({normalize_address(address, "to") for address in to})
    if not recipients:
        raise ValidationError("a system mail needs at least one recipient", "to")
    return {"schema": SCHEMA, "id": mail_id, "kind": kind, "sender": normalize_address(sender),
            "to": recipients, "subject": subject[:250], "text": text[:8000],
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def queue_system_mail(desk: Helpdesk, message: dict) -> None:
    desk.queues.send(OUTBOUND_MAIL, message)


def sender_for_alerts(accounts: list[EmailAccount]) -> tuple[EmailAccount | None, str]:
    """The Alert account (purpose `alert`) that can send, else the System account; with a
    note when it fell back or found none."""
    usable = [a for a in accounts if a.tenant_id and a.client_id and a.client_secret_name]
    for purpose in ("alert", "system"):
        found = next((a for a in usable if a.purpose.value == purpose), None)
        if found is not None:
            note = "" if purpose == "alert" else (
                f"no Alert account with OAuth credentials: monitor mail is sent from the System "
                f"account {found.address}")
            return found, note
    return None, ("no Alert or System account with OAuth credentials: the monitor cannot "
                  "send mail (add an account with purpose alert)")


def send_system_mail(desk: Helpdesk, message: dict, dequeue_count: int = 1) -> SendResult:
    """Send one system mail; a refusal (unusable message) is a failed result, a Graph or
    storage failure raises (the queue retries it)."""
    result = SendResult(id=str(message.get("id") or ""), template=str(message.get("kind") or ""),
                        sender=str(message.get("sender") or ""),
                        recipients=list(message.get("to") or []),
                        subject=str(message.get("subject") or ""))
    account = desk.accounts.get(result.sender) if result.sender else None
    if not result.id or not result.recipients or account is None:
        result.outcome = "failed"
        result.reason = ("invalid system mail: no id or recipients" if account or not result.sender
                         else f"the sending account {result.sender} no longer exists")
        desk.syslog.write("error", "System mail refused", f"{result.id or '(no id)'}: {result.reason}")
        if result.id and result.recipients:  # listed, to requeue once the account is back
            desk.system_mail.record_failed(message, 1, result.reason, "NoSender")
        return result
    granted, wait = desk.counters.take_send_slots(account.address, [len(result.recipients)])
    if not granted:
        result.outcome, result.retry_after_seconds = "deferred", max(1, int(wait))
        result.reason = f"{account.address} reached Exchange Online's sending limit; sending later"
        return result
    message_id = f"deskmail.{result.template}.{result.id}@{desk.settings.system_domain}"
    text = str(message.get("text") or "")
    html = "<p>" + html_lib.escape(text).replace("\n", "<br>\n") + "</p>"
    raw = build_mime(sender=Party(account.name, account.address),
                     recipients=[Party("", address) for address in result.recipients],
                     subject=result.subject, text=text, html=html,
                     message_id=message_id, in_reply_to="", references=[],
                     auto_submitted="auto-generated", separator=None)
    with desk.mail_client(account, deadline=time.monotonic() + SEND_DEADLINE_SECONDS) as graph:
        if (dequeue_count > 1 or message.get("requeued")) and graph.find_sent(message_id):
            result.outcome, result.reason = "duplicate", "found in Sent Items: sent before"
        else:
            graph.send_mime(raw)
            result.outcome = "sent"
    if message.get("requeued"):
        desk.system_mail.record_sent(result.id)
    if result.outcome != "sent":
        return result
    desk.syslog.write("info", "System mail sent",
                      f"{result.template} from {account.address} to {', '.join(result.recipients)}: "
                      f"{result.subject}", account=account.address)
    return result


def record_failed(desk: Helpdesk, message: dict) -> None:
    """The poison trigger's work for a system mail: list it as failed (with the last error
    and attempts the sender put on the poison message) so an admin can requeue it."""
    attempts = int(message.get("attempts") or MAX_SEND_ATTEMPTS)
    error = str(message.get("last_error") or
                f"moved to {OUTBOUND_POISON} after {attempts} failed attempts")
    mail = {k: v for k, v in message.items()
            if k not in ("attempts", "last_error", "error_code", "requeued")}
    desk.system_mail.record_failed(mail, attempts, error, str(message.get("error_code") or ""))
    desk.syslog.write("error", "System mail failed",
                      f"{message.get('kind')} {message.get('id')} from {message.get('sender')} "
                      f"to {', '.join(message.get('to') or [])} was given up after repeated "
                      f"failures: {message.get('subject')}; re-queue it with "
                      f"`notifications requeue {message.get('id')}`",
                      account=str(message.get("sender") or ""))


def failed_rows(desk: Helpdesk) -> list[dict]:
    """Failed system mail in the shape of a failed notification (`type` says which)."""
    return [{"id": row.get("id", ""), "type": "system_mail", "state": row.get("state", ""),
             "template": row.get("kind", ""), "ticket": "", "sender": row.get("sender", ""),
             "recipients": row.get("recipients", ""), "subject": row.get("subject", ""),
             "attempts": int(row.get("attempts") or 0), "error_code": row.get("error_code", ""),
             "error": row.get("error", ""), "created": row.get("created") or None,
             "updated": row.get("updated")} for row in desk.system_mail.failed()]


def requeue(desk: Helpdesk, mail_id: str) -> dict | None:
    """Put a failed system mail back on `outbound-mail`, once; None when there is no such
    system mail (then it is no system mail: the caller looks for a notification)."""
    row = desk.system_mail.get(mail_id)
    if row is None:
        return None
    message = desk.system_mail.take_for_requeue(mail_id)
    if message is None:
        raise AlreadyExists(f"system mail {mail_id} is {row.get('state')}, not failed: "
                            "not queued again", "id")
    try:
        desk.queues.send(OUTBOUND_MAIL, {**message, "requeued": True})
    except Exception:  # not queued: listed as failed again, as it was
        desk.system_mail.record_failed(message, 0, str(row.get("error") or ""),
                                       str(row.get("error_code") or ""))
        raise
    desk.syslog.write("info", "System mail re-queued",
                      f"system mail {mail_id} ({row.get('kind')}, created {row.get('created') or '?'}) "
                      "is queued again", account=str(row.get("sender") or ""))
    return message
