"""IngestLedger contract: adapters/ledger.py on Azurite and MemoryIngestLedger.

The fetch reads the rows of a run's listed mails through one window and writes the run's
changes with `apply`; rows it wrote carry `received` (the window query filters on it)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from shared_code import ports

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)
SUPPORT = "support@contoso.example"


@dataclass
class Ref:
    id: str
    received: datetime


def test_it_is_an_ingest_ledger(ledger):
    assert isinstance(ledger, ports.IngestLedger)


def test_applied_changes_are_merged_and_read_back_through_a_window(ledger):
    refs = [Ref(f"AAMk-{i}", T0 + timedelta(minutes=i)) for i in range(3)]
    sent = ledger.apply(SUPPORT, {ref.id: {"state": "processing", "attempts": 1,
                                           "received": ref.received} for ref in refs[:2]})
    ledger.apply(SUPPORT, {"AAMk-0": {"state": "done", "outcome": "created"}})

    rows = ledger.rows(ledger.window(SUPPORT), refs, now=T0 + timedelta(hours=1))

    assert sent == 1
    assert set(rows) == {"AAMk-0", "AAMk-1", "AAMk-2"}
    assert (rows["AAMk-0"]["state"], rows["AAMk-0"]["outcome"], rows["AAMk-0"]["attempts"]) == (
        "done", "created", 1)
    assert (rows["AAMk-1"]["state"], rows["AAMk-1"]["graph_id"]) == ("processing", "AAMk-1")
    assert rows["AAMk-2"] == {}
    assert ledger.get(SUPPORT, "AAMk-2") is None


def test_more_than_a_transaction_of_changes_is_sent_in_batches_of_100(ledger):
    changes = {f"id-{i}": {"state": "done", "received": T0} for i in range(150)}

    assert ledger.apply(SUPPORT, changes) == 2

    assert len(ledger.list(SUPPORT)) == 150
    assert ledger.get(SUPPORT, "id-149")["state"] == "done"


def test_accounts_are_apart_and_update_merges_one_row(ledger):
    ledger.apply(SUPPORT, {"g1": {"state": "processing", "attempts": 1, "received": T0}})
    ledger.update(SUPPORT, "g1", {"state": "quarantined"})

    row = ledger.get(SUPPORT, "g1")
    assert (row["state"], row["attempts"]) == ("quarantined", 1)
    assert ledger.get("sales@contoso.example", "g1") is None
    assert ledger.list("sales@contoso.example") == []
    assert [r["graph_id"] for r in ledger.list(SUPPORT)] == ["g1"]


def test_rows_are_copies(ledger):
    ledger.apply(SUPPORT, {"g1": {"state": "done", "received": T0}})
    window = ledger.window(SUPPORT)
    ledger.rows(window, [Ref("g1", T0)], now=T0)["g1"]["state"] = "changed"
    ledger.get(SUPPORT, "g1")["state"] = "changed"

    assert ledger.rows(ledger.window(SUPPORT), [Ref("g1", T0)], now=T0)["g1"]["state"] == "done"


def test_received_between_reads_one_day_of_rows(ledger):
    day = T0.replace(hour=0)
    ledger.apply(SUPPORT, {"in-1": {"state": "done", "outcome": "discarded",
                                    "rule": "auto-submitted", "received": day},
                           "in-2": {"state": "attempting", "received": T0},
                           "next-day": {"state": "done", "received": day + timedelta(days=1)},
                           "before": {"state": "done", "received": day - timedelta(seconds=1)}})
    ledger.apply("other@contoso.example", {"theirs": {"state": "done", "received": T0}})

    rows = ledger.received_between(SUPPORT, day, day + timedelta(days=1))

    assert sorted(r["graph_id"] for r in rows) == ["in-1", "in-2"]
    first = next(r for r in rows if r["graph_id"] == "in-1")
    assert (first["outcome"], first["rule"]) == ("discarded", "auto-submitted")
