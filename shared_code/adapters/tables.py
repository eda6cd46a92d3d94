"""Table Storage repositories: accounts, departments and staff, the Message-ID index, the
per-mailbox ingest ledger and the system log (tickets: adapters/ticket_store.py).

Each repository turns domain records into entities and back; nothing above this
module sees an entity. Keys are escaped with `safe_key` because Table Storage
forbids `/ \\ # ?` and control characters in PartitionKey and RowKey.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timezone
from typing import Any, Iterator

from ..domain.model import (
    Attachment,
    Department,
    EmailAccount,
    Priority,
    Purpose,
    Staff,
    ValidationError,
)
# the limits live in the domain; imported here for the adapters that already use them
from ..domain.limits import (  # noqa: F401
    MAX_INLINE_CHARS, MAX_LIST_ITEMS, check_entity, clip, clip_list, utf16_len,
)
from .storage import StorageConnection


def safe_key(value: str) -> str:
    """Escape the characters Table Storage forbids in keys (and `%`, to stay reversible)."""
    out = []
    for char in value:
        if char in "/\\#?%" or ord(char) < 32 or 127 <= ord(char) < 160:
            out.append("%{:02X}".format(ord(char)))
        else:
            out.append(char)
    return "".join(out)


def digest(value: str, length: int = 40) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:length]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class _Table:
    """One table, created on first use."""

    def __init__(self, connection: StorageConnection, name: str):
        self._connection = connection
        self.name = name
        self._client = None

    @property
    def client(self):
        if self._client is None:
            service = self._connection.table_service
            self._connection.ensure_once("table", self.name, lambda: service.create_table(self.name))
            self._client = service.get_table_client(self.name)
        return self._client

    def get(self, partition: str, row: str) -> dict | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self.client.get_entity(partition, row)
        except ResourceNotFoundError:
            return None

    def create(self, entity: dict) -> dict | None:
        """Insert; the new entity's metadata (with its etag), or None when the key already
        exists (the store enforces uniqueness)."""
        from azure.core.exceptions import ResourceExistsError

        try:
            return self.client.create_entity(entity) or {"etag": None}
        except ResourceExistsError:
            return None

    def upsert(self, entity: dict, merge: bool = True) -> None:
        from azure.data.tables import UpdateMode

        self.client.upsert_entity(entity, mode=UpdateMode.MERGE if merge else UpdateMode.REPLACE)

    def update_if_unchanged(self, entity: dict) -> bool:
        """Replace an entity read earlier; False when someone else changed it meanwhile."""
        from azure.core import MatchConditions
        from azure.core.exceptions import HttpResponseError
        from azure.data.tables import UpdateMode

        try:
            self.client.update_entity(
                entity,
                mode=UpdateMode.REPLACE,
                etag=entity.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
            return True
        except HttpResponseError as error:
            if error.status_code == 412:
                return False
            raise

    def delete(self, partition: str, row: str) -> bool:
        """Delete; False when there was no such row (the SDK itself ignores a missing one)."""
        if self.get(partition, row) is None:
            return False
        self.client.delete_entity(partition, row)
        return True

    def query(self, partition: str | None = None, select: list[str] | None = None) -> Iterator[dict]:
        if partition is None:
            return iter(self.client.list_entities(select=select))
        return iter(
            self.client.query_entities(
                "PartitionKey eq @pk", parameters={"pk": partition}, select=select
            )
        )


def _time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


# ---------------------------------------------------------------- accounts


class AccountRepository:
    """Email accounts (the guide's Admin → Emails), keyed by address."""

    PARTITION = "account"

    def __init__(self, connection: StorageConnection):
        self._table = _Table(connection, "emailaccounts")

    @staticmethod
    def _to_entity(account: EmailAccount) -> dict:
        return {
            "PartitionKey": AccountRepository.PARTITION,
            "RowKey": safe_key(account.address),
            "address": account.address,
            "name": account.name,
            "purpose": account.purpose.value,
            "department": account.department,
            "priority": account.priority.value,
            "auto_response": account.auto_response,
            "fetch_enabled": account.fetch_enabled,
            "folder": account.folder,
            "batch_size": int(account.batch_size),
            "mark_as_read": account.mark_as_read,
            "tenant_id": account.tenant_id,
            "client_id": account.client_id,
            "client_secret_name": account.client_secret_name,
            "created": account.created,
            "last_fetch": account.last_fetch,
            "last_error": account.last_error[:4000],
            "last_error_time": account.last_error_time,
            "consecutive_failures": account.consecutive_failures,
            "fetch_watermark": account.fetch_watermark,
        }

    @staticmethod
    def _from_entity(entity: dict) -> EmailAccount:
        return EmailAccount(
            address=entity["address"],
            name=entity.get("name", ""),
            purpose=Purpose(entity.get("purpose", "department")),
            department=entity.get("department", ""),
            priority=Priority(entity.get("priority", "normal")),
            auto_response=bool(entity.get("auto_response", True)),
            fetch_enabled=bool(entity.get("fetch_enabled", True)),
            folder=entity.get("folder") or "Inbox",
            batch_size=int(entity.get("batch_size") or 20),
            mark_as_read=bool(entity.get("mark_as_read", True)),
            tenant_id=entity.get("tenant_id", ""),
            client_id=entity.get("client_id", ""),
            client_secret_name=entity.get("client_secret_name", ""),
            created=_time(entity.get("created")),
            last_fetch=_time(entity.get("last_fetch")),
            last_error=entity.get("last_error", ""),
            last_error_time=_time(entity.get("last_error_time")),
            consecutive_failures=int(entity.get("consecutive_failures") or 0),
            fetch_watermark=_time(entity.get("fetch_watermark")),
        )

    def add(self, account: EmailAccount) -> None:
        account.validate()
        account.created = account.created or utcnow()
        if self._table.create(self._to_entity(account)) is None:
            raise ValidationError(f"an email account {account.address} already exists")

    def get(self, address: str) -> EmailAccount | None:
        entity = self._table.get(self.PARTITION, safe_key(address.strip().lower()))
        return self._from_entity(entity) if entity else None

    def list(self) -> list[EmailAccount]:
        return sorted(
            (self._from_entity(e) for e in self._table.query(self.PARTITION)),
            key=lambda account: account.address,
        )

    def save(self, account: EmailAccount) -> None:
        account.validate()
        self._table.upsert(self._to_entity(account), merge=False)

    def save_fetch_state(self, account: EmailAccount) -> None:
        """Write only the fetch-state fields, so a concurrent admin edit is not undone."""
        entity = self._to_entity(account)
        keep = {"PartitionKey", "RowKey", "last_fetch", "last_error", "last_error_time",
                "consecutive_failures", "fetch_watermark"}
        self._table.upsert({k: v for k, v in entity.items() if k in keep and v is not None})

    def remove(self, address: str) -> bool:
        return self._table.delete(self.PARTITION, safe_key(address.strip().lower()))

    def system_addresses(self) -> set[str]:
        return {account.address for account in self.list()}


# ---------------------------------------------------------------- tickets


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


# TicketRepository moved to adapters/ticket_store.py (TicketStore: one partition per ticket)


# ---------------------------------------------------------------- directory


class DirectoryRepository:
    """Departments and staff, the people and addresses the alerts go to."""

    def __init__(self, connection: StorageConnection):
        self._departments = _Table(connection, "departments")
        self._staff = _Table(connection, "staff")

    # departments
    def add_department(self, department: Department) -> None:
        department.validate()
        if self._departments.create(self._department_entity(department)) is None:
            raise ValidationError(f"a department {department.name} already exists")

    def save_department(self, department: Department) -> None:
        department.validate()
        self._departments.upsert(self._department_entity(department), merge=False)

    def get_department(self, name: str) -> Department | None:
        entity = self._departments.get("department", safe_key(name.strip().lower()))
        return self._department_from(entity) if entity else None

    def list_departments(self) -> list[Department]:
        return sorted((self._department_from(e) for e in self._departments.query("department")),
                      key=lambda d: d.name.lower())

    def remove_department(self, name: str) -> bool:
        return self._departments.delete("department", safe_key(name.strip().lower()))

    @staticmethod
    def _department_entity(department: Department) -> dict:
        return {"PartitionKey": "department", "RowKey": safe_key(department.name.lower()),
                "name": department.name, "email": department.email, "manager": department.manager,
                "alert_recipients": json.dumps(department.alert_recipients),
                "sla_hours": int(department.sla_hours)}

    @staticmethod
    def _department_from(entity: dict) -> Department:
        return Department(name=entity["name"], email=entity.get("email", ""),
                          manager=entity.get("manager", ""),
                          alert_recipients=json.loads(entity.get("alert_recipients") or "[]"),
                          sla_hours=int(entity.get("sla_hours") or 24))

    # staff
    def add_staff(self, staff: Staff) -> None:
        staff.validate()
        if self._staff.create(self._staff_entity(staff)) is None:
            raise ValidationError(f"a staff member {staff.email} already exists")

    def save_staff(self, staff: Staff) -> None:
        staff.validate()
        self._staff.upsert(self._staff_entity(staff), merge=False)

    def get_staff(self, email: str) -> Staff | None:
        entity = self._staff.get("staff", safe_key(email.strip().lower()))
        return self._staff_from(entity) if entity else None

    def list_staff(self) -> list[Staff]:
        return sorted((self._staff_from(e) for e in self._staff.query("staff")),
                      key=lambda s: s.email)

    def remove_staff(self, email: str) -> bool:
        return self._staff.delete("staff", safe_key(email.strip().lower()))

    def staff_addresses(self) -> set[str]:
        return {s.email for s in self.list_staff() if s.active}

    @staticmethod
    def _staff_entity(staff: Staff) -> dict:
        return {"PartitionKey": "staff", "RowKey": safe_key(staff.email), "name": staff.name,
                "email": staff.email, "department": staff.department, "active": staff.active}

    @staticmethod
    def _staff_from(entity: dict) -> Staff:
        return Staff(name=entity.get("name", ""), email=entity["email"],
                     department=entity.get("department", ""), active=bool(entity.get("active", True)))


# ---------------------------------------------------------------- Message-ID index


class MessageIndex:
    """Every Message-ID the system has received or sent, with its ticket.

    An inbound mail first *claims* its Message-ID (state `claimed`, carrying the
    ticket and entry it will become); the claim is completed (state `done`) once
    everything is stored. A replay after a crash finds the claim and finishes the
    same work instead of starting a second ticket.
    """

    def __init__(self, connection: StorageConnection):
        self._table = _Table(connection, "messageindex")

    @staticmethod
    def _keys(message_id: str) -> tuple[str, str]:
        key = digest(message_id.strip().strip("<>").strip(), 64)
        return key[:2], key

    def get(self, message_id: str) -> dict | None:
        return self._table.get(*self._keys(message_id))

    def claim(self, message_id: str, fields: dict) -> dict | None:
        """Create the claim; return None on success or the existing row when one was there."""
        pk, rk = self._keys(message_id)
        entity = {"PartitionKey": pk, "RowKey": rk, "message_id": message_id, "state": "claimed", **fields}
        if self._table.create(entity) is not None:
            return None
        return self._table.get(pk, rk)

    def update(self, message_id: str, fields: dict) -> None:
        pk, rk = self._keys(message_id)
        self._table.upsert({"PartitionKey": pk, "RowKey": rk, **fields})

    def record(self, message_id: str, ticket_number: str, direction: str, entry_id: str = "") -> None:
        """Index a Message-ID that is already stored (e.g. an outbound mail)."""
        pk, rk = self._keys(message_id)
        self._table.upsert({"PartitionKey": pk, "RowKey": rk, "message_id": message_id,
                            "state": "done", "ticket": ticket_number, "entry_id": entry_id,
                            "direction": direction})

    def ticket_of(self, message_id: str) -> str | None:
        row = self.get(message_id)
        if row and row.get("ticket") and (row.get("state") == "done" or (
                row.get("state") == "claimed" and row.get("new_ticket") is False)):
            return row["ticket"]  # a reply's claim names the ticket it was matched to
        return None


# ---------------------------------------------------------------- ingest ledger


from .ledger import IngestLedger  # noqa: E402,F401  (its own module: one query and batches per run)


# ---------------------------------------------------------------- system log


class SystemLog:
    """The helpdesk's system log (the guide's `ost_syslog`), newest first.

    Partitioned by day; RowKeys are inverted timestamps so a query returns the newest
    entries first. Callers must never pass secrets in `message`.
    """

    def __init__(self, connection: StorageConnection):
        self._table = _Table(connection, "systemlog")

    def write(self, level: str, title: str, message: str, **context: str) -> None:
        self._table.upsert(self.entry(level, title, message, **context))

    @staticmethod
    def entry(level: str, title: str, message: str, **context: str) -> dict:
        """The row of one line, timed now (so buffered lines keep their own time and order)."""
        now = utcnow()
        inverted = 10**16 - int(now.timestamp() * 1_000_000)
        return {
            "PartitionKey": now.strftime("%Y%m%d"),
            "RowKey": f"{inverted:017d}-{uuid.uuid4().hex[:8]}",
            "time": now, "level": level, "title": title, "message": clip(message),
            **{key: str(value) for key, value in context.items()},
        }

    def write_entries(self, entries: list[dict]) -> int:
        """Write lines made by `entry`: one transaction per day partition, 100 lines and
        ~2 MiB of text (a transaction holds at most 4 MiB); returns how many were sent."""
        by_day: dict[str, list[list[dict]]] = {}
        sizes: dict[str, int] = {}  # bytes of text in each day's last batch
        for entity in entries:
            day = entity["PartitionKey"]
            batches = by_day.setdefault(day, [[]])
            size = sum(utf16_len(str(value)) * 2 for value in entity.values())
            if len(batches[-1]) == 100 or (batches[-1] and sizes[day] + size > 2 << 20):
                batches.append([])
                sizes[day] = 0
            batches[-1].append(entity)
            sizes[day] = sizes.get(day, 0) + size
        for batches in by_day.values():
            for batch in batches:
                self._table.client.submit_transaction([("upsert", entity) for entity in batch])
        return sum(len(batches) for batches in by_day.values())

    def buffered(self):
        """A log for one run (adapters/runlog.py): lines kept until `flush`, errors at once."""
        from .runlog import BufferedSystemLog

        return BufferedSystemLog(self)

    def list(self, limit: int = 100, days: int = 7) -> list[dict]:
        from datetime import timedelta

        out: list[dict] = []
        today = utcnow()
        for back in range(days):
            day = (today - timedelta(days=back)).strftime("%Y%m%d")
            for entity in self._table.query(day):
                out.append(dict(entity))
                if len(out) >= limit:
                    return out
        return out
