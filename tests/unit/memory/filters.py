"""The `filters` table in memory: rows keyed and ordered as adapters/filter_store.py keys them."""
from __future__ import annotations

import copy

from shared_code.adapters.table_base import safe_key
from shared_code.domain.filters import Filter
from shared_code.domain.model import AlreadyExists


class MemoryFilters:
    def __init__(self):
        self.rows: dict[str, Filter] = {}

    def list(self) -> list[Filter]:
        return sorted((copy.deepcopy(r) for r in self.rows.values()),
                      key=lambda rule: (rule.position, rule.name.lower()))

    def get(self, name: str) -> Filter | None:
        row = self.rows.get(safe_key(name.strip().lower()))
        return copy.deepcopy(row) if row else None

    def add(self, rule: Filter) -> None:
        if rule.position <= 0:
            rule.position = max((r.position for r in self.rows.values()), default=0) + 1
        key = safe_key(rule.name.lower())
        if key in self.rows:
            raise AlreadyExists(f"a filter named {rule.name!r} already exists", "name")
        self.rows[key] = copy.deepcopy(rule)

    def save(self, rule: Filter) -> None:
        self.rows[safe_key(rule.name.lower())] = copy.deepcopy(rule)

    def remove(self, name: str) -> bool:
        return self.rows.pop(safe_key(name.strip().lower()), None) is not None
