"""The `filters` table: the admins' inbound filters (domain/filters.py), one row each.

One partition ("filter"), RowKey = the escaped name; the filter itself is a JSON column, its
position a column so the list sorts without parsing. A fetch run reads the whole (small) table
once; nothing else reads it on the hot path.
"""
from __future__ import annotations

import json

from ..domain.filters import MAX_FILTER_NAME, Filter
from ..domain.model import AlreadyExists
from .names import FILTERS
from .storage import StorageConnection
from .table_base import _Table, safe_key

PARTITION = "filter"


class FilterStore:
    def __init__(self, connection: StorageConnection):
        self._table = _Table(connection, FILTERS)

    @staticmethod
    def _entity(rule: Filter) -> dict:
        return {"PartitionKey": PARTITION, "RowKey": safe_key(rule.name.lower()),
                "position": rule.position, "filter": json.dumps(rule.to_dict(), ensure_ascii=False)}

    def list(self) -> list[Filter]:
        rules = [Filter.from_dict(json.loads(row["filter"])) for row in self._table.query(PARTITION)]
        return sorted(rules, key=lambda rule: (rule.position, rule.name.lower()))

    def get(self, name: str) -> Filter | None:
        if len(name) > MAX_FILTER_NAME:  # never stored (Filter.validate), and too long a key
            return None
        row = self._table.get(PARTITION, safe_key(name.strip().lower()))
        return Filter.from_dict(json.loads(row["filter"])) if row else None

    def add(self, rule: Filter) -> None:
        """Insert; AlreadyExists (field `name`) when a filter of that name exists. Position 0
        means last."""
        if rule.position <= 0:
            rule.position = max((r.position for r in self.list()), default=0) + 1
        if self._table.create(self._entity(rule)) is None:
            raise AlreadyExists(f"a filter named {rule.name!r} already exists", "name")

    def save(self, rule: Filter) -> None:
        self._table.upsert(self._entity(rule), merge=False)

    def remove(self, name: str) -> bool:
        if len(name) > MAX_FILTER_NAME:
            return False
        return self._table.delete(PARTITION, safe_key(name.strip().lower()))
