"""Table Storage state of outbound mail.

* `Deliveries` (table `deliveries`): one row per notification id with its state
  (queued | sending | sent | suppressed | failed | deferred), attempts, sender account,
  recipients, subject, Message-ID, the last Graph error code and error text (never a secret),
  times, and the whole notification JSON, so a failed one can be re-queued as it was.
* `SendCounters` (table `sendcounters`): how much each mailbox sent lately (Exchange Online
  allows 30 messages a minute and 10,000 recipients a day per mailbox) and how many
  auto-responses each address got lately. Both are read-modify-write with the entity's ETag,
  so two workers can never both take the last slot.

Sending at most once: a worker first *claims* the row (insert, or an ETag-guarded update
to `sending` with a lease). A second delivery of the same message finds `sent` and does
nothing, or finds a live `sending` lease and is told to come back a little later (by then
the first worker has sent it, or released it after a failure). A claim that takes over a
row left `sending` (the worker died, or recording `sent` failed, after Graph may have
accepted the mail) or `uncertain` (sendMail timed out or got a 5xx) says so in
`Claim.maybe_sent`, and the row keeps `maybe_sent` through poison and requeue: the sender
then looks for the Message-ID in Sent Items before sending again (services/send.py).

Attempts and deferrals are counted on the row: `attempts` on every claim, `deferrals` each
time a claimed send had to wait (pacing, Graph throttling). attempts - deferrals is the
number of real failures, crashes included (an attempt is counted before the work).
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Callable

from .storage import StorageConnection
from .tables import _Table, digest, safe_key, utcnow

#: Longer than one send with Graph's retries (see services/send.py SEND_DEADLINE_SECONDS).
SENDING_LEASE_SECONDS = 600
#: A copy finding another worker sending comes back this soon, to find it sent (or failed).
BUSY_RETRY_SECONDS = 60
#: Exchange Online sending limits per mailbox.
MESSAGES_PER_MINUTE = 30
RECIPIENTS_PER_DAY = 10_000
MAX_CONFLICTS = 50


class DeliveryState(str, Enum):
    """A notification's state in `deliveries` (stored as its value)."""

    QUEUED = "queued"
    SENDING = "sending"  # claimed; Graph may have accepted it if the worker never came back
    UNCERTAIN = "uncertain"  # sendMail timed out or got a 5xx: Exchange may have taken it
    SENT = "sent"
    SUPPRESSED = "suppressed"
    DEFERRED = "deferred"
    FAILED = "failed"


FINISHED = (DeliveryState.SENT.value, DeliveryState.SUPPRESSED.value)
MAYBE_SENT = (DeliveryState.SENDING.value, DeliveryState.UNCERTAIN.value)


def real_failures(row: dict | None) -> int:
    """Claimed attempts that neither finished nor were deferred (failures and crashes)."""
    if not row:
        return 0
    return max(0, int(row.get("attempts") or 0) - int(row.get("deferrals") or 0))


class ContentionError(RuntimeError):
    """A counter kept changing under us; the caller's retry will try again."""


@dataclass(frozen=True)
class Claim:
    """The result of `Deliveries.claim`: `status` is claimed | finished | busy. `maybe_sent`:
    an earlier attempt may have reached Exchange (see the module docstring)."""

    status: str
    row: dict | None = None
    wait_seconds: int = 0
    maybe_sent: bool = False


def _keys(notification_id: str) -> tuple[str, str]:
    return digest(notification_id, 2), safe_key(notification_id)


