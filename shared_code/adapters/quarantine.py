"""The quarantine table: one row per mail set aside, keyed by an id an admin can type.

Kept apart from the ingest ledger (one row per mail ever fetched) so that `quarantine list`
and the fetch run's look-up of mail sent back for a retry read a few rows, not every mail.
"""
from __future__ import annotations

from typing import Iterable

from ..domain.ingest import QuarantineState
from ..domain.limits import clip
from .names import QUARANTINE
from .storage import StorageConnection
from .table_base import _Table, utcnow


class QuarantineRepository:
    PARTITION = "quarantine"

    def __init__(self, connection: StorageConnection):
        self._table = _Table(connection, QUARANTINE)

    def get(self, quarantine_id: str) -> dict | None:
        row = self._table.get(self.PARTITION, quarantine_id)
        return dict(row) if row else None

    def add(self, quarantine_id: str, fields: dict) -> bool:
        """Create the row; False when this mail was quarantined before (the row is kept)."""
        entity = {"PartitionKey": self.PARTITION, "RowKey": quarantine_id,
                  "state": QuarantineState.QUARANTINED.value, "quarantined_at": utcnow(),
                  **self._clipped(fields)}
        return self._table.create(entity) is not None

    def update(self, quarantine_id: str, fields: dict) -> None:
        self._table.upsert({"PartitionKey": self.PARTITION, "RowKey": quarantine_id,
                            **self._clipped(fields)})

    def list(self, include_closed: bool = False) -> list[dict]:
        rows = [dict(r) for r in self._table.query(self.PARTITION)]
        if not include_closed:
            rows = [r for r in rows if QuarantineState(r.get("state", "quarantined")).open]
        return sorted(rows, key=lambda r: str(r.get("quarantined_at") or ""))

    def in_states(self, account: str, states: Iterable[QuarantineState]) -> list[dict]:
        """This account's rows in `states`: one query; the partition holds only quarantined
        mail."""
        names = [s.value for s in states]
        params = {"pk": self.PARTITION, "account": account}
        params.update({f"s{i}": name for i, name in enumerate(names)})
        states_filter = " or ".join(f"state eq @s{i}" for i in range(len(names)))
        query = f"PartitionKey eq @pk and account eq @account and ( {states_filter} )"
        return [dict(r) for r in self._table.client.query_entities(query, parameters=params)]

    @staticmethod
    def _clipped(fields: dict) -> dict:
        out = {}
        for key, value in fields.items():
            if isinstance(value, QuarantineState):
                value = value.value
            elif isinstance(value, str):
                value = clip(value, 4000 if key == "error" else 1000)
            out[key] = value
        return out
