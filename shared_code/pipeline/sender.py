"""Whether a mail's From is proven (domain/sender_auth.py), computed once per mail, and the
system-log entries for mail that claims one of our addresses without proof.

Each kind of rejection has its own system-log title, so spoof attempts are easy to count.
"""
from __future__ import annotations

from ..domain.sender_auth import SenderAuth, authenticate
from ..domain.telemetry import SpoofKind, SpoofRejected
from .context import InboundMail, PipelineContext

STAFF_SPOOF = "Unauthenticated mail claiming a staff address"
HELPDESK_SPOOF = "Unauthenticated mail claiming a helpdesk address"


def sender_auth(mail: InboundMail, ctx: PipelineContext) -> SenderAuth:
    if mail.sender_auth is None:
        mail.sender_auth = authenticate(mail.parsed, ctx.settings.trusted_sender_signals)
    return mail.sender_auth


def claims_staff(mail: InboundMail, ctx: PipelineContext) -> bool:
    sender = mail.parsed.from_address.lower()
    return bool(sender) and sender in {address.lower() for address in ctx.staff_addresses}


def from_staff(mail: InboundMail, ctx: PipelineContext) -> bool:
    """A staff address in From, proven by a trusted signal."""
    return claims_staff(mail, ctx) and sender_auth(mail, ctx).trusted


def log_spoof(mail: InboundMail, ctx: PipelineContext, title: str, handling: str) -> None:
    auth = sender_auth(mail, ctx)
    message_id = mail.parsed.message_id or "(none)"
    if len(message_id) > 200:
        message_id = message_id[:188] + " …[clipped]"
    ctx.syslog.write(
        "warning", title,
        f"{mail.account.address}: mail Message-ID {message_id} claims From "
        f"{mail.parsed.from_address[:320]} but is {auth.verdict.value} ({auth.reason}); "
        f"{handling}. Authentication seen: {auth.evidence}",
        account=mail.account.address,
    )
    kind = SpoofKind.STAFF if title == STAFF_SPOOF else SpoofKind.HELPDESK
    ctx.telemetry.emit(SpoofRejected(mail.account.address, kind, auth.verdict.value, handling))
