"""Delivery state of outbound mail: the `n-<notification id>` rows of table `tickets`.

One row per notification, in its ticket's partition (PartitionKey = ticket number, RowKey
`n-` + id; docs/storage-design.md), with its state (queued | sending | uncertain | sent |
suppressed | deferred | failed | held), attempts, sender account, recipients, subject, Message-ID,
the last Graph error code and error text (never a secret), times, and the whole notification
JSON, so a failed one can be re-queued as it was. The producer (a mail's or a staff action's
transaction, the HTTP API, a requeue) writes the row `queued` (`queued_row`); the sender
claims it, sends, and records the outcome. A notification of the previous code (no row) is
claimed by inserting its row.

Sending at most once: a worker first *claims* the rows of a queue message's notifications in
one entity-group transaction (ETag-guarded updates of the rows read, inserts of rows that did
not exist). A second delivery of the same message finds `sent` and does nothing, or finds a
live `sending` lease and is told to come back a little later. A claim that takes over a row
left `sending` (the worker died, or recording `sent` failed, after Graph may have accepted
the mail) or `uncertain` (sendMail timed out or got a 5xx) says so in `Claim.maybe_sent`, and
the row keeps `maybe_sent` through poison and requeue: the sender then looks for the
Message-ID in Sent Items before sending again (services/send.py).

Attempts and deferrals are counted on the row: `attempts` on every claim, `deferrals` each
time a claimed send had to wait (pacing, Graph throttling). attempts - deferrals is the
number of real failures, crashes included (an attempt is counted before the work).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum

from .names import TICKETS
from .send_counters import MAX_CONFLICTS, ContentionError
from .storage import StorageConnection
from .table_base import _Table, safe_key, utcnow

ROW_PREFIX = "n-"
#: The RowKeys of the ticket itself and of its thread entries in its partition
#: (docs/storage-design.md; the ticket store writes them).
TICKET_ROW = "t"
ENTRY_PREFIX, ENTRY_END = "e-", "e."
#: Longer than one send with Graph's retries (see services/send.py SEND_DEADLINE_SECONDS).
SENDING_LEASE_SECONDS = 600
#: A copy finding another worker sending comes back this soon, to find it sent (or failed).
BUSY_RETRY_SECONDS = 60


class DeliveryState(str, Enum):
    """A notification's state on its `n-` row (stored as its value)."""

    QUEUED = "queued"
    SENDING = "sending"  # claimed; Graph may have accepted it if the worker never came back
    UNCERTAIN = "uncertain"  # sendMail timed out or got a 5xx: Exchange may have taken it
    SENT = "sent"
    SUPPRESSED = "suppressed"
    DEFERRED = "deferred"
    FAILED = "failed"
    HELD = "held"  # every recipient is undeliverable (a permanent bounce): requeue after clear-bounce


FINISHED = (DeliveryState.SENT.value, DeliveryState.SUPPRESSED.value)
MAYBE_SENT = (DeliveryState.SENDING.value, DeliveryState.UNCERTAIN.value)


def real_failures(row: dict | None) -> int:
    """Claimed attempts that neither finished nor were deferred (failures and crashes)."""
    if not row:
        return 0
    return max(0, int(row.get("attempts") or 0) - int(row.get("deferrals") or 0))


@dataclass(frozen=True)
class Claim:
    """One notification's claim: `status` is claimed | finished | busy. `maybe_sent`: an
    earlier attempt may have reached Exchange (see the module docstring)."""

    status: str
    row: dict | None = None
    wait_seconds: int = 0
    maybe_sent: bool = False


@dataclass
class PartitionRead:
    """What one query of a ticket's partition returned for the sender."""

    rows: dict[str, dict] = field(default_factory=dict)  # notification id -> its row
    ticket: dict | None = None  # the `t` row, when the ticket lives in its partition
    entries: list[dict] | None = None  # the `e-` rows, when asked for (None: not read)


def row_key(notification_id: str) -> str:
    return ROW_PREFIX + safe_key(notification_id)


def keys(notification: dict) -> tuple[str, str]:
    return str(notification["ticket_number"]), row_key(str(notification["id"]))


