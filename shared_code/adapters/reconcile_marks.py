"""The `reconcilemarks` table: the mails a reconciliation reported unaccounted for.

One row per account, day and mail (PartitionKey = account|YYYYMMDD, RowKey = sha256(Graph
id)). The row is created with the alert; its existence is what makes the alert once per mail
and day however often the day is reconciled again.
"""
from __future__ import annotations

from datetime import date

from .names import RECONCILE_MARKS
from .storage import StorageConnection
from .table_base import _Table, digest, safe_key, utcnow


class ReconcileMarks:
    def __init__(self, connection: StorageConnection):
        self._table = _Table(connection, RECONCILE_MARKS)

    @staticmethod
    def _keys(account: str, day: date, graph_id: str) -> tuple[str, str]:
        return f"{safe_key(account)}|{day:%Y%m%d}", digest(graph_id, 64)

    def first_report(self, account: str, day: date, graph_id: str, fields: dict) -> bool:
        """Record the report; False when this mail of this day was reported before."""
        pk, rk = self._keys(account, day, graph_id)
        return self._table.create({"PartitionKey": pk, "RowKey": rk, "graph_id": graph_id,
                                   "reported_at": utcnow(), **fields}) is not None

    def reported(self, account: str, day: date) -> list[dict]:
        pk = f"{safe_key(account)}|{day:%Y%m%d}"
        return [dict(row) for row in self._table.query(pk)]
