"""The ticket partitions in memory: tickets, entries, markers and notification rows.

A `write` is all or nothing, decided in the adapter's operation order (ticket row, marker,
entry, notification rows): the first row that fails decides, as the first failed operation
of an entity-group transaction does. A ticket comes back from `get` with a version (the
ETag); writing it back after someone else wrote it is a CONFLICT (412), creating a row that
exists is ALREADY_STORED (409). Large bodies are not moved to Blob (the contract suite reads
them back through `entries` on both)."""
from __future__ import annotations

import copy
import json
from datetime import datetime, timezone

from shared_code.adapters.ticket_store import _attachments_to_json, _json_list
from shared_code.adapters.ticket_store import (
    ENTRY_PREFIX, MAX_TRANSACTION_OPERATIONS, NOTIFICATION_PREFIX, TicketStore, Unit, UnitResult,
    marker_key,
)
from shared_code.domain.limits import MAX_INLINE_CHARS, check_entity, clip, utf16_len
from shared_code.domain.model import Entry, Party, Ticket

_ETAG = "_memory_etag"  # the version a ticket was read at (the adapter keeps its entity)


class _Failed(Exception):
    def __init__(self, result: UnitResult):
        self.result = result


class MemoryTickets:
    """The TicketStore port. `add` is for test set-up (an upsert, like `update` of a ticket
    that was never read); `rows` holds each partition's marker and `n-` rows by RowKey, shared
    with MemoryDeliveries as the `tickets` table is shared by the two adapters."""

    def __init__(self):
        self.tickets: dict[str, Ticket] = {}
        self.versions: dict[str, int] = {}
        self.entries_by: dict[str, dict[str, Entry]] = {}
        self.rows: dict[str, dict[str, dict]] = {}  # number -> RowKey -> row
        self.transactions = 0  # units that reached the store (all-or-nothing writes)

    # -- set-up
    def add(self, ticket: Ticket) -> None:
        self._put_ticket(ticket)

    def _put_ticket(self, ticket: Ticket) -> int:
        stored = copy.deepcopy(ticket)
        stored.__dict__.pop(_ETAG, None)
        stored.__dict__.pop("_entity", None)
        stored.collaborators = stored.collaborators[:100]
        self.tickets[ticket.number] = stored
        self.versions[ticket.number] = self.versions.get(ticket.number, 0) + 1
        return self.versions[ticket.number]

    # -- reads
    def get(self, number: str) -> Ticket | None:
        stored = self.tickets.get(number)
        if stored is None:
            return None
        ticket = copy.deepcopy(stored)
        setattr(ticket, _ETAG, self.versions[number])
        return ticket

    def list(self) -> list[Ticket]:
        tickets = [self.get(number) for number in self.tickets]
        return sorted(tickets, key=lambda t: t.created or datetime.now(timezone.utc), reverse=True)

    def entries(self, number: str) -> list[Entry]:
        found = self.entries_by.get(number, {})
        return [copy.deepcopy(found[key]) for key in sorted(found)]

    def marker(self, number: str, message_id: str) -> dict | None:
        row = self.rows.get(number, {}).get(marker_key(message_id))
        return copy.deepcopy(row) if row else None

    def notification_row(self, number: str, notification_id: str) -> dict | None:
        row = self.rows.get(number, {}).get(NOTIFICATION_PREFIX + notification_id)
        return copy.deepcopy(row) if row else None

    def notification_rows(self, number: str) -> list[dict]:
        return [copy.deepcopy(row) for key, row in sorted(self.rows.get(number, {}).items())
                if key.startswith(NOTIFICATION_PREFIX)]

    # -- checks (the adapter's entity shapes, so the same values are refused)
    def check(self, ticket: Ticket | None = None, entry: Entry | None = None,
              client: Party | None = None) -> None:
        if ticket is not None:
            check_entity(TicketStore._ticket_entity(ticket), f"ticket #{ticket.number}")
        if entry is not None:
            check_entity(_entry_row(entry), f"entry {entry.entry_id} of ticket #{entry.ticket_number}")

    @staticmethod
    def check_row(row: dict) -> None:
        check_entity(row, f"row {row.get('RowKey')} of ticket #{row.get('PartitionKey')}")

    # -- writes
    def create(self, ticket: Ticket) -> bool:
        return self.write(Unit(ticket=ticket, new=True)) == UnitResult.STORED

    def update(self, ticket: Ticket) -> bool:
        return self.write(Unit(ticket=ticket)) == UnitResult.STORED

    def write(self, unit: Unit) -> UnitResult:
        ticket = unit.ticket
        if unit.write_ticket:
            check_entity(TicketStore._ticket_entity(ticket), f"ticket #{ticket.number}")
        if unit.entry is not None:
            self.check(entry=unit.entry)
        for row in unit.notification_rows:
            check_entity(row, f"notification {row['RowKey']} of ticket #{ticket.number}")
        operations = (int(unit.write_ticket) + int(unit.marker is not None)
                      + int(unit.entry is not None) + len(unit.notification_rows))
        if operations > MAX_TRANSACTION_OPERATIONS:
            raise ValueError(f"ticket #{ticket.number}: {operations} rows in one unit, "
                             f"over the {MAX_TRANSACTION_OPERATIONS} of a transaction")
        if not operations:
            return UnitResult.STORED
        partition = self.rows.get(ticket.number, {})
        try:
            if unit.write_ticket:
                if unit.new and ticket.number in self.tickets:
                    raise _Failed(UnitResult.ALREADY_STORED)
                read_at = ticket.__dict__.get(_ETAG)
                if not unit.new and read_at is not None and read_at != self.versions.get(ticket.number):
                    raise _Failed(UnitResult.CONFLICT)
            marker = None
            if unit.marker is not None:
                marker = {"PartitionKey": ticket.number, "RowKey": marker_key(unit.marker[0]),
                          "message_id": unit.marker[0], **copy.deepcopy(unit.marker[1])}
                if marker["RowKey"] in partition:
                    raise _Failed(UnitResult.ALREADY_STORED)
            if unit.entry is not None and unit.entry.entry_id in self.entries_by.get(ticket.number, {}):
                raise _Failed(UnitResult.ALREADY_STORED)
            for row in unit.notification_rows:
                if row["RowKey"] in partition:
                    raise _Failed(UnitResult.ALREADY_STORED)
        except _Failed as failed:
            return failed.result
        self.transactions += 1
        if unit.write_ticket:
            setattr(ticket, _ETAG, self._put_ticket(ticket))
        rows = self.rows.setdefault(ticket.number, {})
        if marker is not None:
            rows[marker["RowKey"]] = marker
        if unit.entry is not None:
            self.entries_by.setdefault(ticket.number, {})[unit.entry.entry_id] = copy.deepcopy(unit.entry)
        for row in unit.notification_rows:
            rows[row["RowKey"]] = copy.deepcopy(row)
        return UnitResult.STORED


def _entry_row(entry: Entry) -> dict:
    """The entry's row as the adapter builds it: bodies over the inline limit go to Blob."""
    def inline(text: str) -> str:
        return text if utf16_len(text) <= MAX_INLINE_CHARS else ""

    return {"PartitionKey": entry.ticket_number, "RowKey": ENTRY_PREFIX + entry.entry_id,
            "type": entry.type, "from_name": entry.sender.name, "from_email": entry.sender.email,
            "message_id": entry.message_id, "date": entry.date, "subject": clip(entry.subject),
            "body_text": inline(entry.body_text), "body_html": inline(entry.body_html),
            "attachments": inline(_attachments_to_json(entry.attachments)),
            "rejected_attachments": _json_list(entry.rejected_attachments),
            "defects": _json_list(entry.defects), "clipped": json.dumps(entry.clipped),
            "source_account": entry.source_account, "raw_blob": entry.raw_blob}