def _base(notification: dict) -> dict:
    pk, rk = keys(notification)
    return {
        "PartitionKey": pk, "RowKey": rk, "id": notification["id"],
        "template": notification.get("template", ""),
        "ticket": str(notification.get("ticket_number", "")),
        "event": notification.get("event", ""),
        "created": notification.get("created", ""),
        "notification": json.dumps(notification, sort_keys=True),  # size capped by validation
    }


class Deliveries:
    """The state of every notification, on its ticket's partition."""

    def __init__(self, connection: StorageConnection):
        self._table = _Table(connection, TICKETS)  # the rows live next to their ticket

    # -- reading
    def get(self, notification_id: str, ticket: str | None = None) -> dict | None:
        """A notification's row: one point read with its ticket, else a query by RowKey
        across partitions (for the CLI's `requeue <id>` and tests; not on the send path)."""
        if ticket:
            return self._table.get(str(ticket), row_key(notification_id))
        rows = self._table.client.query_entities("RowKey eq @rk",
                                                 parameters={"rk": row_key(notification_id)})
        return next((dict(row) for row in rows), None)

    def read(self, ticket: str, notification_ids: list[str],
             with_entries: bool = False) -> "PartitionRead":
        """One query of the ticket's partition: the rows of these notifications, the ticket's
        own row `t` and (`with_entries`) its thread entries `e-…`, when the ticket lives
        in its partition (docs/storage-design.md)."""
        params = {"pk": str(ticket), "t": TICKET_ROW}
        wanted = ["RowKey eq @t"]
        for i, nid in enumerate(notification_ids):
            params[f"r{i}"] = row_key(nid)
            wanted.append(f"RowKey eq @r{i}")
        if with_entries:
            params.update(elo=ENTRY_PREFIX, ehi=ENTRY_END)
            wanted.append("( RowKey ge @elo and RowKey lt @ehi )")
        found = self._table.client.query_entities(
            f"PartitionKey eq @pk and ( {' or '.join(wanted)} )", parameters=params)
        read = PartitionRead(entries=[] if with_entries else None)
        for row in found:
            if row["RowKey"] == TICKET_ROW:
                read.ticket = row
            elif row["RowKey"].startswith(ROW_PREFIX):
                read.rows[row["id"]] = row
            elif with_entries:
                read.entries.append(row)
        return read

    def rows(self, ticket: str, notification_ids: list[str]) -> dict[str, dict]:
        """The rows of some notifications of one ticket, by id: one query."""
        return self.read(ticket, notification_ids).rows

    def with_state(self, *states: str) -> list[dict]:
        """Notification rows in these states, oldest first (one query over `tickets`)."""
        wanted = " or ".join(f"state eq @s{i}" for i in range(len(states)))
        rows = self._table.client.query_entities(
            f"RowKey ge @lo and RowKey lt @hi and ( {wanted} )",
            parameters={"lo": ROW_PREFIX, "hi": "n.", **{f"s{i}": s for i, s in enumerate(states)}})
        return sorted((dict(row) for row in rows), key=lambda r: str(r.get("created", "")))

    # -- writing outside the sender
    def record_queued(self, notification: dict) -> None:
        """A notification put on the queue by the HTTP API or a requeue (counts start again)."""
        self._table.upsert({**queued_row(notification), "error": "", "error_code": "",
                            "attempts": 0, "deferrals": 0})

    def record_failed(self, notification: dict, reason: str) -> None:
        """A notification that failed for good (e.g. from the poison queue)."""
        self._table.upsert({**_base(notification), "state": DeliveryState.FAILED.value,
                            "error": reason[:4000], "failed": utcnow(), "updated": utcnow()})

    # -- the sender
    def claim_all(self, ticket: str, notifications: list[dict], now: datetime | None = None,
                  rows_exist: bool = True,
                  with_entries: bool = False) -> tuple[dict[str, Claim], "PartitionRead"]:
        """Claim the notifications of one queue message (all of one ticket) together: one
        query for their rows (`read`: with the ticket's row and, `with_entries`, its thread;
        skipped when `rows_exist` is False: the previous code's single notifications have no
        row), then one transaction of ETag-guarded updates and inserts. A conflict (another
        worker) reads the rows again and retries. Returns the claims by id and what was read."""
        from azure.data.tables import TableTransactionError

        now = now or utcnow()
        fields = {"state": DeliveryState.SENDING.value, "claimed": now,
                  "lease_until": now + timedelta(seconds=SENDING_LEASE_SECONDS)}
        read: PartitionRead | None = None if rows_exist else PartitionRead()
        for _ in range(MAX_CONFLICTS):
            if read is None:
                read = self.read(ticket, [n["id"] for n in notifications], with_entries)
            claims, operations = _plan_claims(notifications, read.rows, fields, now)
            if not operations:
                return claims, read
            try:
                self._table.client.submit_transaction(operations)
                return claims, read
            except TableTransactionError as error:
                if error.status_code not in (404, 409, 412):
                    raise
                read = None  # someone else wrote meanwhile: read what they wrote
        raise ContentionError(f"the notifications of ticket #{ticket} are being claimed by others")

    def record_all(self, ticket: str, outcomes: list[tuple[str, str | DeliveryState, dict]]) -> None:
        """Record the outcomes (notification id, state, fields) of one message in one
        transaction (merges: the claim holds the rows)."""
        from azure.data.tables import UpdateMode

        if not outcomes:
            return
        operations = []
        for notification_id, state, fields in outcomes:
            if "error" in fields:
                fields = {**fields, "error": str(fields["error"])[:4000]}
            operations.append(("upsert", {
                "PartitionKey": str(ticket), "RowKey": row_key(notification_id),
                "state": DeliveryState(state).value, "updated": utcnow(), **fields},
                {"mode": UpdateMode.MERGE}))
        self._table.client.submit_transaction(operations)

    def update(self, notification: dict, state: str | DeliveryState, **fields) -> None:
        """Record a new state of one claimed notification (outside a message's record)."""
        self.record_all(str(notification["ticket_number"]),
                        [(notification["id"], state, fields)])


