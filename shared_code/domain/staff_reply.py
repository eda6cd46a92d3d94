"""What a proven staff member's mail on a ticket means (issue 10 §4): a response to the client,
or an internal note.

Staff answer an alert or a response by replying to it. What they wrote above the quoted mail
is the response; the quote (the alert, with the ticket's details and the client's message) is
never mailed to the client. So a staff mail is a response only when something is left after the
quote is cut (domain/quotes.py, with `keep_when_empty` off: the ordinary rule keeps the whole
text when cutting leaves nothing, so nothing a client wrote is lost). It is a note when:
  * its first non-empty line starts with `#note` (`#note: ...`, `#notes` too: a near miss
    must not mail an internal remark to the client); the prefix is dropped from what is kept;
  * nothing is left above the quote (an empty reply, or only an image): kept whole, as a note;
  * it is automatic (an out-of-office an admin's filter let through as auto-generated);
  * it is a forward (Fwd:/WG: ...): forwarding a ticket to the helpdesk is not an answer;
  * the staff member is the ticket's client: nobody to answer but themselves.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from .content import is_forward_subject
from .mail import iter_html
from .quotes import cut_reply_text

#: `#note` at the start of the first line: alone, or followed by what the staff member wrote
#: (`#note: toner ordered`, `#notes`, `# note -`). Generous on purpose: a near miss read as a
#: response would mail an internal remark to the client; one read as a note only stays inside.
NOTE_PREFIX = re.compile(r"#[ \t]?notes?(?!\w)[ \t]*[:\-\u2013\u2014]?[ \t]*", re.IGNORECASE)


class StaffReplyKind(StrEnum):
    RESPONSE = "response"
    NOTE = "note"


@dataclass(frozen=True)
class StaffReply:
    kind: StaffReplyKind
    text: str  # what is posted (and, for a response, mailed): the quote already cut
    html: str
    why: str = ""  # for a note: why it is not a response (logged)


def _first_line_is_note(text: str) -> bool:
    for line in text.splitlines():
        if line.strip():
            return bool(NOTE_PREFIX.match(line.strip()))
    return False


def _without_note_line(text: str) -> str:
    """The text without the `#note` prefix (and its line, when nothing else is on it)."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.strip():
            rest = NOTE_PREFIX.sub("", line.strip(), count=1)
            kept = [rest] if rest.strip() else []
            return "\n".join(lines[:index] + kept + lines[index + 1:]).strip("\n")
    return text


def _without_note_html(markup: str) -> str:
    """The HTML without the `#note` prefix its first visible text starts with."""
    tokens = list(iter_html(markup))
    for position, (kind, value, _, offset) in enumerate(tokens):
        if kind != "text" or not value.strip():
            continue
        end = tokens[position + 1][3] if position + 1 < len(tokens) else len(markup)
        segment = markup[offset:end]
        lead = len(segment) - len(segment.lstrip())
        found = NOTE_PREFIX.match(segment, lead)
        if not found:
            return markup
        return markup[:offset + lead] + segment[found.end():] + markup[end:]
    return markup


def read_staff_reply(*, subject: str, raw_text: str, text: str, html: str, separator: str,
                     staff_is_client: bool = False, automatic: str = "") -> StaffReply:
    """`raw_text` is the mail's whole text body; `text` and `html` what the content rule kept
    (quote cut, HTML sanitized); `automatic` the auto-reply rule the mail matches, if any."""
    if _first_line_is_note(text):
        return StaffReply(StaffReplyKind.NOTE, _without_note_line(text), _without_note_html(html),
                          "it starts with #note")
    if automatic:
        return StaffReply(StaffReplyKind.NOTE, text, html, f"it is an automatic mail ({automatic})")
    if is_forward_subject(subject):
        return StaffReply(StaffReplyKind.NOTE, text, html, "it is a forward, not an answer")
    if staff_is_client:
        return StaffReply(StaffReplyKind.NOTE, text, html, "the staff member is the ticket's client")
    if not cut_reply_text(raw_text or "", separator, keep_when_empty=False).strip():
        return StaffReply(StaffReplyKind.NOTE, text, html, "nothing is left above the quoted mail")
    return StaffReply(StaffReplyKind.RESPONSE, text, html)
