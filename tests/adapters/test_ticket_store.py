"""The ticket partition (adapters/ticket_store.py): one transaction per unit of work."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from shared_code.adapters.ticket_store import TicketStore, Unit, UnitResult, marker_key
from shared_code.domain.model import Entry, Party, Priority, Status, Ticket

NOW = datetime(2026, 11, 27, 2, 3, 4, tzinfo=timezone.utc)


@pytest.fixture
def store(app_env):
    from shared_code.services.helpdesk import Helpdesk

    desk = Helpdesk.from_env()
    return TicketStore(desk.connection, desk.blobs)


def _ticket(number="482913") -> Ticket:
    return Ticket(number=number, subject="Printer", status=Status.OPEN, priority=Priority.NORMAL,
                  department="Support", client=Party("Ann", "ann@example.org"), created=NOW,
                  source_key="first@example.org", thread_token="tok")


def _entry(number="482913", entry_id="20261127T020304000000Z-a", message_id="first@example.org"):
    return Entry(ticket_number=number, entry_id=entry_id, type="message",
                 sender=Party("Ann", "ann@example.org"), message_id=message_id, date=NOW,
                 subject="Printer", body_text="on fire", body_html="")


def _row(number, nid):
    return {"PartitionKey": number, "RowKey": "n-" + nid, "state": "queued"}


def test_a_new_ticket_is_one_transaction_and_a_replay_writes_nothing(store):
    unit = Unit(ticket=_ticket(), new=True, entry=_entry(),
                marker=("first@example.org", {"entry_id": "e1"}),
                notification_rows=[_row("482913", "a"), _row("482913", "b")])
    assert store.write(unit) == UnitResult.STORED

    again = Unit(ticket=_ticket(), new=True, entry=_entry(entry_id="20261127T020305000000Z-b"),
                 marker=("first@example.org", {"entry_id": "e2"}))
    assert store.write(again) == UnitResult.ALREADY_STORED
    assert [e.entry_id for e in store.entries("482913")] == ["20261127T020304000000Z-a"]
    assert [r["RowKey"] for r in store.notification_rows("482913")] == ["n-a", "n-b"]
    assert store.marker("482913", "<first@example.org>")["RowKey"] == marker_key("first@example.org")
    assert [t.number for t in store.list()] == ["482913"]


def test_a_marker_already_there_rejects_the_whole_reply(store):
    assert store.create(_ticket())
    ticket = store.get("482913")
    ticket.message_count = 1
    reply = Unit(ticket=ticket, entry=_entry(message_id="r@example.org"),
                 marker=("r@example.org", {}))
    assert store.write(reply) == UnitResult.STORED

    ticket = store.get("482913")
    ticket.message_count = 2
    replay = Unit(ticket=ticket, entry=_entry(entry_id="20261127T030000000000Z-x",
                                              message_id="r@example.org"),
                  marker=("r@example.org", {}))
    assert store.write(replay) == UnitResult.ALREADY_STORED
    assert store.get("482913").message_count == 1  # the ticket row was not changed either
    assert len(store.entries("482913")) == 1


def test_a_stale_ticket_row_is_a_conflict_and_nothing_is_written(store):
    assert store.create(_ticket())
    first, second = store.get("482913"), store.get("482913")
    first.assignee = "bob@contoso.example"
    assert store.update(first)

    second.status = Status.CLOSED
    unit = Unit(ticket=second, entry=_entry(message_id="x@example.org"),
                notification_rows=[_row("482913", "c")])
    assert store.write(unit) == UnitResult.CONFLICT
    assert store.entries("482913") == [] and store.notification_rows("482913") == []
    fresh = store.get("482913")
    assert (fresh.status, fresh.assignee) == (Status.OPEN, "bob@contoso.example")
    fresh.status = Status.CLOSED
    assert store.update(fresh) and store.update(fresh)  # the etag follows each write
