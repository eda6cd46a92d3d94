"""The `graphsubscriptions` table in memory: subscription rows by id and each account's
coalescing marker, with the adapter's rules (adapters/subscriptions.py) on an injected clock."""
from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from typing import Callable

from shared_code.adapters.subscriptions import PENDING_SECONDS


def _now() -> datetime:
    return datetime.now(timezone.utc)


class MemorySubscriptions:
    def __init__(self, now: Callable[[], datetime] | None = None):
        self.now = now or _now
        self.subscriptions: dict[str, dict] = {}
        self.markers: dict[str, dict] = {}  # lower-case address -> the "push" row

    def save(self, subscription_id: str, address: str, expires: datetime, secret_name: str = "",
             state_digest: str = "") -> None:
        self.subscriptions[subscription_id] = {
            "subscription_id": subscription_id, "address": address.lower(), "expires": expires,
            "secret_name": secret_name, "state_digest": state_digest, "saved_at": self.now()}

    def get(self, subscription_id: str) -> dict | None:
        row = self.subscriptions.get(subscription_id)
        return copy.deepcopy(row) if row else None

    def all(self) -> list[dict]:
        return [copy.deepcopy(self.subscriptions[key]) for key in sorted(self.subscriptions)]

    def for_account(self, address: str) -> list[dict]:
        return [row for row in self.all() if row["address"] == address.lower()]

    def remove(self, subscription_id: str) -> None:
        self.subscriptions.pop(subscription_id, None)

    def request_fetch(self, address: str) -> bool:
        row = self.markers.setdefault(address.lower(), {})
        now = self.now()
        pending = row.get("requested", 0) > row.get("served", 0)
        if pending and now - row["requested_at"] < timedelta(seconds=PENDING_SECONDS):
            return False
        row.update(requested=row.get("requested", 0) + 1, requested_at=now)
        row.setdefault("served", 0)
        return True

    def mark_served(self, address: str) -> None:
        row = self.markers.get(address.lower())
        if row is not None and row.get("served", 0) < row.get("requested", 0):
            row["served"] = row["requested"]

    def forget_account(self, address: str) -> None:
        self.markers.pop(address.lower(), None)

    def note_sync(self, address: str, error: str = "") -> None:
        self.markers.setdefault(address.lower(), {}).update(synced_at=self.now(),
                                                            last_error=error[:1000])

    def push_state(self, address: str) -> dict:
        row = self.markers.get(address.lower(), {})
        return {"requested_at": row.get("requested_at"), "synced_at": row.get("synced_at"),
                "last_error": row.get("last_error") or ""}
