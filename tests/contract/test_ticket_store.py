"""TicketStore contract: adapters/ticket_store.py on Azurite and MemoryTickets.

The unit of work is all or nothing: a 409 on any row (the new ticket, a marker, an entry, a
notification row) stores none of it and answers ALREADY_STORED; writing back a ticket that
changed since it was read stores nothing and answers CONFLICT (412)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from shared_code import ports
from shared_code.adapters.deliveries import queued_row
from shared_code.adapters.ticket_store import Unit, UnitResult
from shared_code.domain.limits import MAX_PROPERTY_CHARS
from shared_code.domain.model import Entry, Party, Priority, Status, Ticket

WHEN = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)
ANN = Party("Ann", "ann@example.org")


def _ticket(number: str = "482913", **changes) -> Ticket:
    fields = dict(number=number, subject="Printer on fire", status=Status.OPEN,
                  priority=Priority.NORMAL, department="Support", client=ANN, created=WHEN,
                  account="support@contoso.example", source_key="m1@example.org",
                  thread_token="tok", message_count=1)
    fields.update(changes)
    return Ticket(**fields)


def _entry(number: str = "482913", entry_id: str = "20261127T090000000000Z-a", **changes) -> Entry:
    fields = dict(ticket_number=number, entry_id=entry_id, type="message", sender=ANN,
                  message_id="m1@example.org", date=WHEN, subject="Printer on fire",
                  body_text="It burns.", body_html="", source_account="support@contoso.example")
    fields.update(changes)
    return Entry(**fields)


def _notification(nid: str, number: str = "482913") -> dict:
    return {"id": nid, "ticket_number": number, "template": "new_ticket_alert",
            "event": "ticket.created", "created": "2026-11-27T09:00:00+00:00"}


def _new_unit(number: str = "482913", nid: str = "a" * 32, **ticket) -> Unit:
    return Unit(ticket=_ticket(number, **ticket), new=True, entry=_entry(number),
                marker=("<m1@example.org>", {"entry_id": "E1", "graph_id": "g1"}),
                notification_rows=[queued_row(_notification(nid, number))])


def test_it_is_a_ticket_store(tickets):
    assert isinstance(tickets, ports.TicketStore)


def test_a_new_ticket_is_stored_whole_in_one_unit(tickets):
    assert tickets.write(_new_unit()) is UnitResult.STORED

    ticket = tickets.get("482913")
    assert (ticket.subject, ticket.client, ticket.message_count, ticket.thread_token) == (
        "Printer on fire", ANN, 1, "tok")
    assert [(e.entry_id, e.body_text) for e in tickets.entries("482913")] == [
        ("20261127T090000000000Z-a", "It burns.")]
    marker = tickets.marker("482913", "m1@example.org")  # brackets ignored
    assert (marker["message_id"], marker["entry_id"], marker["graph_id"]) == (
        "<m1@example.org>", "E1", "g1")
    assert tickets.notification_row("482913", "a" * 32)["state"] == "queued"
    [row] = tickets.notification_rows("482913")  # only the n- rows, not the marker or entry
    assert (row["id"], row["template"]) == ("a" * 32, "new_ticket_alert")
    assert tickets.notification_rows("999999") == []
    assert tickets.get("999999") is None and tickets.marker("482913", "other@x") is None
    assert [t.number for t in tickets.list()] == ["482913"]


def test_a_second_unit_with_the_same_marker_stores_nothing(tickets):
    tickets.write(_new_unit())
    ticket = tickets.get("482913")
    ticket.message_count = 2
    replay = Unit(ticket=ticket, entry=_entry(entry_id="20261127T090500000000Z-b"),
                  marker=("m1@example.org", {"entry_id": "E2"}))

    assert tickets.write(replay) is UnitResult.ALREADY_STORED

    assert tickets.get("482913").message_count == 1  # the ticket row was not written either
    assert len(tickets.entries("482913")) == 1
    assert tickets.marker("482913", "m1@example.org")["entry_id"] == "E1"


def test_a_taken_number_or_an_existing_notification_row_is_already_stored(tickets):
    tickets.write(_new_unit())

    again = _new_unit(subject="Another ticket")
    assert tickets.write(again) is UnitResult.ALREADY_STORED
    assert tickets.create(_ticket(subject="Alone")) is False
    assert tickets.get("482913").subject == "Printer on fire"

    reply = Unit(ticket=tickets.get("482913"), write_ticket=False,
                 entry=_entry(entry_id="20261127T091000000000Z-c"),
                 notification_rows=[queued_row(_notification("a" * 32))])
    assert tickets.write(reply) is UnitResult.ALREADY_STORED
    assert len(tickets.entries("482913")) == 1


def test_a_ticket_changed_since_it_was_read_is_a_conflict(tickets):
    tickets.write(_new_unit())
    mine, theirs = tickets.get("482913"), tickets.get("482913")
    theirs.assignee = "bob@contoso.example"
    assert tickets.update(theirs) is True

    mine.message_count = 2
    result = tickets.write(Unit(ticket=mine, entry=_entry(entry_id="20261127T091500000000Z-d"),
                                marker=("m2@example.org", {"entry_id": "E2"})))

    assert result is UnitResult.CONFLICT
    stored = tickets.get("482913")
    assert (stored.assignee, stored.message_count) == ("bob@contoso.example", 1)
    assert len(tickets.entries("482913")) == 1 and tickets.marker("482913", "m2@example.org") is None
    assert tickets.update(mine) is False

    fresh = tickets.get("482913")  # read again: the write goes through, and again after it
    fresh.message_count = 2
    assert tickets.update(fresh) is True
    fresh.message_count = 3
    assert tickets.update(fresh) is True
    assert tickets.get("482913").message_count == 3


def test_a_ticket_never_read_is_written_as_given(tickets):
    tickets.write(_new_unit())

    assert tickets.update(_ticket(subject="Replaced")) is True

    assert tickets.get("482913").subject == "Replaced"


def test_an_internal_note_leaves_the_ticket_row_alone(tickets):
    tickets.write(_new_unit())
    stale = tickets.get("482913")
    fresh = tickets.get("482913")
    fresh.assignee = "bob@contoso.example"
    tickets.update(fresh)

    note = Unit(ticket=stale, write_ticket=False, marker=("n1@contoso.example", {}),
                entry=_entry(entry_id="20261127T092000000000Z-e", type="note"))
    assert tickets.write(note) is UnitResult.STORED

    assert [e.type for e in tickets.entries("482913")] == ["message", "note"]
    assert tickets.get("482913").assignee == "bob@contoso.example"


def test_entries_come_back_in_thread_order_with_large_bodies(tickets):
    tickets.write(_new_unit())
    long_text = "x" * (MAX_PROPERTY_CHARS + 10)
    tickets.write(Unit(ticket=tickets.get("482913"), write_ticket=False,
                       entry=_entry(entry_id="20261127T085900000000Z-0", body_text=long_text)))

    entries = tickets.entries("482913")

    assert [e.entry_id for e in entries] == ["20261127T085900000000Z-0", "20261127T090000000000Z-a"]
    assert entries[0].body_text == long_text


def test_check_refuses_what_table_storage_would_and_writes_nothing(tickets):
    with pytest.raises(ValueError, match="ticket #482913"):
        tickets.check(ticket=_ticket(department="d" * (MAX_PROPERTY_CHARS + 1)))
    with pytest.raises(ValueError, match="row n-x of ticket #482913"):
        tickets.check_row({"PartitionKey": "482913", "RowKey": "n-x",
                           "notification": "y" * (MAX_PROPERTY_CHARS + 1)})
    tickets.check(ticket=_ticket(), entry=_entry())
    with pytest.raises(ValueError):
        tickets.write(_new_unit(department="d" * (MAX_PROPERTY_CHARS + 1)))

    assert tickets.get("482913") is None and tickets.list() == []


def test_what_get_returns_is_a_copy(tickets):
    tickets.write(_new_unit())
    ticket = tickets.get("482913")
    ticket.subject = "changed"
    ticket.collaborators.append("x@example.org")

    assert tickets.get("482913").subject == "Printer on fire"
    assert tickets.get("482913").collaborators == []


def test_a_follow_up_keeps_the_ticket_it_links_to(tickets):
    """`related_ticket` (issue 10 §5, the reopen window) round-trips; older rows read as ""."""
    assert tickets.write(_new_unit(related_ticket="108749")) is UnitResult.STORED
    assert tickets.write(_new_unit("482914", nid="b" * 32)) is UnitResult.STORED

    assert tickets.get("482913").related_ticket == "108749"
    assert tickets.get("482914").related_ticket == ""
