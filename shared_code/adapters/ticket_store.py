"""The `tickets` table: one partition per ticket, written one unit of work at a time.

PartitionKey = the ticket number. RowKeys: `t` (the ticket with its client snapshot and
thread token), `e-<entry id>` (thread entries, sorting in thread order), `m-<sha256[:40]>`
(marker: this Message-ID is stored here), `n-<notification id>` (the transactional outbox;
rows built by adapters/deliveries.py `queued_row`). A new ticket, a reply or a staff action
is ONE entity-group transaction, so it is stored whole or not at all; a 409 on a marker or a
notification row means the same unit was stored before (docs/storage-design.md).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum

from ..domain.limits import (
    MAX_INLINE_CHARS, MAX_LIST_ITEMS, check_entity, clip, clip_list, utf16_len,
)
from ..domain.model import Attachment, Entry, Party, Priority, Status, Ticket
from .names import BODIES, TICKETS
from .storage import StorageConnection
from .table_base import _Table, digest, entity_time, utcnow

TICKET_ROW = "t"
ENTRY_PREFIX = "e-"
MARKER_PREFIX = "m-"
NOTIFICATION_PREFIX = "n-"
MAX_TRANSACTION_OPERATIONS = 100


class UnitResult(str, Enum):
    """What became of a unit of work (`TicketStore.write`)."""

    STORED = "stored"
    ALREADY_STORED = "already_stored"  # 409 on a marker / notification / the new ticket row
    CONFLICT = "conflict"  # 412: the ticket row changed since it was read


def marker_key(message_id: str) -> str:
    return MARKER_PREFIX + digest(message_id.strip().strip("<>").strip(), 40)


def _attachments_to_json(attachments: list[Attachment]) -> str:
    return json.dumps([a.__dict__ for a in attachments])


def _json_list(items: list[str]) -> str:
    """A list of short texts as one JSON property, clipped (fewer items) until it fits."""
    count = min(len(items), MAX_LIST_ITEMS)
    while True:
        text = json.dumps(clip_list(items, max(count, 1))[0], ensure_ascii=False)
        if utf16_len(text) <= MAX_INLINE_CHARS or count <= 1:
            return text
        count //= 2


def _attachments_from_json(raw: str | None) -> list[Attachment]:
    return [Attachment(**item) for item in json.loads(raw or "[]")]


@dataclass
class Unit:
    """Everything one mail or one staff action writes to a ticket's partition.

    `ticket`: created when `new`, else replaced If-Match the ETag it was read with (None:
    the ticket row is not touched, e.g. an internal note). `marker`: (Message-ID, fields)."""

    ticket: Ticket
    new: bool = False
    write_ticket: bool = True
    entry: Entry | None = None
    marker: tuple[str, dict] | None = None
    notification_rows: list[dict] = field(default_factory=list)


class TicketStore:
    """Tickets, their thread and their notifications, one partition per ticket."""

    def __init__(self, connection: StorageConnection, blobs):
        self._table = _Table(connection, TICKETS)
        self._blobs = blobs

    # ---------------------------------------------------------------- entities
    @staticmethod
    def _ticket_entity(ticket: Ticket) -> dict:
        return {
            "PartitionKey": ticket.number,
            "RowKey": TICKET_ROW,
            "subject": clip(ticket.subject),
            "status": ticket.status.value,
            "priority": ticket.priority.value,
            "department": ticket.department,
            "client_name": ticket.client.name,
            "client_email": ticket.client.email,
            "client_first_seen": ticket.client_first_seen or ticket.created,
            "created": ticket.created,
            "account": ticket.account,
            "collaborators": json.dumps(ticket.collaborators[:100]),
            "removed_collaborators": json.dumps(ticket.removed_collaborators[:100]),
            "last_message_at": ticket.last_message_at,
            "last_message_id": ticket.last_message_id,
            "last_message_entry": ticket.last_message_entry,
            "message_count": ticket.message_count,
            "source_key": ticket.source_key,
            "assignee": ticket.assignee,
            "closed_at": ticket.closed_at,
            "overdue_alerted_for": ticket.overdue_alerted_for,
            "answered_for": ticket.answered_for,
            "answered_at": ticket.answered_at,
            "thread_token": ticket.thread_token,
            "tags": json.dumps(ticket.tags[:50]),
            "related_ticket": ticket.related_ticket,
        }

    @staticmethod
    def _ticket_from(entity: dict) -> Ticket:
        ticket = Ticket(
            number=entity["PartitionKey"],
            subject=entity.get("subject", ""),
            status=Status(entity.get("status", "open")),
            priority=Priority(entity.get("priority", "normal")),
            department=entity.get("department", ""),
            client=Party(entity.get("client_name", ""), entity.get("client_email", "")),
            created=entity_time(entity.get("created")),
            account=entity.get("account", ""),
            collaborators=json.loads(entity.get("collaborators") or "[]"),
            removed_collaborators=json.loads(entity.get("removed_collaborators") or "[]"),
            last_message_at=entity_time(entity.get("last_message_at")),
            last_message_id=entity.get("last_message_id", ""),
            last_message_entry=entity.get("last_message_entry", ""),
            message_count=int(entity.get("message_count") or 0),
            source_key=entity.get("source_key", ""),
            assignee=entity.get("assignee", ""),
            closed_at=entity_time(entity.get("closed_at")),
            overdue_alerted_for=entity.get("overdue_alerted_for", ""),
            answered_for=entity.get("answered_for", ""),
            answered_at=entity_time(entity.get("answered_at")),
            thread_token=entity.get("thread_token", ""),
            client_first_seen=entity_time(entity.get("client_first_seen")),
            tags=json.loads(entity.get("tags") or "[]"),
            related_ticket=entity.get("related_ticket", ""),
        )
        ticket._entity = entity  # kept for optimistic concurrency on update
        return ticket

    def _body_ref(self, number: str, entry_id: str, kind: str, text: str,
                  store: bool = True) -> tuple[str, str]:
        """Small bodies stay in the entity; large ones go to a blob (a deterministic name,
        written before the transaction) and the entity keeps its name."""
        if utf16_len(text) <= MAX_INLINE_CHARS:
            return text, ""
        name = f"{number}/{entry_id}.{kind}"
        if store:
            self._blobs.put(BODIES, name, text.encode("utf-8"), "text/plain; charset=utf-8")
        return "", name

    def _entry_entity(self, entry: Entry, store: bool) -> dict:
        def ref(kind: str, text: str) -> tuple[str, str]:
            return self._body_ref(entry.ticket_number, entry.entry_id, kind, text, store)

        text, text_blob = ref("txt", entry.body_text)
        html, html_blob = ref("html", entry.body_html)
        attachments, attachments_blob = ref("attachments.json", _attachments_to_json(entry.attachments))
        return {
            "PartitionKey": entry.ticket_number,
            "RowKey": ENTRY_PREFIX + entry.entry_id,
            "type": entry.type,
            "from_name": entry.sender.name,
            "from_email": entry.sender.email,
            "message_id": entry.message_id,
            "date": entry.date,
            "subject": clip(entry.subject),
            "body_text": text,
            "body_text_blob": text_blob,
            "body_html": html,
            "body_html_blob": html_blob,
            "attachments": attachments,
            "attachments_blob": attachments_blob,
            "rejected_attachments": _json_list(entry.rejected_attachments),
            "defects": _json_list(entry.defects),
            "clipped": json.dumps(entry.clipped),
            "source_account": entry.source_account,
            "raw_blob": entry.raw_blob,
        }

    def _entry_from(self, e: dict) -> Entry:
        def body(inline: str, blob_field: str) -> str:
            name = e.get(blob_field)
            return self._blobs.get(BODIES, name).decode("utf-8") if name else e.get(inline, "")

        return Entry(
            ticket_number=e["PartitionKey"],
            entry_id=e["RowKey"][len(ENTRY_PREFIX):],
            type=e.get("type", "message"),
            sender=Party(e.get("from_name", ""), e.get("from_email", "")),
            message_id=e.get("message_id", ""),
            date=entity_time(e.get("date")),
            subject=e.get("subject", ""),
            body_text=body("body_text", "body_text_blob"),
            body_html=body("body_html", "body_html_blob"),
            attachments=_attachments_from_json(body("attachments", "attachments_blob")),
            rejected_attachments=json.loads(e.get("rejected_attachments") or "[]"),
            defects=json.loads(e.get("defects") or "[]"),
            clipped=json.loads(e.get("clipped") or "[]"),
            source_account=e.get("source_account", ""),
            raw_blob=e.get("raw_blob", ""),
        )

    @staticmethod
    def marker_entity(number: str, message_id: str, fields: dict) -> dict:
        return {"PartitionKey": number, "RowKey": marker_key(message_id),
                "message_id": message_id, **fields}

    # ---------------------------------------------------------------- checks
    def check(self, ticket: Ticket | None = None, entry: Entry | None = None,
              client: Party | None = None) -> None:
        """Raise (ValueError naming the property) when Table Storage would refuse the ticket
        or the entry; writes nothing, so callers check before their first write. (`client`
        is accepted for the callers of the old repository: it is part of the ticket row.)"""
        if ticket is not None:
            check_entity(self._ticket_entity(ticket), f"ticket #{ticket.number}")
        if entry is not None:
            check_entity(self._entry_entity(entry, store=False),
                         f"entry {entry.entry_id} of ticket #{entry.ticket_number}")

    @staticmethod
    def check_row(row: dict) -> None:
        """Raise when Table Storage would refuse a row of the partition (e.g. a notification)."""
        check_entity(row, f"row {row.get('RowKey')} of ticket #{row.get('PartitionKey')}")

    # ---------------------------------------------------------------- reads
    def get(self, number: str) -> Ticket | None:
        entity = self._table.get(number, TICKET_ROW)
        return self._ticket_from(entity) if entity else None

    def list(self) -> list[Ticket]:
        rows = self._table.client.query_entities("RowKey eq @t", parameters={"t": TICKET_ROW})
        tickets = [self._ticket_from(e) for e in rows]
        return sorted(tickets, key=lambda t: t.created or utcnow(), reverse=True)

    def _range(self, number: str, prefix: str, select: list[str] | None = None):
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        return self._table.client.query_entities(
            "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
            parameters={"pk": number, "lo": prefix, "hi": end}, select=select)

    def entries(self, number: str) -> list[Entry]:
        return [self._entry_from(e) for e in self._range(number, ENTRY_PREFIX)]

    def count_messages(self, number: str) -> int:
        """Client messages on the thread (responses and notes not counted)."""
        return sum(1 for e in self._range(number, ENTRY_PREFIX, select=["type"])
                   if e.get("type", "message") == "message")

    def marker(self, number: str, message_id: str) -> dict | None:
        return self._table.get(number, marker_key(message_id))

    def marker_rows(self, limit: int) -> tuple[list[dict], bool]:
        """Up to `limit` marker rows of every ticket (PartitionKey, RowKey, message_id), and
        whether there were more: the doctor looks for one Message-ID stored in two tickets."""
        rows = self._table.client.query_entities(
            "RowKey ge @lo and RowKey lt @hi", parameters={"lo": MARKER_PREFIX, "hi": "m."},
            select=["PartitionKey", "RowKey", "message_id"])
        found = []
        for row in rows:
            if len(found) == limit:
                return found, True
            found.append(dict(row))
        return found, False

    def notification_row(self, number: str, notification_id: str) -> dict | None:
        return self._table.get(number, NOTIFICATION_PREFIX + notification_id)

    def notification_rows(self, number: str) -> list[dict]:
        return [dict(row) for row in self._range(number, NOTIFICATION_PREFIX)]

    # ---------------------------------------------------------------- single writes
    def create(self, ticket: Ticket) -> bool:
        """Insert a ticket row alone (tests, migration); False when its number is taken."""
        return self.write(Unit(ticket=ticket, new=True)) == UnitResult.STORED

    def update(self, ticket: Ticket) -> bool:
        """Write back a ticket read with `get`; False when it changed meanwhile (read again)."""
        return self.write(Unit(ticket=ticket)) == UnitResult.STORED

    def add_entry(self, entry: Entry) -> None:
        """Write one entry (idempotent upsert; migration and tests)."""
        self.check(entry=entry)
        self._table.upsert(self._entry_entity(entry, store=True), merge=False)

    # ---------------------------------------------------------------- the unit of work
    def write(self, unit: Unit) -> UnitResult:
        """Store a unit in one transaction (large bodies first, to Blob). Checks every
        entity before anything is written."""
        from azure.core import MatchConditions
        from azure.data.tables import TableEntity, UpdateMode

        ticket = unit.ticket
        operations: list[tuple] = []
        ticket_entity = self._ticket_entity(ticket)
        if unit.write_ticket:
            check_entity(ticket_entity, f"ticket #{ticket.number}")
        if unit.entry is not None:
            self.check(entry=unit.entry)
        for row in unit.notification_rows:
            check_entity(row, f"notification {row['RowKey']} of ticket #{ticket.number}")
        if unit.write_ticket:
            original = getattr(ticket, "_entity", None)
            if unit.new:
                operations.append(("create", ticket_entity))
            elif original is None or not original.metadata.get("etag"):
                operations.append(("upsert", ticket_entity, {"mode": UpdateMode.REPLACE}))
            else:
                operations.append(("update", ticket_entity, {
                    "mode": UpdateMode.REPLACE, "etag": original.metadata["etag"],
                    "match_condition": MatchConditions.IfNotModified}))
        if unit.marker is not None:
            message_id, fields = unit.marker
            operations.append(("create", self.marker_entity(ticket.number, message_id, fields)))
        if unit.entry is not None:
            operations.append(("create", self._entry_entity(unit.entry, store=True)))
        operations += [("create", row) for row in unit.notification_rows]
        if len(operations) > MAX_TRANSACTION_OPERATIONS:
            raise ValueError(f"ticket #{ticket.number}: {len(operations)} rows in one unit, "
                             f"over the {MAX_TRANSACTION_OPERATIONS} of a transaction")
        result, etag = self._submit(operations)
        if result is UnitResult.STORED and unit.write_ticket:
            stored = TableEntity(ticket_entity)
            stored._metadata = {"etag": etag}
            ticket._entity = stored
        return result

    def _submit(self, operations: list[tuple]) -> tuple[UnitResult, str | None]:
        """One request (threads share the store: nothing is kept on it); the result and the
        ETag of the first row written."""
        from azure.core.exceptions import HttpResponseError, ResourceExistsError

        if not operations:
            return UnitResult.STORED, None
        try:
            if len(operations) == 1 and operations[0][0] == "create":
                metadata = self._table.client.create_entity(operations[0][1])
                return UnitResult.STORED, (metadata or {}).get("etag")
            results = self._table.client.submit_transaction(operations)
        except ResourceExistsError:
            return UnitResult.ALREADY_STORED, None
        except HttpResponseError as error:
            if error.status_code == 409:
                return UnitResult.ALREADY_STORED, None
            if error.status_code == 412:
                return UnitResult.CONFLICT, None
            raise
        return UnitResult.STORED, (results[0] or {}).get("etag") if results else None
