"""Rule 0: cut what the mail will write to what storage and notifications accept, before any
rule reads it or anything is written (domain/limits.py has the limits and the why).

A mail with no usable sender address is discarded here with a named reason: a ticket needs
a client to answer, and the raw mail stays in Blob for an administrator.
"""
from __future__ import annotations

from ..domain.limits import clip_parsed
from ..domain.telemetry import DiscardRule
from .context import InboundMail, PipelineContext

NO_SENDER = "no sender address: the From header is missing or unreadable (raw mail kept)"


def clipping(mail: InboundMail, ctx: PipelineContext) -> None:
    mail.clipped = clip_parsed(mail.parsed)
    if not mail.parsed.from_address:
        mail.outcome, mail.discard_rule = "discarded", DiscardRule.NO_SENDER
        mail.reason = NO_SENDER
        mail.rule = "no-sender"
