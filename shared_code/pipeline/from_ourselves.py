"""Rule 2: mail sent from one of the helpdesk's own addresses is not posted (loop guard).

Only proven own mail (domain/sender_auth.py) is `ignored` quietly: a From naming one of our
addresses without proof is a spoof, `discarded` with a reason and a system-log warning.
"""
from __future__ import annotations

from ..domain.telemetry import DiscardRule
from .already_seen import check_deferred
from .context import InboundMail, PipelineContext
from .sender import HELPDESK_SPOOF, log_spoof, sender_auth


def from_ourselves(mail: InboundMail, ctx: PipelineContext) -> None:
    if mail.claim is not None:
        return  # passed this rule in the run that claimed it
    sender = mail.parsed.from_address
    if not sender or sender not in ctx.system_addresses:
        return
    if check_deferred(mail, ctx):
        return  # a duplicate, or an earlier run's claim to finish
    auth = sender_auth(mail, ctx)
    if auth.trusted:
        mail.outcome = "ignored"
        mail.reason = f"sent from the helpdesk's own address {sender}"
        return
    mail.outcome, mail.discard_rule = "discarded", DiscardRule.SPOOFED_HELPDESK
    mail.reason = f"spoofed helpdesk address {sender}: {auth.verdict.value} ({auth.reason})"
    mail.rule = "helpdesk-spoof"
    log_spoof(mail, ctx, HELPDESK_SPOOF, "discarded")
