"""`migrate`: copy a store written before issue 7 into the ticket-partition layout.

The previous layout: `tickets` (PartitionKey "ticket", RowKey = number), `ticketentries`
(PartitionKey = number), `clients` (per address), `outbox` (what was enqueued) and
`deliveries` (the sender's state, with the notification JSON). Each ticket becomes its
partition of `tickets`: `t` (with the client's first-seen time and a new thread token),
`e-` rows (body blobs keep their names), `m-` markers of the client messages' Message-IDs,
and `n-` rows with the delivery states. Index claims are left as they are (a claim left
`claimed` is finished by the replay). Idempotent: rows already in a partition are skipped;
the old tables are left for the admin to delete after checking.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ..adapters.names import (
    DELIVERIES,
    OLD_CLIENTS,
    OLD_OUTBOX,
    OLD_TICKET_ENTRIES,
    OLD_TICKET_PARTITION,
    TICKETS,
)
from ..adapters.table_base import safe_key
from ..adapters.ticket_store import (
    ENTRY_PREFIX,
    MAX_TRANSACTION_OPERATIONS,
    NOTIFICATION_PREFIX,
    TICKET_ROW,
    TicketStore,
)
from ..domain.notifications import new_thread_token
from .helpdesk import Helpdesk

_METADATA = ("PartitionKey", "RowKey", "Timestamp", "etag")


@dataclass
class MigrationReport:
    tickets: int = 0
    entries: int = 0
    markers: int = 0
    notifications: int = 0
    already_there: int = 0
    dry_run: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def _fields(entity: dict) -> dict:
    return {k: v for k, v in entity.items() if k not in _METADATA}


def _rows(desk: Helpdesk, table: str, query: str | None = None) -> list[dict]:
    from azure.core.exceptions import ResourceNotFoundError

    client = desk.connection.table_service.get_table_client(table)
    try:
        items = client.query_entities(query) if query else client.list_entities()
        return [dict(entity) for entity in items]
    except ResourceNotFoundError:
        return []  # that old table was never written


def _partition_rows(number: str, ticket: dict, entries: list[dict], clients: dict,
                    notifications: dict[str, dict]) -> list[dict]:
    """Every row of one ticket's partition in the new layout."""
    client = clients.get(safe_key(str(ticket.get("client_email", ""))), {})
    rows = [{**_fields(ticket), "PartitionKey": number, "RowKey": TICKET_ROW,
             "client_first_seen": client.get("first_seen") or ticket.get("created"),
             "thread_token": new_thread_token()}]
    for entry in entries:
        rows.append({**_fields(entry), "PartitionKey": number,
                     "RowKey": ENTRY_PREFIX + entry["RowKey"]})
        if entry.get("message_id") and entry.get("type", "message") in ("message", "note"):
            marker = TicketStore.marker_entity(number, entry["message_id"],
                                               {"entry_id": entry["RowKey"],
                                                "account": entry.get("source_account", "")})
            rows.append(marker)
    for notification_id, row in notifications.items():
        rows.append({**row, "PartitionKey": number, "RowKey": NOTIFICATION_PREFIX + notification_id})
    return rows


def _old_notifications(desk: Helpdesk) -> dict[str, dict[str, dict]]:
    """ticket number → notification id → the fields of its `n-` row (deliveries win over
    the outbox, which knew only that a notification was enqueued)."""
    out: dict[str, dict[str, dict]] = {}
    for row in _rows(desk, OLD_OUTBOX):
        number = str(row.get("ticket", ""))
        if number:
            out.setdefault(number, {})[row["RowKey"]] = {
                "id": row["RowKey"], "template": row.get("template", ""), "ticket": number,
                "state": "queued", "queued": row.get("enqueued")}
    for row in _rows(desk, DELIVERIES):
        number = str(row.get("ticket", ""))
        if number and row.get("id"):
            out.setdefault(number, {})[row["id"]] = _fields(row)
    return out


def migrate(desk: Helpdesk, dry_run: bool = False) -> MigrationReport:
    report = MigrationReport(dry_run=dry_run)
    tickets = _rows(desk, TICKETS, f"PartitionKey eq '{OLD_TICKET_PARTITION}'")
    clients = {row["RowKey"]: row for row in _rows(desk, OLD_CLIENTS)}
    notifications = _old_notifications(desk)
    table = desk.connection.table_service.get_table_client(TICKETS)
    for ticket in tickets:
        number = ticket["RowKey"]
        entries = _rows(desk, OLD_TICKET_ENTRIES, f"PartitionKey eq '{number}'")
        rows = _partition_rows(number, ticket, entries, clients, notifications.get(number, {}))
        present = set() if dry_run else {
            e["RowKey"] for e in table.query_entities(f"PartitionKey eq '{number}'",
                                                      select=["RowKey"])}
        missing = [row for row in rows if row["RowKey"] not in present]
        report.already_there += len(rows) - len(missing)
        for row in missing:
            kind = row["RowKey"][:2]
            if row["RowKey"] == TICKET_ROW:
                report.tickets += 1
            elif kind == ENTRY_PREFIX:
                report.entries += 1
            elif kind == NOTIFICATION_PREFIX:
                report.notifications += 1
            else:
                report.markers += 1
        if dry_run:
            continue
        for start in range(0, len(missing), MAX_TRANSACTION_OPERATIONS):
            chunk = missing[start:start + MAX_TRANSACTION_OPERATIONS]
            table.submit_transaction([("upsert", row) for row in chunk])
    return report


def describe(report: MigrationReport) -> list[str]:
    verb = "would copy" if report.dry_run else "copied"
    return [f"{verb}: {report.tickets} tickets, {report.entries} entries, {report.markers} "
            f"markers, {report.notifications} notifications",
            f"already in the new layout: {report.already_there} rows",
            "the old tables (ticketentries, clients, outbox, the old `tickets` rows with "
            "PartitionKey 'ticket') are left in place; delete them after checking"]
