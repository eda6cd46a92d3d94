"""The outbound MIME: subject tag, threading and loop-safety headers, no header injection."""
from __future__ import annotations

from datetime import datetime, timezone
from email import message_from_bytes, policy

import pytest

from shared_code.domain.mail import parse_mail
from shared_code.domain.model import Party
from shared_code.domain.outbound_mail import (
    MAX_REFERENCES_CHARS,
    build_mime,
    tagged_subject,
    thread_ids,
)
from shared_code.domain.quotes import cut_reply_html, cut_reply_text

SEPARATOR = "-- reply above this line --"


def _mime(**overrides) -> bytes:
    args = dict(sender=Party("Contoso Support", "support@contoso.example"),
                recipients=[Party("Ann Client", "ann@example.org")],
                subject="[#108749] Re: Checkout page error", text="We fixed it.",
                html="<p>We fixed it.</p>", message_id="deskmail.abc@desk.contoso.example",
                in_reply_to="client-1@example.org", references=["client-0@example.org"],
                auto_submitted=None, separator=SEPARATOR,
                date=datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc))
    args.update(overrides)
    return build_mime(**args)


def _parsed(raw: bytes):
    return message_from_bytes(raw, policy=policy.default)


def test_headers_of_a_staff_response():
    raw = _mime()
    msg = _parsed(raw)
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    assert msg["Message-ID"] == "<deskmail.abc@desk.contoso.example>"
    assert msg["In-Reply-To"] == "<client-1@example.org>"
    assert msg["References"].split() == ["<client-0@example.org>", "<client-1@example.org>"]
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert msg["Auto-Submitted"] is None
    assert msg["From"] == "Contoso Support <support@contoso.example>"
    assert msg["To"] == "Ann Client <ann@example.org>"
    assert msg["Date"] == "Fri, 27 Nov 2026 09:00:00 +0000"
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert all(p["Content-Transfer-Encoding"] == "quoted-printable" for p in msg.iter_parts())


@pytest.mark.parametrize("value", ["auto-replied", "auto-generated"])
def test_auto_submitted_is_written_when_given(value):
    assert _parsed(_mime(auto_submitted=value))["Auto-Submitted"] == value


def test_separator_heads_both_bodies_and_inbound_cuts_a_reply_there():
    msg = _parsed(_mime())
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert text.splitlines()[:3] == [SEPARATOR, "", "We fixed it."]
    assert html.startswith('<p style="color:#888888') and SEPARATOR in html
    # a client that copies the original below the reply without any quote markers
    reply_text = "Thanks, works now!\n\n" + text
    assert cut_reply_text(reply_text, SEPARATOR) == "Thanks, works now!"
    assert cut_reply_text(reply_text, "some other separator") == reply_text
    reply_html = "<div>Thanks, works now!</div>" + html
    assert "fixed" not in cut_reply_html(reply_html, SEPARATOR)
    assert "fixed" in cut_reply_html(reply_html, "some other separator")


def test_separator_goes_inside_an_html_document_body():
    msg = _parsed(_mime(html="<html><head><title>t</title></head><body class=x><p>Hi</p></body></html>"))
    html = msg.get_body(("html",)).get_content()
    assert html.index("<body class=x>") < html.index(SEPARATOR) < html.index("<p>Hi</p>")


def test_no_separator_for_staff_alerts():
    msg = _parsed(_mime(separator=None))
    assert SEPARATOR not in msg.get_body(("plain",)).get_content()
    assert SEPARATOR not in msg.get_body(("html",)).get_content()


@pytest.mark.parametrize("subject", ["Re: Checkout page error", "[#108749] Re: Checkout page error",
                                     "Re: [#108749] Checkout page error [#108749]"])
def test_subject_carries_the_tag_exactly_once(subject):
    tagged = tagged_subject("108749", subject)
    assert tagged.startswith("[#108749] ")
    assert tagged.count("[#108749]") == 1
    assert "Checkout page error" in tagged


def test_subject_keeps_another_ticket_s_tag_after_its_own():
    assert tagged_subject("108749", "Follow-up to [#222222]") == "[#108749] Follow-up to [#222222]"


def test_non_ascii_names_and_subjects_are_encoded_and_read_back():
    raw = _mime(sender=Party("Zoë Süpport", "support@contoso.example"),
                subject="[#108749] Grüße, ça marche?")
    assert all(byte < 128 for byte in raw)
    parsed = parse_mail(raw)
    assert parsed.from_name == "Zoë Süpport"
    assert parsed.subject == "[#108749] Grüße, ça marche?"


def test_no_header_injection_through_any_value():
    evil = "x\r\nBcc: victim@example.net\r\nX-Injected: 1"
    raw = _mime(sender=Party(evil, "support@contoso.example"),
                recipients=[Party(evil, "ann@example.org")], subject=evil,
                in_reply_to="a@b\r\nBcc: victim@example.net", references=[evil, "ok@example.org"],
                auto_submitted="auto-replied\r\nBcc: victim@example.net")
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    names = {line.split(":", 1)[0] for line in head.split("\r\n") if not line[:1].isspace()}
    assert names == {"Message-ID", "References", "From", "To", "Subject", "Date",
                     "Auto-Submitted", "X-Auto-Response-Suppress", "MIME-Version", "Content-Type"}
    msg = _parsed(raw)
    assert msg["Bcc"] is None and msg["X-Injected"] is None
    assert msg["In-Reply-To"] is None  # the id had a line break: not one we write
    assert msg["References"] == "<ok@example.org>"
    assert [a.addr_spec for a in msg["To"].addresses] == ["ann@example.org"]


def test_values_are_refused_when_they_cannot_be_an_address_or_message_id():
    with pytest.raises(ValueError):
        _mime(recipients=[Party("x", "not an address")])
    with pytest.raises(ValueError):
        _mime(message_id="two words@desk")
    with pytest.raises(ValueError):
        _mime(recipients=[])


def test_long_message_ids_are_written_verbatim_not_encoded():
    long_id = "CAF" + "x" * 150 + "@mail.example.org"
    msg = _parsed(_mime(in_reply_to=long_id, references=[long_id]))
    assert msg["In-Reply-To"] == f"<{long_id}>"
    assert msg["References"] == f"<{long_id}>"
    assert parse_mail(_mime(in_reply_to=long_id)).in_reply_to == [long_id]


def test_references_are_trimmed_keeping_the_root_and_the_newest():
    chain = [f"id{i:03d}.{'y' * 40}@example.org" for i in range(100)]
    parent, kept = thread_ids(chain[-1], chain[:-1])
    assert parent == chain[-1]
    assert kept[0] == chain[0] and kept[-1] == chain[-1]
    assert kept[1:] == chain[-(len(kept) - 1):]
    assert sum(len(i) + 3 for i in kept) <= MAX_REFERENCES_CHARS + 3
    assert len(kept) < 100


def test_in_reply_to_ends_the_references_once():
    assert thread_ids("b@x", ["a@x", "b@x", "c@x"]) == ("b@x", ["a@x", "c@x", "b@x"])
    assert thread_ids("", []) == (None, [])
