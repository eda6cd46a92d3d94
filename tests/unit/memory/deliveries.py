"""The delivery rows of notifications in memory: the `n-` rows of the ticket partitions.

Shares MemoryTickets' rows, as adapters/deliveries.py shares the `tickets` table with the
ticket store. A claim takes every notification of a queue message at once, as the adapter's
transaction does (the same rules: finished, busy under a live lease, else attempts + 1 and
`maybe_sent` kept). Not modelled: the adapter's retry when another worker's claim lands
between its read and its transaction (tests/outbound cover that race on Azurite)."""
from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from typing import Callable

from shared_code.adapters.deliveries import (
    ROW_PREFIX, SENDING_LEASE_SECONDS, Claim, DeliveryState, PartitionRead, _base,
    decide_claim, queued_row, row_key,
)
from shared_code.adapters.ticket_store import TicketStore

from .tickets import MemoryTickets, _entry_row


class MemoryDeliveries:
    def __init__(self, tickets: MemoryTickets | None = None,
                 now: Callable[[], datetime] | None = None):
        self.tickets = tickets if tickets is not None else MemoryTickets()
        self.now = now or (lambda: datetime.now(timezone.utc))
        self.transactions = 0

    def _partition(self, ticket: str) -> dict[str, dict]:
        return self.tickets.rows.setdefault(str(ticket), {})

    def _merge(self, ticket: str, row: dict) -> None:
        self._partition(ticket).setdefault(row["RowKey"], {}).update(copy.deepcopy(row))

    # -- reading
    def get(self, notification_id: str, ticket: str | None = None) -> dict | None:
        partitions = [str(ticket)] if ticket else sorted(self.tickets.rows)
        for number in partitions:
            row = self.tickets.rows.get(number, {}).get(row_key(notification_id))
            if row is not None:
                return copy.deepcopy(row)
        return None

    def read(self, ticket: str, notification_ids: list[str],
             with_entries: bool = False) -> PartitionRead:
        partition = self.tickets.rows.get(str(ticket), {})
        read = PartitionRead(entries=[] if with_entries else None)
        for nid in notification_ids:
            row = partition.get(row_key(nid))
            if row is not None:
                read.rows[row["id"]] = copy.deepcopy(row)
        stored = self.tickets.tickets.get(str(ticket))
        if stored is not None:
            read.ticket = TicketStore._ticket_entity(stored)
        if with_entries:
            read.entries = [_entry_row(entry) for entry in self.tickets.entries(str(ticket))]
        return read

    def rows(self, ticket: str, notification_ids: list[str]) -> dict[str, dict]:
        return self.read(ticket, notification_ids).rows

    def with_state(self, *states: str) -> list[dict]:
        rows = [copy.deepcopy(row) for partition in self.tickets.rows.values()
                for key, row in partition.items()
                if key.startswith(ROW_PREFIX) and row.get("state") in states]
        return sorted(rows, key=lambda r: str(r.get("created", "")))

    # -- writing outside the sender
    def record_queued(self, notification: dict) -> None:
        self._merge(notification["ticket_number"], {
            **queued_row(notification), "error": "", "error_code": "", "attempts": 0,
            "deferrals": 0})

    def record_failed(self, notification: dict, reason: str) -> None:
        self._merge(notification["ticket_number"], {
            **_base(notification), "state": DeliveryState.FAILED.value, "error": reason[:4000],
            "failed": self.now(), "updated": self.now()})

    # -- the sender
    def claim_all(self, ticket: str, notifications: list[dict], now: datetime | None = None,
                  rows_exist: bool = True,
                  with_entries: bool = False) -> tuple[dict[str, Claim], PartitionRead]:
        now = now or self.now()
        fields = {"state": DeliveryState.SENDING.value, "claimed": now,
                  "lease_until": now + timedelta(seconds=SENDING_LEASE_SECONDS)}
        read = self.read(ticket, [n["id"] for n in notifications], with_entries)
        claims: dict[str, Claim] = {}
        writes = []
        for notification in notifications:
            claim, write = decide_claim(notification, read.rows.get(notification["id"]),
                                        fields, now)
            claims[notification["id"]] = claim
            if write:
                writes.append(claim.row)
        if writes:
            self.transactions += 1
            for row in writes:
                self._partition(ticket)[row["RowKey"]] = copy.deepcopy(row)
        if not rows_exist and not read.rows:  # the adapter did not read: it had no need to
            read = PartitionRead()
        return claims, read

    def record_all(self, ticket: str,
                   outcomes: list[tuple[str, str | DeliveryState, dict]]) -> None:
        if not outcomes:
            return
        self.transactions += 1
        for notification_id, state, fields in outcomes:
            if "error" in fields:
                fields = {**fields, "error": str(fields["error"])[:4000]}
            self._merge(ticket, {"PartitionKey": str(ticket), "RowKey": row_key(notification_id),
                                 "state": DeliveryState(state).value, "updated": self.now(),
                                 **fields})

    def update(self, notification: dict, state: str | DeliveryState, **fields) -> None:
        self.record_all(str(notification["ticket_number"]), [(notification["id"], state, fields)])
