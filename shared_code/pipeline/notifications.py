"""Rule 7: the notifications a stored mail causes, sent on the `outbound-mail` queue.

Rule 6 plans them (`plan_notifications`) and stores them as `n-` rows in the same
transaction as the mail (the transactional outbox); this rule sends ONE queue message
for them (`deskmail.batch/1`, docs/architecture.md#notification-queue). Ids are
deterministic, so a replay after a crash sends the batch again and the sender, which
claims by notification id, sends nothing twice; no "enqueued" state is written.
"""
from __future__ import annotations

from ..adapters.names import OUTBOUND_MAIL
from ..adapters.table_base import digest
from ..domain.autoreply import is_no_reply_sender
from ..domain.model import Party
from ..domain.notifications import batch_messages, new_notification, outbound_message_id
from .context import InboundMail, PipelineContext
from .staff_mail import plan_response


def _notification(mail: InboundMail, template: str, recipient: dict, ctx: PipelineContext) -> dict:
    parsed = mail.parsed
    notification_id = digest(f"{mail.key}|{template}", 32)
    message_id = outbound_message_id(notification_id, ctx.settings.system_domain,
                                     mail.ticket.number, mail.ticket.thread_token)
    return new_notification(
        template, mail.ticket, recipient,
        event="ticket.created" if mail.outcome == "created" else "message.received",
        notification_id=notification_id, extra={"message_id": message_id},
        entry_id=mail.entry.entry_id, account=mail.account.address,
        sender=Party(parsed.from_name, parsed.from_address),
        in_reply_to=mail.key, references=[*parsed.references, mail.key],
    )


def plan_notifications(mail: InboundMail, ctx: PipelineContext) -> list[dict]:
    """The notifications a stored mail causes; no side effects (rule 6 plans them before it
    writes, to fail early)."""
    client = {"role": "client", "name": mail.ticket.client.name, "email": mail.ticket.client.email}
    if mail.outcome == "created":
        planned = [_notification(mail, "new_ticket_alert", {"role": "department_alerts"}, ctx)]
        if mail.account.auto_response and not _no_reply(mail, ctx) and not _skipped(mail):
            planned.insert(0, _notification(mail, "new_ticket_auto_response", client, ctx))
        return planned
    if mail.entry.type == "note":
        return []  # a staff member's own mail: nobody to alert
    if mail.entry.type == "response":  # a staff member answered by mail: to the client only
        return plan_response(mail, ctx)
    return [_notification(mail, "new_message_alert", {"role": "assignee_or_department"}, ctx)]


def _skipped(mail: InboundMail) -> bool:
    """An admin's filter asked for no auto-response (rule 2a)."""
    return mail.filtered is not None and mail.filtered.skip_auto_response


def _no_reply(mail: InboundMail, ctx: PipelineContext) -> bool:
    return is_no_reply_sender(mail.parsed.from_address, ctx.settings.no_reply_pattern)


def notifications(mail: InboundMail, ctx: PipelineContext) -> None:
    if mail.outcome == "created" and mail.account.auto_response and _no_reply(mail, ctx):
        ctx.syslog.write(
            "info", "Auto-response suppressed",
            f"no auto-response to no-reply sender {mail.parsed.from_address} "
            f"(ticket #{mail.ticket.number})",
            account=mail.account.address,
        )
    for message in batch_messages(mail.ticket.number, mail.notifications):
        ctx.queues.send(OUTBOUND_MAIL, message)
        ctx.checkpoint("notification_enqueued", mail.key)
