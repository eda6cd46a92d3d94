"""Idempotency keys of `POST /api/notifications` (table `apirequests`).

One row per key (stored as its SHA-256, never as given): a fingerprint of the request it
came with, the notification id derived from it, and the answer once the notification is
queued. The row is *inserted* before anything is queued, so of two requests with the same
key only one can go on to queue; the other finds the row.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from .names import IDEMPOTENCY
from .storage import StorageConnection
from .table_base import _Table, utcnow


class KeyState(str, Enum):
    PENDING = "pending"  # taken; the notification is being queued
    QUEUED = "queued"  # queued; `answer` is what the first request got


@dataclass(frozen=True)
class KeyRecord:
    fingerprint: str
    notification_id: str
    state: KeyState
    answer: dict
    created: datetime | None


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def fingerprint(request: dict) -> str:
    """The request's fields, canonically: the same JSON object in any key order matches."""
    canonical = json.dumps(request, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


class IdempotencyKeys:
    def __init__(self, connection: StorageConnection):
        self._table = _Table(connection, IDEMPOTENCY)

    @staticmethod
    def _keys(key: str) -> tuple[str, str]:
        hashed = key_hash(key)
        return hashed[:2], hashed

    def take(self, key: str, request_fingerprint: str, notification_id: str) -> KeyRecord | None:
        """Insert the key; None when it was free, else the record already there."""
        pk, rk = self._keys(key)
        if self._table.create({"PartitionKey": pk, "RowKey": rk, "fingerprint": request_fingerprint,
                               "notification_id": notification_id,
                               "state": KeyState.PENDING.value, "answer": "",
                               "created": utcnow()}):
            return None
        return self.get(key)

    def get(self, key: str) -> KeyRecord | None:
        row = self._table.get(*self._keys(key))
        if row is None:
            return None
        return KeyRecord(fingerprint=row.get("fingerprint", ""),
                         notification_id=row.get("notification_id", ""),
                         state=KeyState(row.get("state") or KeyState.PENDING.value),
                         answer=json.loads(row.get("answer") or "{}"),
                         created=row.get("created"))

    def answered(self, key: str, answer: dict) -> None:
        """The notification is queued: remember the answer for later requests with the key."""
        pk, rk = self._keys(key)
        self._table.upsert({"PartitionKey": pk, "RowKey": rk, "state": KeyState.QUEUED.value,
                            "answer": json.dumps(answer, sort_keys=True)})
