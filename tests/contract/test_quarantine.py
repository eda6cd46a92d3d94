"""QuarantineRepository contract: adapters/quarantine.py on Azurite and MemoryQuarantine."""
from __future__ import annotations

from shared_code import ports
from shared_code.domain.ingest import QuarantineState

SUPPORT = "support@contoso.example"


def test_it_is_a_quarantine_repository(quarantine):
    assert isinstance(quarantine, ports.QuarantineRepository)


def test_add_inserts_once_and_keeps_the_first_row(quarantine):
    assert quarantine.add("q1", {"account": SUPPORT, "error": "boom", "graph_id": "g1"}) is True
    assert quarantine.add("q1", {"account": SUPPORT, "error": "again"}) is False

    row = quarantine.get("q1")
    assert (row["state"], row["error"], row["graph_id"]) == ("quarantined", "boom", "g1")
    assert row["quarantined_at"] is not None
    assert quarantine.get("q2") is None


def test_update_merges_enum_states_and_clips_long_text(quarantine):
    quarantine.add("q1", {"account": SUPPORT, "error": "boom"})

    quarantine.update("q1", {"state": QuarantineState.RETRY, "error": "e" * 5000,
                             "note": "n" * 2000})

    row = quarantine.get("q1")
    assert row["state"] == "retry" and row["account"] == SUPPORT
    assert len(row["error"]) <= 4000 and len(row["note"]) <= 1000


def test_list_hides_closed_rows_and_in_states_filters_by_account(quarantine):
    quarantine.add("q1", {"account": SUPPORT})
    quarantine.add("q2", {"account": SUPPORT})
    quarantine.add("q3", {"account": "sales@contoso.example"})
    quarantine.update("q2", {"state": QuarantineState.RETRY})
    quarantine.update("q3", {"state": QuarantineState.RETRY})
    quarantine.update("q1", {"state": QuarantineState.DISMISSED})

    assert sorted(r["RowKey"] for r in quarantine.list()) == ["q2", "q3"]
    assert sorted(r["RowKey"] for r in quarantine.list(include_closed=True)) == ["q1", "q2", "q3"]
    assert [r["RowKey"] for r in quarantine.in_states(SUPPORT, [QuarantineState.RETRY])] == ["q2"]
    assert quarantine.in_states(SUPPORT, [QuarantineState.QUARANTINED]) == []
