"""The JSON shapes of the admin views the CLI (`--json`) and the web API share, and the

if TYPE_CHECKING:
    from .helpdesk import Helpdesk
system log search (the guide's "title like '%mail%'").

The log is one Table Storage partition per day, newest first. Table Storage cannot search
text, so a search reads the last `days` days' lines (only those of `level` when one is given:
Table Storage filters that) until it has the page asked for: a search for something rare
reads every line of those days.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the composition root imports every adapter: not needed at import time
    from .helpdesk import Helpdesk


PAGE_SIZE = 50
SEARCH_DAYS = 7


class LogLevel(str, Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def quarantine_json(row: dict) -> dict:
    return {
        "id": row.get("RowKey"), "state": row.get("state", "quarantined"),
        "account": row.get("account", ""), "graph_id": row.get("graph_id"),
        "message_id": row.get("message_id", ""), "subject": row.get("subject", ""),
        "from": {"name": row.get("from_name", ""), "email": row.get("from_email", "")},
        "received": iso(row.get("received")), "error": row.get("error", ""),
        "attempts": row.get("attempts", 0), "raw_blob": row.get("raw_blob", ""),
        "quarantined_at": iso(row.get("quarantined_at")),
        "retry_requested_at": iso(row.get("retry_requested_at")),
        "retry_requested_by": row.get("retry_requested_by", ""),
        "dismissed_at": iso(row.get("dismissed_at")), "dismissed_by": row.get("dismissed_by", ""),
        "released_at": iso(row.get("released_at")), "outcome": row.get("outcome", ""),
        "ticket": row.get("ticket", ""),
    }


def log_entry_json(row: dict) -> dict:
    return {"time": iso(row.get("time")), "level": row.get("level"), "title": row.get("title"),
            "message": row.get("message"), "account": row.get("account", "")}


def failed_notification_json(row: dict) -> dict:
    return {**row, "updated": iso(row.get("updated"))}


@dataclass(frozen=True)
class LogPage:
    entries: list[dict]
    page: int
    has_more: bool
    days: int


def _matches(row: dict, needle: str) -> bool:
    return needle in str(row.get("title") or "").casefold() or \
        needle in str(row.get("message") or "").casefold()


def search_log(desk: Helpdesk, q: str = "", level: LogLevel | None = None, page: int = 1,
               per_page: int = PAGE_SIZE, days: int = SEARCH_DAYS) -> LogPage:
    """Page `page` (from 1) of the lines whose title or message contains `q` (any case)."""
    needle = q.strip().casefold()
    rows = desk.syslog.scan(days, level.value if level else None)
    if needle:
        rows = (row for row in rows if _matches(row, needle))
    start = (max(page, 1) - 1) * per_page
    found = list(itertools.islice(rows, start, start + per_page + 1))
    return LogPage([log_entry_json(r) for r in found[:per_page]], max(page, 1),
                   len(found) > per_page, days)
