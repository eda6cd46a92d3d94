"""The ingest ledger: one row per fetched mailbox message, what became of it.

Keyed by the Graph immutable id, it is how a mail someone already opened in Outlook is
still ingested exactly once: the fetch lists by last change, not by the unread flag, and
skips ids the ledger has finished.

Requests per run (docs/storage-design.md → ingestledger):
- the rows of the listed mails are read with one query (`window`), filtered on the mail's
  `received` time, which never changes (its last-modified time does: marking it read);
- the state changes of a run are written as entity-group transactions (`apply`), one
  partition (the account), at most 100 operations each.

Rows written before `received` was stored on every row (issue 6's code wrote it with each
attempt; older rows may lack it) are not found by the query. A marker row in each partition
(`LAYOUT_ROW`) records from when on every row carries it (`complete_from`, written the first
time this code reads the partition, an hour early for clock skew and a deployment's overlap).
That first run reads the whole partition once instead; later, a listed mail received before
`complete_from` and missing from the query is read with one `get` (a mail the previous code
ingested, moved or opened now: rare).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterable

from .names import INGEST_LEDGER
from .storage import StorageConnection
from .table_base import _Table, digest, entity_time, safe_key, utcnow

#: the marker row; digests are hex, so it never names a mail
LAYOUT_ROW = "!layout"
#: the marker's `received`, so that every window query returns it
_FOREVER = datetime(9999, 1, 1, tzinfo=timezone.utc)
_BEGINNING = datetime(1601, 1, 1, tzinfo=timezone.utc)
#: how much earlier than its first read the marker declares the partition complete
LAYOUT_MARGIN = timedelta(hours=1)
#: Table Storage's limit on the operations of one entity-group transaction
MAX_TRANSACTION = 100
#: what the fetch reads of each row in the window query
WINDOW_FIELDS = ["RowKey", "graph_id", "state", "attempts", "error", "outcome", "ticket",
                 "shared", "received", "complete_from"]


@dataclass
class LedgerWindow:
    """The ledger rows of one account that one fetch run has read, by Graph id."""

    account: str
    complete_from: datetime | None = None  # rows of mails received since carry `received`
    floor: datetime | None = None  # the query returned every row with received >= floor
    by_key: dict[str, dict] = field(default_factory=dict)  # RowKey -> row
    queries: int = 0
    gets: int = 0


class IngestLedger:
    """The `ingestledger` table (PartitionKey = account, RowKey = sha256(Graph id))."""

    def __init__(self, connection: StorageConnection):
        self._table = _Table(connection, INGEST_LEDGER)

    @staticmethod
    def _keys(account: str, graph_id: str) -> tuple[str, str]:
        return safe_key(account), digest(graph_id, 64)

    def get(self, account: str, graph_id: str) -> dict | None:
        return self._table.get(*self._keys(account, graph_id))

    def update(self, account: str, graph_id: str, fields: dict) -> None:
        """Merge `fields` into one mail's row at once (rare paths: quarantine, retries)."""
        self._table.upsert(self._entity(account, graph_id, fields))

    def _entity(self, account: str, graph_id: str, fields: dict) -> dict:
        pk, rk = self._keys(account, graph_id)
        return {"PartitionKey": pk, "RowKey": rk, "graph_id": graph_id,
                "updated": utcnow(), **fields}

    def apply(self, account: str, changes: dict[str, dict]) -> int:
        """Merge the fields of each Graph id into its row, as few transactions as the limit
        allows (one per 100 mails); returns how many were sent. All or nothing each."""
        operations = [("upsert", self._entity(account, graph_id, fields), {"mode": "merge"})
                      for graph_id, fields in changes.items()]
        for start in range(0, len(operations), MAX_TRANSACTION):
            self._table.client.submit_transaction(operations[start:start + MAX_TRANSACTION])
        return -(-len(operations) // MAX_TRANSACTION)

    def list(self, account: str) -> list[dict]:
        return [row for row in self._table.query(safe_key(account))
                if row["RowKey"] != LAYOUT_ROW]

    def received_between(self, account: str, start: datetime, end: datetime) -> list[dict]:
        """The rows of mails received in [start, end) (one query: the reconciliation's day).
        Rows older than the `received` field (see above) are not found; the caller reads a
        listed mail it misses with `get`."""
        query = "PartitionKey eq @pk and received ge @start and received lt @end"
        return [dict(row) for row in self._table.client.query_entities(
            query, parameters={"pk": safe_key(account), "start": start, "end": end},
            select=WINDOW_FIELDS + ["reason", "rule", "updated"])]

    # -- the window of one run
    def window(self, account: str) -> LedgerWindow:
        return LedgerWindow(account=account)

    def rows(self, window: LedgerWindow, refs: Iterable, now: datetime | None = None
             ) -> dict[str, dict]:
        """The rows of the listed mails `refs` (Graph id -> row, {} when it has none): one
        query per run unless a later page lists a mail received before the first page's
        oldest, and one get per mail only for rows that may predate `received`."""
        refs = list(refs)
        if not refs:
            return {}
        oldest = min(ref.received for ref in refs)
        if window.floor is None or oldest < window.floor:
            self._query(window, oldest, window.floor, now)
        out = {}
        for ref in refs:
            _, rk = self._keys(window.account, ref.id)
            row = window.by_key.get(rk)
            if row is None and (window.complete_from is None
                                or ref.received < window.complete_from):
                window.gets += 1
                row = self.get(window.account, ref.id) or {}
                window.by_key[rk] = row
            out[ref.id] = dict(row or {})
        return out

    def _query(self, window: LedgerWindow, floor: datetime, below: datetime | None,
               now: datetime | None) -> None:
        pk = safe_key(window.account)
        text, parameters = "PartitionKey eq @pk and received ge @floor", {"pk": pk, "floor": floor}
        if below is not None:  # the part not read yet (and the marker)
            text += " and ( received lt @below or RowKey eq @marker )"  # the SDK needs spaces
            parameters.update(below=below, marker=LAYOUT_ROW)
        window.queries += 1
        for row in self._table.client.query_entities(text, parameters=parameters,
                                                     select=WINDOW_FIELDS):
            if row["RowKey"] == LAYOUT_ROW:
                window.complete_from = entity_time(row.get("complete_from"))
            else:
                window.by_key[row["RowKey"]] = dict(row)
        window.floor = floor
        if window.complete_from is None:
            self._first_read(window, pk, now)

    def _first_read(self, window: LedgerWindow, pk: str, now: datetime | None) -> None:
        """The partition has no marker: the first run of this code on this account. Its rows
        (the previous code's among them) are read whole, once (one query, 1,000 rows a page),
        then the marker is written; this run needs no get."""
        window.queries += 1
        for row in self._table.client.query_entities("PartitionKey eq @pk",
                                                     parameters={"pk": pk},
                                                     select=WINDOW_FIELDS):
            if row["RowKey"] != LAYOUT_ROW:
                window.by_key[row["RowKey"]] = dict(row)
        self._table.create({"PartitionKey": pk, "RowKey": LAYOUT_ROW, "received": _FOREVER,
                            "complete_from": (now or utcnow()) - LAYOUT_MARGIN})
        window.floor = window.complete_from = _BEGINNING  # every row is in hand
