"""The `graphsubscriptions` table: push ingestion's state (services/subscriptions.py).

* PartitionKey "sub", RowKey = Graph's subscription id: the account, expiry, and where its
  clientState is kept (a Key Vault secret name, or, without a vault, its SHA-256 digest).
* PartitionKey "push", RowKey = account: the coalescing marker, two counters changed with
  ETag checks: `requested` (bumped by a notification that queues a fetch job) and `served`
  (set to `requested` by the worker that starts that job). requested > served means a
  queued job has not started yet, so a new notification needs no job of its own. The same
  row keeps what the admin pages show: `requested_at` (the last notification that queued a
  job), `synced_at` and `last_error` (the last create/renew/delete of the account's
  subscription, `note_sync`).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable

from .names import SUBSCRIPTIONS
from .storage import StorageConnection
from .table_base import _Table, safe_key, utcnow

SUB = "sub"
PUSH = "push"
#: A job requested longer ago than this and not started is presumed lost (poison, stale).
PENDING_SECONDS = 60


class SubscriptionStore:
    def __init__(self, connection: StorageConnection, now: Callable[[], datetime] = utcnow):
        self._table = _Table(connection, SUBSCRIPTIONS)
        self._now = now  # injectable so the contract suite can age a pending job

    # -- subscriptions ---------------------------------------------------------------------------
    def save(self, subscription_id: str, address: str, expires: datetime, secret_name: str = "",
             state_digest: str = "") -> None:
        self._table.upsert({"PartitionKey": SUB, "RowKey": safe_key(subscription_id),
                            "subscription_id": subscription_id, "address": address.lower(),
                            "expires": expires, "secret_name": secret_name,
                            "state_digest": state_digest, "saved_at": self._now()})

    def get(self, subscription_id: str) -> dict | None:
        row = self._table.get(SUB, safe_key(subscription_id))
        return dict(row) if row is not None else None

    def all(self) -> list[dict]:
        return [dict(row) for row in self._table.query(SUB)]

    def for_account(self, address: str) -> list[dict]:
        return [row for row in self.all() if row.get("address") == address.lower()]

    def remove(self, subscription_id: str) -> None:
        self._table.delete(SUB, safe_key(subscription_id))

    # -- coalescing ------------------------------------------------------------------------------
    def request_fetch(self, address: str) -> bool:
        """Record a notification; True when the caller must queue a fetch job, False when a
        job queued earlier has not started yet (it will see this mail too)."""
        key = safe_key(address.lower())
        for _ in range(8):
            row = self._table.get(PUSH, key)
            now = self._now()
            if row is None:
                if self._table.create({"PartitionKey": PUSH, "RowKey": key, "requested": 1,
                                       "served": 0, "requested_at": now}) is not None:
                    return True
                continue
            pending = int(row.get("requested", 0)) > int(row.get("served", 0))
            requested_at = row.get("requested_at")
            if pending and requested_at and now - requested_at < timedelta(seconds=PENDING_SECONDS):
                return False
            row["requested"] = int(row.get("requested", 0)) + 1
            row["requested_at"] = now
            if self._table.update_if_unchanged(row):
                return True
        return True  # contention: one job too many is harmless (the lease and the ledger)

    def mark_served(self, address: str) -> None:
        """A fetch job of this account is starting: notifications from now on need a job."""
        key = safe_key(address.lower())
        for _ in range(8):
            row = self._table.get(PUSH, key)
            if row is None or int(row.get("served", 0)) >= int(row.get("requested", 0)):
                return
            row["served"] = int(row.get("requested", 0))
            if self._table.update_if_unchanged(row):
                return

    def forget_account(self, address: str) -> None:
        self._table.delete(PUSH, safe_key(address.lower()))

    # -- what the admin pages show ---------------------------------------------------------------
    def note_sync(self, address: str, error: str = "") -> None:
        """The outcome of the last create/renew of the account's subscription ("" = fine)."""
        self._table.upsert({"PartitionKey": PUSH, "RowKey": safe_key(address.lower()),
                            "synced_at": self._now(), "last_error": error[:1000]})

    def push_state(self, address: str) -> dict:
        """The marker row's `requested_at`, `synced_at` and `last_error` (None / "" if never)."""
        row = self._table.get(PUSH, safe_key(address.lower())) or {}
        return {"requested_at": row.get("requested_at"), "synced_at": row.get("synced_at"),
                "last_error": row.get("last_error") or ""}
