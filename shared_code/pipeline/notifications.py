"""Rule 7: the notifications a stored mail causes, written onto the `outbound-mail` queue.

Schema (docs/architecture.md#notification-queue): one JSON object per message,
with a deterministic `id`, so a replay after a crash enqueues nothing twice (the
outbox table remembers what was enqueued) and the sender can drop a duplicate
delivery by id.
"""
from __future__ import annotations

from datetime import datetime, timezone

from ..adapters.queues import OUTBOUND_MAIL
from ..adapters.tables import digest
from ..domain.autoreply import is_no_reply_sender
from .context import InboundMail, PipelineContext

SCHEMA = "deskmail.notification/1"


def _notification(mail: InboundMail, template: str, recipient: dict) -> dict:
    ticket, entry, parsed = mail.ticket, mail.entry, mail.parsed
    return {
        "schema": SCHEMA,
        "id": digest(f"{mail.key}|{template}", 32),
        "template": template,
        "event": "ticket.created" if mail.outcome == "created" else "message.received",
        "ticket_number": ticket.number,
        "entry_id": entry.entry_id,
        "department": ticket.department,
        "account": mail.account.address,
        "recipient": recipient,
        "sender": {"name": parsed.from_name, "email": parsed.from_address},
        "in_reply_to": mail.key,
        "references": [*parsed.references, mail.key][-20:],
        "created": datetime.now(timezone.utc).isoformat(),
    }


def plan_notifications(mail: InboundMail, ctx: PipelineContext) -> list[dict]:
    client = {"role": "client", "name": mail.ticket.client.name, "email": mail.ticket.client.email}
    if mail.outcome == "created":
        planned = [_notification(mail, "new_ticket_alert", {"role": "department_alerts"})]
        if mail.account.auto_response and is_no_reply_sender(mail.parsed.from_address):
            ctx.syslog.write(
                "info", "Auto-response suppressed",
                f"no auto-response to no-reply sender {mail.parsed.from_address} "
                f"(ticket #{mail.ticket.number})",
                account=mail.account.address,
            )
        elif mail.account.auto_response:
            planned.insert(0, _notification(mail, "new_ticket_auto_response", client))
        return planned
    return [_notification(mail, "new_message_alert", {"role": "assignee_or_department"})]


def notifications(mail: InboundMail, ctx: PipelineContext) -> None:
    mail.notifications = plan_notifications(mail, ctx)
    for notification in mail.notifications:
        if ctx.outbox.is_enqueued(notification["id"]):
            continue
        ctx.queues.send(OUTBOUND_MAIL, notification)
        ctx.outbox.mark_enqueued(notification)
        ctx.checkpoint("notification_enqueued", mail.key)
