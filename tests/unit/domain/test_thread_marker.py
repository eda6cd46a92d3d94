"""The signed thread marker, the normalized subject, Outlook's Thread-Index bytes
([MS-OXOMSG] 2.2.1.3) and the reopen window's rule (issue 10 §5)."""
from __future__ import annotations

import base64
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from shared_code.domain.mail import parse_mail
from shared_code.domain.model import Party, Priority, Status, Ticket
from shared_code.domain.thread_marker import (
    ThreadKeys,
    conversation_guid,
    index_header,
    markers_in,
    normalized_subject,
    response_level,
    thread_index,
)
from shared_code.domain.thread_match import match_ticket, starts_follow_up
from tests.pipeline import compose

KEY, OLD_KEY, OTHER = b"k" * 32, b"o" * 32, b"x" * 32
STARTED = datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc)
#: FILETIME of STARTED, computed from the Unix time: 11644473600 s between 1601 and 1970
STARTED_FILETIME = (int(STARTED.timestamp()) + 11_644_473_600) * 10_000_000


def test_a_marker_round_trips_and_names_its_ticket():
    keys = ThreadKeys(KEY)
    marker = keys.marker("108749")

    assert marker.startswith("[ref:dm1-108749-") and len(marker) == len("[ref:dm1-108749-]") + 16
    [(number, signature)] = markers_in(f"Thanks!\n> {marker}\n")
    assert number == "108749" and keys.verify(number, signature)


def test_a_tampered_marker_or_another_key_fails():
    keys = ThreadKeys(KEY)
    _, signature = markers_in(keys.marker("108749"))[0]

    assert not keys.verify("108750", signature)  # the number changed
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    assert not keys.verify("108749", flipped)
    assert not ThreadKeys(OTHER).verify("108749", signature)


def test_rotation_accepts_the_previous_key_and_signs_with_the_new_one():
    old_signature = markers_in(ThreadKeys(OLD_KEY).marker("108749"))[0][1]
    rotated = ThreadKeys(KEY, previous=OLD_KEY)

    assert rotated.verify("108749", old_signature)
    assert rotated.marker("108749") == ThreadKeys(KEY).marker("108749")
    assert not ThreadKeys(KEY).verify("108749", old_signature)  # previous key dropped


def test_markers_are_found_in_html_and_upper_case_and_only_once():
    keys = ThreadKeys(KEY)
    marker = keys.marker("108749")
    html = f'<div style="font-size:9px">{marker.upper().replace("[REF:", "[ref:")}</div>'

    assert markers_in(marker, html) == [markers_in(marker)[0]]
    with pytest.raises(ValueError, match="6 digits"):
        keys.token("12345")


@pytest.mark.parametrize("subject, expected", [
    ("Re: Fwd: [#108749] Printer on fire", "Printer on fire"),
    ("AW:  WG: Printer   on fire", "Printer on fire"),
    ("[#108749] RE: Printer on fire [#108749]", "Printer on fire"),
    ("Re[2]: Printer on fire", "Printer on fire"),
    ("Printer on fire", "Printer on fire"),
    ("RV: Printer on fire", "Printer on fire"),  # Outlook in Spanish: a forward
    ("RES: Printer on fire", "Printer on fire"),  # Portuguese
    ("Odp: PD: Printer on fire", "Printer on fire"),  # Polish
    ("VL: Printer on fire", "Printer on fire"),  # Finnish forward
    ("YNT: Printer on fire", "Printer on fire"),  # Turkish
    ("Re： Printer on fire", "Printer on fire"),  # a full-width colon (CJK input methods)
    ("回复: 转发: Printer on fire", "Printer on fire"),  # Chinese clients
    ("AW(2): Printer on fire", "Printer on fire"),
    ("Réf : Printer on fire", "Printer on fire"),  # French, a space before the colon
    ("[EXTERNAL] RE: Printer on fire", "Printer on fire"),  # a gateway's tag before the prefix
    ("Rebooted: Printer on fire", "Rebooted: Printer on fire"),  # a word, not a prefix
])
def test_normalized_subject_drops_prefixes_and_tags(subject, expected):
    assert normalized_subject(subject) == expected


def test_the_thread_index_header_block_is_22_bytes_as_ms_oxomsg_describes():
    guid = uuid.UUID("00112233-4455-6677-8899-aabbccddeeff")
    header = index_header(STARTED, guid)

    assert len(header) == 22 and header[0] == 0x01
    assert header[1:6] == (STARTED_FILETIME >> 24).to_bytes(5, "big")  # bits 63..24
    assert header[6:] == bytes.fromhex("00112233445566778899aabbccddeeff")  # Data1-3 big-endian


def test_the_first_mail_has_the_header_alone_and_a_reply_one_response_level():
    first = base64.b64decode(thread_index("desk.contoso.example", "108749", STARTED))
    reply = base64.b64decode(thread_index("desk.contoso.example", "108749", STARTED,
                                          STARTED + timedelta(hours=1), salt="n1"))

    assert len(first) == 22 and len(reply) == 27 and reply[:22] == first
    assert first[6:] == conversation_guid("desk.contoso.example", "108749").bytes
    assert first[6:] != conversation_guid("desk.contoso.example", "108750").bytes


