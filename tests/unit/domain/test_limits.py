"""domain/limits.py: what a clipped value looks like, and that a notification built from the
largest values the limits let through still passes validation (by construction)."""
from __future__ import annotations

from datetime import datetime, timezone

from shared_code.domain.limits import (
    CLIP_MARKER,
    MAX_ADDRESS_CHARS,
    MAX_MESSAGE_ID_CHARS,
    MAX_NAME_CHARS,
    MAX_REFERENCES,
    MAX_SUBJECT_CHARS,
    clip_list,
    clip_message_id,
    clip_parsed,
    clip_references,
    clip_text,
    utf16_len,
)
from shared_code.domain.mail import parse_mail
from shared_code.domain.model import Party, Priority, Status, Ticket
from shared_code.domain.notifications import new_notification, validate_notification


def test_a_clipped_text_keeps_its_head_and_says_so():
    value, clipped = clip_text("é" * 500 + "😀" * 500, 300)
    assert clipped and value.startswith("é" * 200) and value.endswith(CLIP_MARKER)
    assert utf16_len(value) <= 300
    assert clip_text("short", 300) == ("short", False)


def test_a_clipped_text_never_splits_a_surrogate_pair():
    value, _ = clip_text("😀" * 100, 51)
    assert "\ud83d" not in value.replace("😀", "")


def test_a_long_message_id_is_clipped_the_same_way_every_time():
    long_id = "a" * 40_000 + "@example.org"
    first, clipped = clip_message_id(long_id)
    assert clipped and first.startswith("aaaa") and len(first) <= MAX_MESSAGE_ID_CHARS
    assert clip_message_id(long_id)[0] == first  # a reply quoting it finds the same key
    assert clip_message_id(first) == (first, False)  # idempotent
    assert clip_message_id("b" * 40_000 + "@example.org")[0] != first


def test_references_keep_the_root_and_the_newest():
    refs = [f"r{i}@example.org" for i in range(2000)]
    kept, clipped = clip_references(refs)
    assert clipped and len(kept) == MAX_REFERENCES
    assert kept[0] == "r0@example.org" and kept[-1] == "r1999@example.org"


def test_a_clipped_list_says_how_many_were_left_out():
    items, clipped = clip_list([f"item {i}" for i in range(250)], max_items=100)
    assert clipped and len(items) == 100 and items[-1] == "… and 151 more"


def test_clip_parsed_names_every_field_it_cut():
    raw = (f"From: {'N' * 10_000} <ann@example.org>\r\n"
           f"To: {', '.join(f'u{i}@example.org' for i in range(300))}\r\n"
           f"Subject: {'S' * 100_000}\r\n"
           f"Message-ID: <{'m' * 40_000}@example.org>\r\n"
           f"References: {' '.join(f'<r{i}@example.org>' for i in range(2000))}\r\n"
           "\r\nbody\r\n").encode()
    parsed = parse_mail(raw)
    clipped = clip_parsed(parsed)
    assert set(clipped) >= {"sender.name", "subject", "message_id", "references", "to"}
    assert parsed.from_address == "ann@example.org"
    assert utf16_len(parsed.from_name) <= MAX_NAME_CHARS
    assert utf16_len(parsed.subject) <= MAX_SUBJECT_CHARS
    assert len(parsed.to) == 100
    assert clip_parsed(parsed) == []  # clipping again changes nothing


def test_an_unusable_from_address_is_dropped_as_a_defect():
    parsed = parse_mail(f"From: {'a' * 300}@example.org\r\nSubject: x\r\n\r\nbody\r\n".encode())
    clip_parsed(parsed)
    assert parsed.from_address == "" and any("unusable From" in d for d in parsed.defects)


def test_a_notification_from_the_largest_clipped_values_passes_validation():
    name = clip_text("N" * 10_000, MAX_NAME_CHARS)[0]
    address = "a" * (MAX_ADDRESS_CHARS - len("@example.org")) + "@example.org"
    long_id = "i" * 1_000 + "@example.org"  # e.g. stored before the limits existed
    ticket = Ticket(number="123456", subject=clip_text("S" * 100_000, MAX_SUBJECT_CHARS)[0],
                    status=Status.OPEN, priority=Priority.NORMAL, department="D" * MAX_NAME_CHARS,
                    client=Party(name, address), created=datetime.now(timezone.utc),
                    last_message_id=long_id)
    notification = new_notification(
        "new_ticket_auto_response", ticket, {"role": "client", "name": "R" * 10_000, "email": address},
        event="ticket.created", entry_id="e" * 60, account=address,
        sender=Party("S" * 10_000, address), actor=Party("A" * 10_000, address),
        references=[f"{i:04d}{long_id}" for i in range(2000)])
    assert validate_notification(notification) is notification
    assert len(notification["references"]) == 20
    assert notification["references"][-1].startswith("1999")  # the newest


def test_check_entity_names_the_property_and_the_key_over_the_limits():
    import pytest

    from shared_code.domain.limits import MAX_KEY_CHARS, MAX_PROPERTY_CHARS, check_entity

    check_entity({"PartitionKey": "p", "RowKey": "r", "subject": "s" * MAX_PROPERTY_CHARS}, "ok")
    with pytest.raises(ValueError, match="subject"):
        check_entity({"PartitionKey": "p", "RowKey": "r", "subject": "s" * (MAX_PROPERTY_CHARS + 1)}, "t")
    with pytest.raises(ValueError, match="RowKey"):
        check_entity({"PartitionKey": "p", "RowKey": "r" * (MAX_KEY_CHARS + 1)}, "t")
    with pytest.raises(ValueError, match="entity over"):
        check_entity({"PartitionKey": "p", "RowKey": "r",
                      **{f"p{i}": "x" * 30_000 for i in range(20)}}, "t")
