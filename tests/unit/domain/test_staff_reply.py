"""domain/staff_reply.py: what a proven staff member's mail on a ticket means."""
from __future__ import annotations

import pytest

from shared_code.domain.quotes import DEFAULT_SEPARATOR
from shared_code.domain.staff_reply import StaffReplyKind, read_staff_reply

QUOTE = "\n\nOn Tue, Dec 1, 2026 at 2:00 AM Support <support@contoso.example> wrote:\n> New ticket\n"


def _read(text: str, html: str = "", subject: str = "Re: [#123456] Printer", raw: str | None = None,
          **changes):
    return read_staff_reply(subject=subject, raw_text=raw if raw is not None else text + QUOTE,
                            text=text, html=html, separator=DEFAULT_SEPARATOR, **changes)


def test_new_text_above_the_quote_is_a_response():
    reply = _read("Switch it off.")
    assert (reply.kind, reply.text, reply.why) == (StaffReplyKind.RESPONSE, "Switch it off.", "")


@pytest.mark.parametrize("first", ["#note", "#NOTE", "#Note   ", "\n\n  #note\t"])
def test_a_first_line_note_makes_a_note_without_that_line(first):
    reply = _read(f"{first}\nToner ordered.", html="<p>#Note</p><p>Toner ordered.</p>")
    assert reply.kind is StaffReplyKind.NOTE and reply.why == "it starts with #note"
    assert reply.text.strip() == "Toner ordered."
    assert "#note" not in reply.html.lower() and "Toner ordered." in reply.html


@pytest.mark.parametrize("text, html", [
    ("#notes\nToner ordered.", "<p>#notes</p><p>Toner ordered.</p>"),
    ("#note: Toner ordered.", "<div>#Note: Toner ordered.</div>"),
    ("#NOTE - Toner ordered.", "<div>\n  #NOTE - Toner ordered.</div>"),
    ("# note\nToner ordered.", "<p># note<br>Toner ordered.</p>"),
])
def test_a_near_miss_of_note_is_a_note_too_never_mailed_to_the_client(text, html):
    reply = _read(text, html=html)
    assert reply.kind is StaffReplyKind.NOTE
    assert reply.text.strip() == "Toner ordered."
    assert "note" not in reply.html.lower() and "Toner ordered." in reply.html


@pytest.mark.parametrize("text", ["Hi,\n#note\nToner.", "#notebook is broken", "#noted, thanks"])
def test_note_counts_only_at_the_start_of_the_first_line_and_as_a_word(text):
    assert _read(text).kind is StaffReplyKind.RESPONSE


def test_nothing_above_the_quote_is_a_note_kept_whole():
    reply = _read(QUOTE.strip(), raw=QUOTE)
    assert reply.kind is StaffReplyKind.NOTE
    assert reply.why == "nothing is left above the quoted mail"
    assert "New ticket" in reply.text  # nothing a person wrote is lost


def test_a_forward_and_a_staff_member_who_is_the_client_are_notes():
    assert _read("FYI", subject="Fwd: [#123456] Printer").why == "it is a forward, not an answer"
    assert _read("Mine.", staff_is_client=True).why == "the staff member is the ticket's client"
