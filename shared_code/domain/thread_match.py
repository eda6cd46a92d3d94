"""How a reply is matched to a ticket (the guide's "How Replies Are Matched to Tickets").

In order:
1. In-Reply-To: a Message-ID the system received or sent, found in the index.
2. References: every id of the chain, newest first.
3. The `[#NNNNNN]` tag in the subject, accepted only when the sender takes part in
   that ticket (its client, a collaborator, or staff), so nobody can post into
   someone else's ticket by copying a number into a subject. The caller passes as
   staff only senders the mail proves (pipeline/thread_match.py, domain/sender_auth.py).
No match means a new ticket. (The mail's own Message-ID is checked earlier, by the
"already seen" rule: a known Message-ID is a duplicate, not a reply.)
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable

from .mail import ParsedMail

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
) -> ThreadMatch | None:
    """Find the ticket this mail continues, or None for a new ticket.

    `ticket_of_message(message_id)` looks up the Message-ID index;
    `participants_of(number)` returns the addresses taking part in a ticket, or None
    when no such ticket exists.
    """
    for message_id in mail.in_reply_to:
        number = ticket_of_message(message_id)
        if number:
            return ThreadMatch(number, "in-reply-to")
    for message_id in reversed(mail.references):
        number = ticket_of_message(message_id)
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
