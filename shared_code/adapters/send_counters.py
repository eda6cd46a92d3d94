"""Sending pace per mailbox and auto-responses per recipient (table `sendcounters`).

Exchange Online allows 30 messages a minute and 10,000 recipients a day per mailbox; the
sender takes slots here before sendMail. Every counter is read-modify-write with the
entity's ETag, so two workers can never both take the last slot. The slots of a queue
message's notifications from one mailbox are taken in one write (`take_send_slots`).
"""
from __future__ import annotations

import json
import threading
import time
from typing import Callable

from .names import SEND_COUNTERS
from .storage import StorageConnection
from .table_base import _Table, safe_key

#: Exchange Online sending limits per mailbox.
MESSAGES_PER_MINUTE = 30
RECIPIENTS_PER_DAY = 10_000
MAX_CONFLICTS = 50


class ContentionError(RuntimeError):
    """A counter (or a delivery row) kept changing under us; the caller's retry tries again."""


class SendCounters:
    """Sending pace per mailbox and auto-responses per recipient, ETag-guarded.

    The last version this instance wrote (or read) of each counter is remembered with its
    ETag, so a run sending many mails pays one round trip per update instead of two. That
    is safe because counters only grow: a stale copy that says "full" is full, and a stale
    copy that leads to a write fails on its ETag and is read again. Threads sharing the
    instance take turns per counter, so only other processes cause such conflicts.
    """

    def __init__(self, connection: StorageConnection):
        self._table = _Table(connection, SEND_COUNTERS)
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
        else the seconds to wait (nothing is counted then)."""
        granted, wait = self.take_send_slots(mailbox, [recipients], now)
        return 0 if granted else wait

    def take_send_slots(self, mailbox: str, recipients: list[int],
                        now: float | None = None) -> tuple[int, int]:
        """Count messages from `mailbox` (one per item: its number of recipients) in ONE
        write: (how many of them, in order, may go now; the seconds the others must wait).

        Messages: a sliding 60-second window. Recipients: hourly buckets over the last 24
        hours (the current hour counted whole, so it errs on the safe side)."""
        now = time.time() if now is None else now
        hour = int(now // 3600)

        def change(fields: dict):
            recent = [t for t in json.loads(fields.get("recent") or "[]") if t > now - 60]
            hours = {int(h): n for h, n in json.loads(fields.get("hours") or "{}").items()
                     if int(h) > hour - 24}
            granted, wait = 0, 0
            for count in recipients:
                wait = _wait(recent, hours, count, now)
                if wait:
                    break
                recent.append(round(now, 3))
                hours[hour] = hours.get(hour, 0) + count
                granted += 1
            if not granted:
                return None, (0, wait)
            return {"recent": json.dumps(recent), "hours": json.dumps(hours)}, (granted, wait)

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


def _wait(recent: list[float], hours: dict[int, int], recipients: int, now: float) -> int:
    """0 when one more message to `recipients` fits both limits, else the seconds to wait."""
    if len(recent) >= MESSAGES_PER_MINUTE:
        return int(sorted(recent)[-MESSAGES_PER_MINUTE] + 60 - now) + 1
    if sum(hours.values()) + recipients > RECIPIENTS_PER_DAY:
        total = sum(hours.values())
        for start in sorted(hours):
            total -= hours[start]
            if total + recipients <= RECIPIENTS_PER_DAY:
                return int((start + 25) * 3600 - now) + 1
        return 24 * 3600
    return 0