def test_a_response_level_under_1_7_years_keeps_bits_48_to_18_of_the_delta():
    later = STARTED + timedelta(hours=1)
    level = response_level(STARTED, later, random4=0xA, sequence=3)
    diff = (int(later.timestamp()) + 11_644_473_600) * 10_000_000 - ((STARTED_FILETIME >> 24) << 24)

    head = int.from_bytes(level[:4], "big")
    assert head >> 31 == 0  # DC = 0
    assert head == (diff >> 18) & 0x7FFFFFFF
    assert level[4] == 0xA3  # random 4 bits, then the sequence count


def test_a_response_level_after_1_7_years_sets_the_delta_code_and_drops_23_bits():
    later = STARTED + timedelta(days=3 * 365)
    level = response_level(STARTED, later)
    diff = (int(later.timestamp()) + 11_644_473_600) * 10_000_000 - ((STARTED_FILETIME >> 24) << 24)

    head = int.from_bytes(level[:4], "big")
    assert head >> 31 == 1 and head & 0x7FFFFFFF == (diff >> 23) & 0x7FFFFFFF


def _ticket(status=Status.CLOSED, closed_days_ago=40, subject="Printer on fire") -> Ticket:
    now = datetime(2026, 11, 27, tzinfo=timezone.utc)
    closed = now - timedelta(days=closed_days_ago)
    return Ticket(number="108749", subject=subject, status=status, priority=Priority.NORMAL,
                  department="Support", client=Party("Ann", "ann@example.org"),
                  created=closed - timedelta(days=1), closed_at=closed, last_message_at=closed)


@pytest.mark.parametrize("ticket, subject, window, follow_up", [
    (_ticket(), "Re: New laptop please", 30, True),
    (_ticket(), "Re: [#108749] printer ON fire", 30, False),  # same subject: reopens
    (_ticket(closed_days_ago=10), "New laptop please", 30, False),  # within the window
    (_ticket(status=Status.OPEN), "New laptop please", 30, False),  # not closed
    (_ticket(closed_days_ago=40), "New laptop please", 60, False),  # a longer window
    (_ticket(), "New laptop please", 0, False),  # 0: always reopens
    # staff answered after closing, 5 days ago: the client's answer to it reopens
    (replace(_ticket(), answered_at=datetime(2026, 11, 22, tzinfo=timezone.utc)),
     "New laptop please", 30, False),
])
def test_the_reopen_window(ticket, subject, window, follow_up):
    received = datetime(2026, 11, 27, tzinfo=timezone.utc)
    assert starts_follow_up(ticket, subject, received, window) is follow_up


def _reply(body: str, sender: str = "Ann <ann@example.org>"):
    return parse_mail(compose(subject="Fwd: something", sender=sender, body=body))


def test_a_marker_threads_a_participant_and_comes_after_the_headers():
    keys = ThreadKeys(KEY)
    participants = {"108749": ["ann@example.org"], "200000": ["ann@example.org"]}
    mail = _reply(f"See below\n> {keys.marker('108749')}")

    found = match_ticket(mail, lambda mid: None, participants.get, keys=keys)
    assert (found.ticket_number, found.matched_by) == ("108749", "marker")
    mail.in_reply_to = ["known@example.org"]
    found = match_ticket(mail, {"known@example.org": "200000"}.get, participants.get, keys=keys)
    assert (found.ticket_number, found.matched_by) == ("200000", "in-reply-to")


def test_a_marker_from_a_stranger_a_forged_one_or_an_unknown_ticket_is_refused():
    keys, rejected = ThreadKeys(KEY), []
    participants = {"108749": ["ann@example.org"]}
    forged = ThreadKeys(OTHER).marker("108749")
    unknown = keys.marker("999999")
    copied = keys.marker("108749")

    assert match_ticket(_reply(f"{forged} {unknown}"), lambda m: None, participants.get,
                        keys=keys, rejected=rejected) is None
    assert match_ticket(_reply(copied, sender="eve@evil.example"), lambda m: None,
                        participants.get, keys=keys, rejected=rejected) is None
    assert [r.split(":")[0] for r in rejected] == [
        "thread marker for #108749 has an invalid signature", "thread marker for #999999",
        "thread marker for #108749"]
    assert "eve@evil.example takes no part" in rejected[2]
    # staff (proven, passed by the caller) may use it; without keys markers are not read
    assert match_ticket(_reply(copied, sender="agent@contoso.example"), lambda m: None,
                        participants.get, {"agent@contoso.example"}, keys=keys) is not None
    assert match_ticket(_reply(copied), lambda m: None, participants.get) is None


def test_the_mime_carries_the_marker_in_both_bodies_and_the_outlook_headers():
    from email import message_from_bytes, policy

    from shared_code.domain.outbound_mail import build_mime

    marker = ThreadKeys(KEY).marker("108749")
    raw = build_mime(sender=Party("Support", "support@contoso.example"),
                     recipients=[Party("Ann", "ann@example.org")], subject="[#108749] Re: Hi",
                     text="Hello", html="<html><body><p>Hello</p></body></html>",
                     message_id="a@desk.example", in_reply_to="", references=[],
                     auto_submitted=None, separator=None, marker=marker,
                     thread_topic="Hi", thread_index=thread_index("desk.example", "108749", STARTED))
    msg = message_from_bytes(raw, policy=policy.default)

    assert msg["Thread-Topic"] == "Hi"
    assert len(base64.b64decode(msg["Thread-Index"])) == 22
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert text.rstrip().endswith(marker)
    assert marker in html and html.index(marker) < html.index("</body>")
    assert "display:none" not in html  # real text, kept when a client quotes the mail