class Deliveries:
    """The state of every notification the sender has seen."""

    def __init__(self, connection: StorageConnection):
        self._table = _Table(connection, "deliveries")

    @staticmethod
    def _base(notification: dict) -> dict:
        pk, rk = _keys(notification["id"])
        return {
            "PartitionKey": pk, "RowKey": rk, "id": notification["id"],
            "template": notification.get("template", ""),
            "ticket": str(notification.get("ticket_number", "")),
            "event": notification.get("event", ""),
            "created": notification.get("created", ""),
            "notification": json.dumps(notification, sort_keys=True),  # size capped by validation
        }

    def get(self, notification_id: str) -> dict | None:
        return self._table.get(*_keys(notification_id))

    def record_queued(self, notification: dict) -> None:
        """A notification put on the queue by the HTTP API or a requeue (counts start again)."""
        self._table.upsert({**self._base(notification), "state": DeliveryState.QUEUED.value,
                            "queued": utcnow(), "error": "", "error_code": "",
                            "attempts": 0, "deferrals": 0})

    def record_failed(self, notification: dict, reason: str) -> None:
        """A notification that failed for good (e.g. from the poison queue)."""
        self._table.upsert({**self._base(notification), "state": DeliveryState.FAILED.value,
                            "error": reason[:4000],
                            "failed": utcnow(), "updated": utcnow()})

    def claim(self, notification: dict, now: datetime | None = None) -> Claim:
        """Take the right to send this notification (see the module docstring)."""
        now = now or utcnow()
        lease = now + timedelta(seconds=SENDING_LEASE_SECONDS)
        fields = {"state": "sending", "lease_until": lease, "claimed": now}
        for _ in range(MAX_CONFLICTS):
            created = {**self._base(notification), **fields, "attempts": 1}
            if self._table.create(created):
                return Claim("claimed", row=created)
            row = self.get(notification["id"])
            if row is None:
                continue  # deleted meanwhile: insert again
            if row.get("state") in FINISHED:
                return Claim("finished", row=row)
            held = row.get("lease_until")
            if row.get("state") == "sending" and held and held > now:
                wait = min(BUSY_RETRY_SECONDS, int((held - now).total_seconds()) + 1)
                return Claim("busy", row=row, wait_seconds=wait)
            # kept on the row (through poison and requeue) until the mail is found or sent
            maybe_sent = row.get("state") in MAYBE_SENT or bool(row.get("maybe_sent"))
            attempts = int(row.get("attempts") or 0) + 1
            row.update(self._base(notification), **fields, attempts=attempts,
                       maybe_sent=maybe_sent)
            if self._table.update_if_unchanged(row):
                return Claim("claimed", row=row, maybe_sent=maybe_sent)
        raise ContentionError(f"notification {notification['id']} is being claimed by others")

    def update(self, notification_id: str, state: str | DeliveryState, **fields) -> None:
        """Record a new state (and sender, recipients, error ...) of a claimed notification."""
        pk, rk = _keys(notification_id)
        if "error" in fields:
            fields["error"] = str(fields["error"])[:4000]
        self._table.upsert({"PartitionKey": pk, "RowKey": rk, "state": DeliveryState(state).value,
                            "updated": utcnow(), **fields})

    def with_state(self, *states: str) -> list[dict]:
        """Rows in these states, oldest first."""
        wanted = " or ".join(f"state eq @s{i}" for i in range(len(states)))
        rows = self._table.client.query_entities(
            wanted, parameters={f"s{i}": s for i, s in enumerate(states)})
        return sorted((dict(row) for row in rows), key=lambda r: str(r.get("created", "")))


