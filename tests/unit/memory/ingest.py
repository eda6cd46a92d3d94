"""The ingest ledger and the quarantine table in memory, keyed as the adapters key them.

Not modelled: the ledger's window query and its layout marker (which rows the real query
finds depends on the `received` each row carries; tests/adapters cover it). Here `rows`
answers from every row, which is what the real one returns for rows the fetch wrote."""
from __future__ import annotations

import copy
from datetime import datetime, timezone
from typing import Callable, Iterable

from shared_code.adapters.ledger import MAX_TRANSACTION, LedgerWindow
from shared_code.adapters.quarantine import QuarantineRepository
from shared_code.adapters.table_base import digest, safe_key
from shared_code.domain.ingest import QuarantineState


def _now() -> datetime:
    return datetime.now(timezone.utc)


class MemoryIngestLedger:
    def __init__(self, now: Callable[[], datetime] | None = None):
        self.now = now or _now
        self.partitions: dict[str, dict[str, dict]] = {}  # safe_key(account) -> RowKey -> row
        self.transactions = 0

    def _merge(self, account: str, graph_id: str, fields: dict) -> None:
        pk, rk = safe_key(account), digest(graph_id, 64)
        row = self.partitions.setdefault(pk, {}).setdefault(rk, {"PartitionKey": pk, "RowKey": rk})
        row.update({"graph_id": graph_id, "updated": self.now(), **copy.deepcopy(fields)})

    def get(self, account: str, graph_id: str) -> dict | None:
        row = self.partitions.get(safe_key(account), {}).get(digest(graph_id, 64))
        return copy.deepcopy(row) if row else None

    def update(self, account: str, graph_id: str, fields: dict) -> None:
        self._merge(account, graph_id, fields)

    def apply(self, account: str, changes: dict[str, dict]) -> int:
        for graph_id, fields in changes.items():
            self._merge(account, graph_id, fields)
        sent = -(-len(changes) // MAX_TRANSACTION)
        self.transactions += sent
        return sent

    def list(self, account: str) -> list[dict]:
        rows = self.partitions.get(safe_key(account), {})
        return [copy.deepcopy(rows[key]) for key in sorted(rows)]

    def received_between(self, account: str, start: datetime, end: datetime) -> list[dict]:
        return [row for row in self.list(account)
                if isinstance(row.get("received"), datetime) and start <= row["received"] < end]

    def window(self, account: str) -> LedgerWindow:
        return LedgerWindow(account=account)

    def rows(self, window: LedgerWindow, refs: Iterable, now: datetime | None = None
             ) -> dict[str, dict]:
        refs = list(refs)
        if refs and window.floor is None:
            window.queries += 1
            window.floor = min(ref.received for ref in refs)
        return {ref.id: self.get(window.account, ref.id) or {} for ref in refs}


class MemoryQuarantine:
    PARTITION = QuarantineRepository.PARTITION

    def __init__(self, now: Callable[[], datetime] | None = None):
        self.now = now or _now
        self.rows: dict[str, dict] = {}

    def get(self, quarantine_id: str) -> dict | None:
        row = self.rows.get(quarantine_id)
        return copy.deepcopy(row) if row else None

    def add(self, quarantine_id: str, fields: dict) -> bool:
        if quarantine_id in self.rows:
            return False
        self.rows[quarantine_id] = {
            "PartitionKey": self.PARTITION, "RowKey": quarantine_id,
            "state": QuarantineState.QUARANTINED.value, "quarantined_at": self.now(),
            **QuarantineRepository._clipped(fields)}
        return True

    def update(self, quarantine_id: str, fields: dict) -> None:
        row = self.rows.setdefault(quarantine_id, {"PartitionKey": self.PARTITION,
                                                   "RowKey": quarantine_id})
        row.update(QuarantineRepository._clipped(fields))

    def list(self, include_closed: bool = False) -> list[dict]:
        rows = [copy.deepcopy(r) for r in self.rows.values()]
        if not include_closed:
            rows = [r for r in rows if QuarantineState(r.get("state", "quarantined")).open]
        return sorted(rows, key=lambda r: str(r.get("quarantined_at") or ""))

    def in_states(self, account: str, states: Iterable[QuarantineState]) -> list[dict]:
        names = {s.value for s in states}
        return [copy.deepcopy(r) for r in self.rows.values()
                if r.get("account") == account and r.get("state") in names]


class MemoryReconcileMarks:
    """The reconciliation's alert markers: one per account, day and mail."""

    def __init__(self, now: Callable[[], datetime] | None = None):
        self.now = now or _now
        self.rows: dict[tuple[str, str, str], dict] = {}

    def first_report(self, account: str, day, graph_id: str, fields: dict) -> bool:
        key = (safe_key(account), f"{day:%Y%m%d}", graph_id)
        if key in self.rows:
            return False
        self.rows[key] = {"graph_id": graph_id, "reported_at": self.now(), **copy.deepcopy(fields)}
        return True

    def reported(self, account: str, day) -> list[dict]:
        return [copy.deepcopy(row) for (pk, d, _), row in self.rows.items()
                if pk == safe_key(account) and d == f"{day:%Y%m%d}"]


class MemoryUndeliverable:
    """Addresses a permanent bounce reported, by lower-case address."""

    def __init__(self, now: Callable[[], datetime] | None = None):
        self.now = now or _now
        self.rows: dict[str, dict] = {}

    def mark(self, address: str, status: str, ticket: str, diagnostic: str = "") -> None:
        address = address.strip().lower()
        row = self.rows.get(address) or {}
        self.rows[address] = {"address": address, "status": status, "ticket": ticket,
                              "diagnostic": diagnostic[:1000], "since": row.get("since") or self.now(),
                              "updated": self.now(), "bounces": int(row.get("bounces") or 0) + 1}

    def get(self, address: str) -> dict | None:
        row = self.rows.get(address.strip().lower())
        return copy.deepcopy(row) if row else None

    def list(self) -> list[dict]:
        return [copy.deepcopy(row) for row in self.rows.values()]

    def clear(self, address: str) -> bool:
        return self.rows.pop(address.strip().lower(), None) is not None
