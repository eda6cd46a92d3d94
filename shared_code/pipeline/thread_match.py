"""Rule 4: find the ticket a reply belongs to (see domain/thread_match.py for the order).

Staff may use the `[#NNNNNN]` subject tag on any ticket, but only when the mail proves it
comes from them (pipeline/sender.py). A mail naming a staff address without proof is a client
mail, and the address it cannot prove does not count as a participant either: its subject tag
is never accepted.
"""
from __future__ import annotations

from ..domain.thread_match import ThreadMatch, match_ticket
from .context import InboundMail, PipelineContext
from .sender import STAFF_SPOOF, claims_staff, from_staff, log_spoof


def _participants(ctx: PipelineContext, unproven: str = ""):
    def participants_of(number: str):
        ticket = ctx.tickets.get(number)
        if ticket is None:
            return None
        return [p for p in (ticket.client.email, *ticket.collaborators) if p != unproven]

    return participants_of


def thread_match(mail: InboundMail, ctx: PipelineContext) -> None:
    if mail.claim is not None:
        if not mail.claim.get("new_ticket"):
            mail.thread = ThreadMatch(mail.claim["ticket"], mail.claim.get("matched_by", ""))
        return
    staff, unproven = ctx.staff_addresses, ""
    if claims_staff(mail, ctx) and not from_staff(mail, ctx):
        staff, unproven = set(), mail.parsed.from_address
        log_spoof(mail, ctx, STAFF_SPOOF, "handled as a client mail")
    mail.thread = match_ticket(mail.parsed, ctx.index.ticket_of, _participants(ctx, unproven), staff)
