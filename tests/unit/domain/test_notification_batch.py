"""One queue message per unit of work (domain/notifications.py), and the outbound
Message-ID that names its ticket and carries its secret."""
from __future__ import annotations

from shared_code.adapters.deliveries import queued_row
from shared_code.domain.notifications import (
    BATCH_SCHEMA,
    MAX_BATCH_CHARS,
    batch_messages,
    outbound_message_id,
    parse_outbound_id,
    unbatch,
)


def _note(i: int, size: int = 100) -> dict:
    return {"id": f"n{i}", "template": "new_ticket_alert", "ticket_number": "482913",
            "text": "x" * size}


def test_the_notifications_of_a_unit_travel_in_one_message():
    [message] = batch_messages("482913", [_note(1), _note(2)])

    assert message == {"schema": BATCH_SCHEMA, "ticket_number": "482913",
                       "notifications": [_note(1), _note(2)]}
    assert unbatch(message) == [_note(1), _note(2)]
    assert unbatch(_note(3)) == [_note(3)]  # the single-notification shape still reads


def test_a_batch_too_large_for_a_queue_message_is_split_in_order():
    notes = [_note(i, 15_000) for i in range(5)]

    messages = batch_messages("482913", notes)

    assert len(messages) > 1
    assert [n for m in messages for n in unbatch(m)] == notes
    assert all(sum(len(str(n)) for n in m["notifications"]) <= MAX_BATCH_CHARS + 1000
               for m in messages)


def test_the_outbound_message_id_names_its_ticket_and_token():
    message_id = outbound_message_id("abc", "desk.contoso.example", "482913", "0123456789abcdef")

    assert message_id.startswith("dm.482913.0123456789abcdef.")
    assert parse_outbound_id(f"<{message_id}>") == ("482913", "0123456789abcdef")
    assert outbound_message_id("abc", "desk.contoso.example") == "deskmail.abc@desk.contoso.example"
    assert parse_outbound_id("deskmail.abc@desk.contoso.example") is None
    assert parse_outbound_id("dm.48291.0123456789abcdef.aa@x") is None  # not six digits


def test_the_queued_row_lives_in_the_tickets_partition():
    row = queued_row({**_note(1), "event": "ticket.created", "created": "2026-11-27"})

    assert (row["PartitionKey"], row["RowKey"], row["state"]) == ("482913", "n-n1", "queued")
    assert row["id"] == "n1" and row["template"] == "new_ticket_alert" and row["queued"]
