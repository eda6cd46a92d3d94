"""The ingest ledger's window of one run (one query; a later, older page reads only the part
not read yet; rows without `received` found by the marker's rule) and its batched writes."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

ACCOUNT = "support@contoso.example"


@pytest.fixture
def ledger(storage):
    from shared_code.adapters.ledger import IngestLedger
    from shared_code.adapters.storage import StorageConnection

    return IngestLedger(StorageConnection({"AzureWebJobsStorage": storage}))


def _ref(graph_id: str, received: datetime):
    return SimpleNamespace(id=graph_id, received=received)


def test_the_window_is_read_in_one_query_and_older_pages_read_only_the_rest(ledger):
    now = datetime.now(timezone.utc)
    refs = [_ref(f"id-{hours}", now - timedelta(hours=hours)) for hours in (1, 2, 3)]
    assert ledger.apply(ACCOUNT, {r.id: {"state": "done", "received": r.received}
                                  for r in refs}) == 1
    first = ledger.window(ACCOUNT)
    assert ledger.rows(first, refs[:1])["id-1"]["state"] == "done"
    assert (first.queries, first.gets) == (2, 0)  # no marker yet: the partition read whole

    run = ledger.window(ACCOUNT)
    assert ledger.rows(run, refs[:1])["id-1"]["state"] == "done"
    assert ledger.rows(run, refs[:2])["id-2"]["state"] == "done"
    assert (run.queries, run.gets) == (2, 0)  # the second page went back to id-2 only
    assert set(run.by_key) == {ledger._keys(ACCOUNT, r.id)[1] for r in refs[:2]}
    assert ledger.rows(run, [_ref("new", now)]) == {"new": {}}
    assert (run.queries, run.gets) == (2, 0)  # a new mail costs nothing


def test_a_row_without_received_is_read_by_one_get_only_when_it_may_be_old(ledger):
    now = datetime.now(timezone.utc)
    ledger.rows(ledger.window(ACCOUNT), [_ref("first", now)])  # writes the marker
    ledger.update(ACCOUNT, "legacy", {"state": "done"})  # the previous code's row
    run = ledger.window(ACCOUNT)

    rows = ledger.rows(run, [_ref("legacy", now - timedelta(hours=5)), _ref("fresh", now)])

    assert rows["legacy"]["state"] == "done" and rows["fresh"] == {}
    assert run.gets == 1  # the legacy mail only: "fresh" was received after the marker's time


def test_changes_are_written_in_transactions_of_at_most_100(ledger):
    changes = {f"id-{i}": {"state": "attempting", "attempts": 1} for i in range(150)}
    assert ledger.apply(ACCOUNT, changes) == 2
    assert len(ledger.list(ACCOUNT)) == 150
    assert ledger.apply(ACCOUNT, {}) == 0


def test_system_log_lines_are_written_per_day_within_the_transaction_limits(storage):
    from shared_code.adapters.storage import StorageConnection
    from shared_code.adapters.system_log import SystemLog

    log = SystemLog(StorageConnection({"AzureWebJobsStorage": storage}))
    lines = [log.entry("info", "t", f"line {i}") for i in range(120)]
    big = [log.entry("info", "big", "x" * 29_000) for _ in range(40)]  # ~2.3 MB of text
    assert log.write_entries(lines) == 2  # 100 + 20
    assert log.write_entries(big) == 2  # split before 4 MiB
    assert len(log.list(limit=500)) == 160
