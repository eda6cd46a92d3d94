"""How a reply is matched to a ticket (the guide's "How Replies Are Matched to Tickets").

In order:
1. In-Reply-To: a Message-ID the system sent in the current form
   (`dm.<ticket>.<thread token>.<hash>@domain`, recognised without a lookup and accepted
   only when the token matches the ticket's), else one found in the index (Message-IDs
   the system received, and those it sent in the previous form).
2. References: every id of the chain, newest first.
3. The signed thread marker (`[ref:dm1-NNNNNN-<signature>]`, domain/thread_marker.py) in the
   text or HTML body, for a reply whose client dropped the headers (forwarded, retyped, a
   phone): accepted only when its signature is valid under the current or previous key AND
   the sender takes part in the ticket, like the tag below. It comes before the tag because
   it cannot be forged, and after the headers because a quoted body may hold the markers of
   several tickets while the headers name the mail actually answered.
4. The `[#NNNNNN]` tag in the subject, accepted only when the sender takes part in
   that ticket (its client, a collaborator, or staff), so nobody can post into
   someone else's ticket by copying a number into a subject. The caller passes as
   staff only senders the mail proves (pipeline/thread_match.py, domain/sender_auth.py).
No match means a new ticket; so does a match to a ticket closed long ago when the subject
changed (`starts_follow_up`: the new ticket links to the old one). (The mail's own Message-ID is checked earlier, by the
"already seen" rule: a known Message-ID is a duplicate, not a reply.)
"""
from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Iterable

from .mail import ParsedMail
from .notifications import parse_outbound_id
from .model import Status, Ticket
from .thread_marker import ThreadKeys, markers_in, normalized_subject

SUBJECT_TAG = re.compile(r"\[#(\d{6})\]")


@dataclass(frozen=True)
class ThreadMatch:
    ticket_number: str
    matched_by: str  # "in-reply-to" | "references" | "marker" | "subject-tag"


def _takes_part(sender: str, participants: Iterable[str] | None, staff: set[str]) -> bool:
    if participants is None or not sender:
        return False
    return sender in {p.lower() for p in participants} or sender in staff


def match_ticket(
    mail: ParsedMail,
    ticket_of_message: Callable[[str], str | None],
    participants_of: Callable[[str], Iterable[str] | None],
    staff_addresses: Iterable[str] = (),
    thread_token_of: Callable[[str], str | None] = lambda number: None,
    keys: ThreadKeys | None = None,
    rejected: list[str] | None = None,
) -> ThreadMatch | None:
    """Find the ticket this mail continues, or None for a new ticket.

    `ticket_of_message(message_id)` looks up the Message-ID index;
    `participants_of(number)` returns the addresses taking part in a ticket, or None
    when no such ticket exists; `thread_token_of(number)` the ticket's thread token (None:
    no such ticket); `keys` verify thread markers (None: markers are not read). Why a marker
    was refused is appended to `rejected`, for the log.
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
    refused = (rejected if rejected is not None else []).append
    if keys is not None:
        for number, signature in markers_in(mail.text_body, mail.html_body):
            if not keys.verify(number, signature):
                refused(f"thread marker for #{number} has an invalid signature")
                continue
            participants = participants_of(number)
            if participants is None:
                refused(f"thread marker for #{number}: no such ticket")
            elif _takes_part(sender, participants, staff):
                return ThreadMatch(number, "marker")
            else:
                refused(f"thread marker for #{number}: {sender or 'the sender'} takes no part in it")
    for number in SUBJECT_TAG.findall(mail.subject or ""):
        if _takes_part(sender, participants_of(number), staff):
            return ThreadMatch(number, "subject-tag")
    return None


def starts_follow_up(ticket: Ticket, subject: str, received: datetime, window_days: int) -> bool:
    """A reply that should become a new ticket linked to `ticket` rather than reopen it: the
    ticket is closed, its last activity (closed, the last message, or the last response: a
    client answering a response sent after closing) is more than
    `window_days` before the mail was received, and the mail's subject, prefixes and tags
    removed, is not the ticket's. Within the window, or on the same subject, it reopens."""
    if window_days <= 0 or ticket.status != Status.CLOSED:
        return False
    last = max((t for t in (ticket.closed_at, ticket.last_message_at, ticket.answered_at,
                            ticket.created) if t), default=None)  # a response is activity too
    if last is None or received - last <= timedelta(days=window_days):
        return False
    return normalized_subject(subject).casefold() != normalized_subject(ticket.subject).casefold()
