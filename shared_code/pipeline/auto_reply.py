"""Rule 3: auto-replies and bounces create no ticket and trigger no notification, unless an
admin's filter (rule 2a) allows the mail as auto-generated (a monitoring system's alerts)."""
from __future__ import annotations

from ..domain.autoreply import detect_auto_reply
from ..domain.telemetry import DiscardRule
from .already_seen import check_deferred
from .context import InboundMail, PipelineContext


def auto_reply(mail: InboundMail, ctx: PipelineContext) -> None:
    if mail.claim is not None:
        return  # passed this rule in the run that claimed it
    rule = detect_auto_reply(mail.parsed, ctx.settings.auto_reply_allowed_senders)
    if rule and mail.filtered is not None and mail.filtered.allow_auto_generated:
        # an admin's filter lets this auto-generated mail through (monitoring alerts)
        ctx.syslog.write("info", "Auto-generated mail allowed by a filter",
                         f"{mail.account.address}: {mail.key[:200]} (rule: {rule}) allowed by "
                         f"filter {', '.join(mail.filtered.matched)[:300]}",
                         account=mail.account.address)
        return
    if rule and not check_deferred(mail, ctx):  # not a duplicate or an earlier run's claim
        mail.outcome, mail.discard_rule = "discarded", DiscardRule.AUTO_REPLY
        mail.reason = f"auto-reply or bounce (rule: {rule})"
        mail.rule = rule
