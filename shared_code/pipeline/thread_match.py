"""Rule 4: find the ticket a reply belongs to (see domain/thread_match.py for the order).

Staff may use the `[#NNNNNN]` subject tag on any ticket, but only when the mail proves it
comes from them (pipeline/sender.py). A mail naming a staff address without proof is a client
mail, and the address it cannot prove does not count as a participant either: its subject tag
is never accepted. A thread marker is accepted on the same terms (domain/thread_marker.py);
one refused is logged. A match to a ticket closed longer than REOPEN_WINDOW_DAYS ago, on a
changed subject, becomes a new ticket linked to it. The spoof is logged by rule 6 once the mail's claim is fresh: a replay
or a duplicate does not log it again.
"""
from __future__ import annotations

from ..domain.thread_match import ThreadMatch, match_ticket, starts_follow_up
from .context import InboundMail, PipelineContext
from .sender import STAFF_SPOOF, claims_staff, from_staff


def _ticket_of(ctx: PipelineContext, tickets: "_Tickets"):
    """The ticket of a Message-ID in the index: a finished row, or a claim (those stay
    `claimed`): a reply's names the ticket it was matched to, accepted when that ticket
    exists; a new ticket's only when that ticket is the one the mail started (its source
    key). The ticket read is the one rule 6 needs anyway."""
    def ticket_of(message_id: str) -> str | None:
        row = ctx.index.get(message_id)
        if not row or not row.get("ticket"):
            return None
        if row.get("state") == "done":
            return row["ticket"]
        ticket = tickets.get(row["ticket"])
        if ticket is None:
            return None
        if not row.get("new_ticket") or ticket.source_key == row.get("message_id", message_id):
            return row["ticket"]
        return None

    return ticket_of


class _Tickets:
    """The tickets threading reads, each once; rule 6 reuses the matched one (its ETag)."""

    def __init__(self, ctx: PipelineContext):
        self._ctx, self.read = ctx, {}

    def get(self, number: str):
        if number not in self.read:
            self.read[number] = self._ctx.tickets.get(number)
        return self.read[number]

    def token_of(self, number: str) -> str | None:
        ticket = self.get(number)
        return ticket.thread_token if ticket is not None else None

    def participants(self, unproven: str = ""):
        def participants_of(number: str):
            ticket = self.get(number)
            if ticket is None:
                return None
            return [p for p in (ticket.client.email, *ticket.collaborators) if p != unproven]

        return participants_of


def _log(mail: InboundMail, ctx: PipelineContext, title: str, message: str) -> None:
    message_id = (mail.parsed.message_id or "(no Message-ID)")[:200]
    ctx.syslog.write("info", title, f"{mail.account.address}: mail {message_id} from "
                     f"{mail.parsed.from_address[:320]}: {message}", account=mail.account.address)


def _follow_up(mail: InboundMail, ctx: PipelineContext, staff: bool) -> None:
    """The reopen window: a client's reply to a ticket closed long ago, on a new subject,
    starts a new ticket that links to the old one (domain/thread_match.py)."""
    ticket = mail.matched_ticket
    if staff or ticket is None or not starts_follow_up(
            ticket, mail.parsed.subject, mail.received, ctx.settings.reopen_window_days):
        return
    mail.related_ticket, mail.thread, mail.matched_ticket = ticket.number, None, None
    _log(mail, ctx, "Reply to an old closed ticket: new ticket",
         f"ticket #{ticket.number} is closed for more than {ctx.settings.reopen_window_days} "
         f"days and the subject changed; a new ticket links to it")


def thread_match(mail: InboundMail, ctx: PipelineContext) -> None:
    if mail.claim is not None:
        if not mail.claim.get("new_ticket"):
            mail.thread = ThreadMatch(mail.claim["ticket"], mail.claim.get("matched_by", ""))
        mail.related_ticket = mail.claim.get("related_ticket", "")
        return
    staff, unproven = ctx.staff_addresses, ""
    if claims_staff(mail, ctx) and not from_staff(mail, ctx):
        staff, unproven = set(), mail.parsed.from_address
        mail.spoof_logs.append((STAFF_SPOOF, "handled as a client mail"))  # logged by rule 6
    tickets, rejected = _Tickets(ctx), []
    mail.thread = match_ticket(mail.parsed, _ticket_of(ctx, tickets), tickets.participants(unproven),
                               staff, thread_token_of=tickets.token_of, keys=ctx.thread_keys,
                               rejected=rejected)
    for reason in rejected:  # a copied or forged marker: no threading by it
        _log(mail, ctx, "Thread marker not accepted", reason)
    if mail.thread is not None:
        # read here when threading did not need it (an index match): rule 6 reuses it
        mail.matched_ticket = tickets.get(mail.thread.ticket_number)
        _follow_up(mail, ctx, from_staff(mail, ctx))