class SendCounters:
    """Sending pace per mailbox and auto-responses per recipient, ETag-guarded.

    The last version this instance wrote (or read) of each counter is remembered with its
    ETag, so a run sending many mails pays one round trip per update instead of two. That
    is safe because counters only grow: a stale copy that says "full" is full, and a stale
    copy that leads to a write fails on its ETag and is read again. Threads sharing the
    instance take turns per counter, so only other processes cause such conflicts.
    """

    def __init__(self, connection: StorageConnection):
        self._table = _Table(connection, "sendcounters")
        self._known: dict[tuple[str, str], tuple[dict, str | None]] = {}
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def _write(self, partition: str, row: str, fields: dict, etag: str | None) -> str | None:
        """Insert (etag None) or replace if unchanged; the new ETag, or None on a conflict."""
        from azure.core import MatchConditions
        from azure.core.exceptions import HttpResponseError, ResourceExistsError
        from azure.data.tables import UpdateMode

        entity = {"PartitionKey": partition, "RowKey": row, **fields}
        try:
            if etag is None:
                return self._table.client.create_entity(entity)["etag"]
            return self._table.client.update_entity(
                entity, mode=UpdateMode.REPLACE, etag=etag,
                match_condition=MatchConditions.IfNotModified)["etag"]
        except ResourceExistsError:
            return None
        except HttpResponseError as error:
            if error.status_code == 412:
                return None
            raise

    def _change(self, partition: str, row: str, change: Callable[[dict], tuple[dict | None, object]]):
        """Apply `change(fields) -> (new fields or None to write nothing, result)` atomically."""
        key = (partition, row)
        with self._locks_lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            return self._change_locked(key, change)

    def _change_locked(self, key: tuple[str, str], change):
        partition, row = key
        for _ in range(MAX_CONFLICTS):
            known = self._known.get(key)
            if known is None:
                entity = self._table.get(partition, row)
                known = (dict(entity), entity.metadata["etag"]) if entity else ({}, None)
            fields, etag = known
            new, result = change(dict(fields))
            if new is None:
                return result
            written = self._write(partition, row, new, etag)
            if written is not None:
                self._known[key] = (new, written)
                return result
            self._known.pop(key, None)
        raise ContentionError(f"counter {partition}/{row} kept changing")

    def take_send_slot(self, mailbox: str, recipients: int, now: float | None = None) -> int:
        """Count one message to `recipients` addresses from `mailbox`; 0 when it may go now,
        else the seconds to wait (nothing is counted then).

        Messages: a sliding 60-second window. Recipients: hourly buckets over the last 24
        hours (the current hour counted whole, so it errs on the safe side)."""
        now = time.time() if now is None else now
        hour = int(now // 3600)

        def change(fields: dict):
            recent = [t for t in json.loads(fields.get("recent") or "[]") if t > now - 60]
            hours = {int(h): n for h, n in json.loads(fields.get("hours") or "{}").items()
                     if int(h) > hour - 24}
            if len(recent) >= MESSAGES_PER_MINUTE:
                return None, int(min(recent) + 60 - now) + 1
            if sum(hours.values()) + recipients > RECIPIENTS_PER_DAY:
                total = sum(hours.values())
                for start in sorted(hours):
                    total -= hours[start]
                    if total + recipients <= RECIPIENTS_PER_DAY:
                        return None, int((start + 25) * 3600 - now) + 1
                return None, 24 * 3600
            recent.append(round(now, 3))
            hours[hour] = hours.get(hour, 0) + recipients
            return {"recent": json.dumps(recent), "hours": json.dumps(hours)}, 0

        return self._change("pace", safe_key(mailbox.lower()), change)

    def take_auto_response(self, address: str, notification_id: str, limit: int,
                           window_minutes: int, now: float | None = None) -> bool:
        """Count one auto-response to `address`; False when it already got `limit` in the
        window. Counting is per notification id, so a retried send is not counted twice."""
        now = time.time() if now is None else now

        def change(fields: dict):
            sent = {key: t for key, t in json.loads(fields.get("sent") or "{}").items()
                    if t > now - window_minutes * 60}
            if notification_id in sent:
                return None, True
            if len(sent) >= limit:
                return None, False
            sent[notification_id] = round(now, 3)
            return {"sent": json.dumps(sent)}, True

        return self._change("autoresponse", safe_key(address.lower()), change)


def queued_row(notification: dict) -> dict:
    """The `n-<id>` row of a notification in its ticket's partition of `tickets`: written in
    the same transaction as what caused it (the transactional outbox), state `queued`."""
    base = Deliveries._base(notification)
    return {**base, "PartitionKey": str(notification["ticket_number"]),
            "RowKey": "n-" + notification["id"], "state": DeliveryState.QUEUED.value,
            "queued": utcnow()}
