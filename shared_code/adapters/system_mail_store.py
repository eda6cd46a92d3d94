"""The `systemmail` table: system mail (monitor alerts, secret-expiry warnings) that failed for good.

A notification has its `n-` row next to its ticket; a system mail has no ticket, so the poison
trigger records one here when it gives up on it (PartitionKey `failed`, RowKey its id made
key-safe), with its kind, sender, recipients, subject, attempts, last error, when it was
created and the whole queue message, so an admin can see it beside failed notifications and
requeue it as it was. State: failed → queued (a requeue, ETag-guarded so two requeues queue it
once) → sent (the sender records it), or failed again (the poison trigger, attempts added up).
"""
from __future__ import annotations

import json
from enum import Enum

from .names import SYSTEM_MAIL
from .storage import StorageConnection
from .table_base import _Table, safe_key, utcnow

PARTITION = "failed"


class SystemMailState(str, Enum):
    FAILED = "failed"
    QUEUED = "queued"  # requeued by an admin, not yet sent
    SENT = "sent"  # a requeued one that went out (or was found in Sent Items)


class SystemMailStore:
    def __init__(self, connection: StorageConnection):
        self._table = _Table(connection, SYSTEM_MAIL)

    def record_failed(self, message: dict, attempts: int, error: str, error_code: str = "") -> None:
        """The poison trigger gave up on this system mail; attempts add up over requeues."""
        mail_id = str(message.get("id") or "")
        row = self.get(mail_id)
        self._table.upsert({
            "PartitionKey": PARTITION, "RowKey": safe_key(mail_id), "id": mail_id,
            "state": SystemMailState.FAILED.value, "kind": str(message.get("kind") or ""),
            "sender": str(message.get("sender") or ""),
            "recipients": ", ".join(message.get("to") or []),
            "subject": str(message.get("subject") or ""),
            "created": str(message.get("created") or (row or {}).get("created") or ""),
            "attempts": int((row or {}).get("attempts") or 0) + int(attempts),
            "error": error[:4000], "error_code": error_code, "failed": utcnow(), "updated": utcnow(),
            "message": json.dumps(message, sort_keys=True)}, merge=False)

    def get(self, mail_id: str) -> dict | None:
        row = self._table.get(PARTITION, safe_key(mail_id)) if mail_id else None
        return dict(row) if row else None

    def failed(self) -> list[dict]:
        """The system mails in state `failed`, oldest first."""
        rows = (dict(r) for r in self._table.query(PARTITION)
                if r.get("state") == SystemMailState.FAILED.value)
        return sorted(rows, key=lambda r: str(r.get("created") or r.get("failed") or ""))

    def take_for_requeue(self, mail_id: str) -> dict | None:
        """failed → queued, guarded by the row's ETag; the queue message, or None when the
        row is not `failed` (already requeued, sent) or another requeue won."""
        row = self._table.get(PARTITION, safe_key(mail_id))
        if row is None or row.get("state") != SystemMailState.FAILED.value:
            return None
        row["state"], row["updated"], row["requeued"] = (SystemMailState.QUEUED.value,
                                                         utcnow(), utcnow())
        if not self._table.update_if_unchanged(row):
            return None
        return json.loads(row["message"])

    def record_sent(self, mail_id: str) -> None:
        """A requeued system mail went out (a no-op for one that never failed)."""
        if self.get(mail_id) is not None:
            self._table.upsert({"PartitionKey": PARTITION, "RowKey": safe_key(mail_id),
                                "state": SystemMailState.SENT.value, "error": "",
                                "sent": utcnow(), "updated": utcnow()})
