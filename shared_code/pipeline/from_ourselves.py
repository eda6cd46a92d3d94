"""Rule 2: mail sent from one of the helpdesk's own addresses is not posted (loop guard)."""
from __future__ import annotations

from .context import InboundMail, PipelineContext


def from_ourselves(mail: InboundMail, ctx: PipelineContext) -> None:
    if mail.claim is not None:
        return  # passed this rule in the run that claimed it
    sender = mail.parsed.from_address
    if sender and sender in ctx.system_addresses:
        mail.outcome = "ignored"
        mail.reason = f"sent from the helpdesk's own address {sender}"
