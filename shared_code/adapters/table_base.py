"""What every Table Storage repository shares: `_Table` (one table, created once per process)
and the key helpers.

Keys are escaped with `safe_key` because Table Storage forbids `/ \\ # ?` and control
characters in PartitionKey and RowKey; long or free-form keys are hashed with `digest`.
The repositories (accounts.py, directory.py, message_index.py, system_log.py, ledger.py,
ticket_store.py, ...) turn domain records into entities and back; nothing above the adapters
sees an entity.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any, Iterator

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


def entity_time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
