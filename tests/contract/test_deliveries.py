"""Deliveries contract: adapters/deliveries.py on Azurite and MemoryDeliveries.

The sender's at-most-once rules: a claim takes each notification of a message (attempts + 1),
a live `sending` lease is busy, `sent` is finished, and taking over a lapsed `sending` row says
the mail may have gone out (`maybe_sent`), which the row keeps."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from shared_code import ports
from shared_code.adapters.deliveries import (
    BUSY_RETRY_SECONDS, SENDING_LEASE_SECONDS, DeliveryState, queued_row,
)
from shared_code.adapters.ticket_store import Unit

from .test_ticket_store import _entry, _ticket

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)


def _notification(nid: str, number: str = "482913", created: str = "2026-11-27T09:00:00") -> dict:
    return {"id": nid, "ticket_number": number, "template": "new_ticket_alert",
            "event": "ticket.created", "created": created}


def test_it_is_deliveries(deliveries):
    assert isinstance(deliveries, ports.Deliveries)


def test_a_claim_takes_each_notification_once_until_its_lease_lapses(deliveries):
    a, b = _notification("a" * 32), _notification("b" * 32)
    deliveries.record_queued(a)

    claims, _ = deliveries.claim_all("482913", [a, b], now=T0)
    again, _ = deliveries.claim_all("482913", [a, b], now=T0 + timedelta(seconds=30))
    later, _ = deliveries.claim_all("482913", [a], now=T0 + timedelta(seconds=SENDING_LEASE_SECONDS + 1))

    assert [(c.status, c.row["attempts"], c.maybe_sent) for c in claims.values()] == [
        ("claimed", 1, False), ("claimed", 1, False)]
    assert [(c.status, c.wait_seconds) for c in again.values()] == [
        ("busy", BUSY_RETRY_SECONDS), ("busy", BUSY_RETRY_SECONDS)]
    assert (later["a" * 32].status, later["a" * 32].maybe_sent) == ("claimed", True)
    row = deliveries.get("a" * 32, "482913")
    assert (row["state"], row["attempts"], row["maybe_sent"]) == ("sending", 2, True)


def test_recorded_outcomes_finish_the_claim(deliveries):
    a, b = _notification("a" * 32), _notification("b" * 32)
    deliveries.claim_all("482913", [a, b], now=T0)

    deliveries.record_all("482913", [("a" * 32, DeliveryState.SENT, {"sent": T0}),
                                     ("b" * 32, "deferred", {"deferrals": 1, "error": "e" * 5000})])
    claims, _ = deliveries.claim_all("482913", [a, b], now=T0 + timedelta(seconds=1))

    assert claims["a" * 32].status == "finished"
    assert (claims["b" * 32].status, claims["b" * 32].row["attempts"]) == ("claimed", 2)
    assert len(deliveries.get("b" * 32)["error"]) == 4000
    assert [r["id"] for r in deliveries.with_state("sending")] == ["b" * 32]


def test_a_notification_of_the_previous_code_without_a_row_is_claimed_by_inserting_it(deliveries):
    old = _notification("c" * 32, number="100001")

    claims, read = deliveries.claim_all("100001", [old], now=T0, rows_exist=False)

    assert (claims["c" * 32].status, claims["c" * 32].row["attempts"]) == ("claimed", 1)
    assert read.rows == {} and read.ticket is None
    assert deliveries.rows("100001", ["c" * 32])["c" * 32]["state"] == "sending"


def test_the_partition_read_brings_the_ticket_and_its_thread(tickets, deliveries):
    notification = _notification("d" * 32)
    tickets.write(Unit(ticket=_ticket(), new=True, entry=_entry(),
                       notification_rows=[queued_row(notification)]))

    read = deliveries.read("482913", ["d" * 32, "e" * 32], with_entries=True)

    assert set(read.rows) == {"d" * 32} and read.rows["d" * 32]["state"] == "queued"
    assert (read.ticket["PartitionKey"], read.ticket["subject"]) == ("482913", "Printer on fire")
    assert [(e["RowKey"], e["body_text"]) for e in read.entries] == [
        ("e-20261127T090000000000Z-a", "It burns.")]
    assert deliveries.read("482913", ["d" * 32]).entries is None


def test_failed_and_requeued_rows_by_state_oldest_first(deliveries):
    late, early = (_notification("f" * 32, created="2026-11-27T10:00:00"),
                   _notification("0" * 32, number="100002", created="2026-11-27T08:00:00"))
    deliveries.record_failed(late, "gave up")
    deliveries.record_failed(early, "r" * 5000)

    assert [r["id"] for r in deliveries.with_state("failed")] == ["0" * 32, "f" * 32]
    assert len(deliveries.get("0" * 32)["error"]) == 4000

    deliveries.record_queued(late)
    row = deliveries.get("f" * 32, "482913")
    assert (row["state"], row["attempts"], row["error"]) == ("queued", 0, "")
    assert deliveries.get("9" * 32) is None
