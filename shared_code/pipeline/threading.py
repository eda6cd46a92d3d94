"""Rule 4: find the ticket a reply belongs to (see domain/threading.py for the order)."""
from __future__ import annotations

from ..domain.threading import ThreadMatch, match_ticket
from .context import InboundMail, PipelineContext


def _participants(ctx: PipelineContext):
    def participants_of(number: str):
        ticket = ctx.tickets.get(number)
        if ticket is None:
            return None
        return [ticket.client.email, *ticket.collaborators]

    return participants_of


def threading(mail: InboundMail, ctx: PipelineContext) -> None:
    if mail.claim is not None:
        if not mail.claim.get("new_ticket"):
            mail.thread = ThreadMatch(mail.claim["ticket"], mail.claim.get("matched_by", ""))
        return
    mail.thread = match_ticket(
        mail.parsed, ctx.index.ticket_of, _participants(ctx), ctx.staff_addresses
    )
