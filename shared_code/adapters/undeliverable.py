"""The `undeliverable` table: addresses a permanent bounce (5.x.x) reported as not taking mail.

One row per address (PartitionKey `address`, RowKey the lower-case address made key-safe),
with the status code, since when, the ticket whose mail bounced and the diagnostic. The
sender reads it before each send (services/send_delivery.py) and holds notifications to a
listed address; `clients clear-bounce ADDRESS` deletes the row.
"""
from __future__ import annotations

from .names import UNDELIVERABLE
from .storage import StorageConnection
from .table_base import _Table, safe_key, utcnow

PARTITION = "address"


class UndeliverableAddresses:
    def __init__(self, connection: StorageConnection):
        self._table = _Table(connection, UNDELIVERABLE)

    def mark(self, address: str, status: str, ticket: str, diagnostic: str = "") -> None:
        """Record a permanent failure; `since` stays the first one's time."""
        address = address.strip().lower()
        row = self.get(address)
        now = utcnow()
        self._table.upsert({
            "PartitionKey": PARTITION, "RowKey": safe_key(address), "address": address,
            "status": status, "ticket": ticket, "diagnostic": diagnostic[:1000],
            "since": (row or {}).get("since") or now, "updated": now,
            "bounces": int((row or {}).get("bounces") or 0) + 1})

    def get(self, address: str) -> dict | None:
        row = self._table.get(PARTITION, safe_key(address.strip().lower()))
        return dict(row) if row else None

    def list(self) -> list[dict]:
        return [dict(row) for row in self._table.query(PARTITION)]

    def clear(self, address: str) -> bool:
        """False when the address was not marked."""
        return self._table.delete(PARTITION, safe_key(address.strip().lower()))
