"""How a reply is matched to a ticket (the guide's "How Replies Are Matched to Tickets").

In order:
1. In-Reply-To: a Message-ID the system sent in the current form
   (`dm.<ticket>.<thread token>.<hash>@domain`, recognised without a lookup and accepted
   only when the token matches the ticket's), else one found in the index (Message-IDs
   the system received, and those it sent in the previous form).
2. References: every id of the chain, newest first.
3. The `[#NNNNNN]` tag in the subject, accepted only when the sender takes part in
   that ticket (its client, a collaborator, or staff), so nobody can post into
   someone else's ticket by copying a number into a subject. The caller passes as
   staff only senders the mail proves (pipeline/thread_match.py, domain/sender_auth.py).
No match means a new ticket. (The mail's own Message-ID is checked earlier, by the
"already seen" rule: a known Message-ID is a duplicate, not a reply.)
"""
from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from typing import Callable, Iterable

from .mail import ParsedMail
from .notifications import parse_outbound_id

SUBJECT_TAG = re.compile(r"\[#(\d{6})\]")


@dataclass(frozen=True)
class ThreadMatch:
    ticket_number: str
    matched_by: str  # "in-reply-to" | "references" | "subject-tag"


def match_ticket(
    mail: ParsedMail,
    ticket_of_message: Callable[[str], str | None],
    participants_of: Callable[[str], Iterable[str] | None],
    staff_addresses: Iterable[str] = (),
    thread_token_of: Callable[[str], str | None] = lambda number: None,
) -> ThreadMatch | None:
    """Find the ticket this mail continues, or None for a new ticket.

    `ticket_of_message(message_id)` looks up the Message-ID index;
    `participants_of(number)` returns the addresses taking part in a ticket, or None
    when no such ticket exists; `thread_token_of(number)` the ticket's thread token (None:
    no such ticket).
    """
    def ticket_of(message_id: str) -> str | None:
        ours = parse_outbound_id(message_id)
        if ours is None:
            return ticket_of_message(message_id)
        number, token = ours
        stored = thread_token_of(number)
        return number if stored and hmac.compare_digest(stored, token.lower()) else None

    for message_id in mail.in_reply_to:
        number = ticket_of(message_id)
        if number:
            return ThreadMatch(number, "in-reply-to")
    for message_id in reversed(mail.references):
        number = ticket_of(message_id)
        if number:
            return ThreadMatch(number, "references")
    sender = mail.from_address.lower()
    staff = {address.lower() for address in staff_addresses}
    for number in SUBJECT_TAG.findall(mail.subject or ""):
        participants = participants_of(number)
        if participants is None:
            continue
        if sender and (sender in {p.lower() for p in participants} or sender in staff):
            return ThreadMatch(number, "subject-tag")
    return None
