"""Rule 7: the notifications a stored mail causes, written onto the `outbound-mail` queue.

Schema (docs/architecture.md#notification-queue): one JSON object per message,
with a deterministic `id`, so a replay after a crash enqueues nothing twice (the
outbox table remembers what was enqueued) and the sender can drop a duplicate
delivery by id.
"""
from __future__ import annotations

from ..adapters.queues import OUTBOUND_MAIL
from ..adapters.tables import digest
from ..domain.autoreply import is_no_reply_sender
from ..domain.model import Party
from ..domain.notifications import new_notification
from .context import InboundMail, PipelineContext


def _notification(mail: InboundMail, template: str, recipient: dict) -> dict:
    parsed = mail.parsed
    return new_notification(
        template, mail.ticket, recipient,
        event="ticket.created" if mail.outcome == "created" else "message.received",
        notification_id=digest(f"{mail.key}|{template}", 32),
        entry_id=mail.entry.entry_id, account=mail.account.address,
        sender=Party(parsed.from_name, parsed.from_address),
        in_reply_to=mail.key, references=[*parsed.references, mail.key],
    )


def plan_notifications(mail: InboundMail, ctx: PipelineContext) -> list[dict]:
    """The notifications a stored mail causes; no side effects (rule 6 plans them before it
    writes, to fail early)."""
    client = {"role": "client", "name": mail.ticket.client.name, "email": mail.ticket.client.email}
    if mail.outcome == "created":
        planned = [_notification(mail, "new_ticket_alert", {"role": "department_alerts"})]
        if mail.account.auto_response and not _no_reply(mail, ctx):
            planned.insert(0, _notification(mail, "new_ticket_auto_response", client))
        return planned
    if mail.entry.type == "note":
        return []  # a staff member's own mail: nobody to alert
    return [_notification(mail, "new_message_alert", {"role": "assignee_or_department"})]


def _no_reply(mail: InboundMail, ctx: PipelineContext) -> bool:
    return is_no_reply_sender(mail.parsed.from_address, ctx.settings.no_reply_pattern)


def notifications(mail: InboundMail, ctx: PipelineContext) -> None:
    mail.notifications = plan_notifications(mail, ctx)
    if mail.outcome == "created" and mail.account.auto_response and _no_reply(mail, ctx):
        ctx.syslog.write(
            "info", "Auto-response suppressed",
            f"no auto-response to no-reply sender {mail.parsed.from_address} "
            f"(ticket #{mail.ticket.number})",
            account=mail.account.address,
        )
    for notification in mail.notifications:
        if mail.resumed and ctx.outbox.is_enqueued(notification["id"]):
            continue  # enqueued by the run that stopped half-way
        ctx.queues.send(OUTBOUND_MAIL, notification)
        ctx.outbox.mark_enqueued(notification)
        ctx.checkpoint("notification_enqueued", mail.key)
