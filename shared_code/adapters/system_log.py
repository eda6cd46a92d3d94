"""The `systemlog` table: the helpdesk's system log, one partition per day, newest first."""
from __future__ import annotations

import uuid
from typing import Iterator

from ..domain.limits import clip, utf16_len
from .names import SYSTEM_LOG
from .storage import StorageConnection
from .table_base import _Table, utcnow


class SystemLog:
    """The helpdesk's system log (the guide's `ost_syslog`), newest first.

    Partitioned by day; RowKeys are inverted timestamps so a query returns the newest
    entries first. Callers must never pass secrets in `message`.
    """

    def __init__(self, connection: StorageConnection):
        self._table = _Table(connection, SYSTEM_LOG)

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

    def scan(self, days: int = 7, level: str | None = None) -> Iterator[dict]:
        """Lines of the last `days` day partitions, newest first, read lazily page by page
        (the caller stops when it has enough); `level` is filtered by Table Storage."""
        from datetime import timedelta

        today = utcnow()
        for back in range(days):
            day = (today - timedelta(days=back)).strftime("%Y%m%d")
            if level:
                yield from self._table.client.query_entities(
                    "PartitionKey eq @pk and level eq @level",
                    parameters={"pk": day, "level": level})
            else:
                yield from self._table.query(day)

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