def decide_claim(notification: dict, row: dict | None, fields: dict,
                 now: datetime) -> tuple[Claim, str | None]:
    """The claim rule, plain Python (the in-memory port uses it too): a missing row is
    created, a finished one is left, a live `sending` lease is busy, anything else is taken
    again with one more attempt. Returns the claim and the write it needs ("create",
    "update" or None); the row to write is the claim's `row`."""
    if row is None:
        created = {**_base(notification), **fields, "attempts": 1, "deferrals": 0}
        return Claim("claimed", row=created), "create"
    if row.get("state") in FINISHED:
        return Claim("finished", row=row), None
    held = row.get("lease_until")
    if row.get("state") == DeliveryState.SENDING.value and held and held > now:
        wait = min(BUSY_RETRY_SECONDS, int((held - now).total_seconds()) + 1)
        return Claim("busy", row=row, wait_seconds=wait), None
    # kept on the row (through poison and requeue) until the mail is found or sent
    maybe_sent = row.get("state") in MAYBE_SENT or bool(row.get("maybe_sent"))
    updated = {**dict(row), **_base(notification), **fields,
               "attempts": int(row.get("attempts") or 0) + 1, "maybe_sent": maybe_sent}
    return Claim("claimed", row=updated, maybe_sent=maybe_sent), "update"


def _plan_claims(notifications: list[dict], rows: dict[str, dict], fields: dict,
                 now: datetime) -> tuple[dict[str, Claim], list]:
    """Each notification's claim and the transaction's operations that take them."""
    from azure.core import MatchConditions
    from azure.data.tables import TableEntity, UpdateMode

    claims: dict[str, Claim] = {}
    operations = []
    for notification in notifications:
        row = rows.get(notification["id"])
        claim, write = decide_claim(notification, row, fields, now)
        if write == "create":
            operations.append(("create", claim.row))
        elif write == "update":
            claim = Claim("claimed", row=TableEntity(claim.row), maybe_sent=claim.maybe_sent)
            operations.append(("update", claim.row, {
                "mode": UpdateMode.REPLACE, "etag": row.metadata["etag"],
                "match_condition": MatchConditions.IfNotModified}))
        claims[notification["id"]] = claim
    return claims, operations


def queued_row(notification: dict) -> dict:
    """The `n-` row of a notification just queued: written by the producer (in its ticket's
    transaction, or by the HTTP API) before the queue message is sent."""
    return {**_base(notification), "state": DeliveryState.QUEUED.value, "queued": utcnow()}
