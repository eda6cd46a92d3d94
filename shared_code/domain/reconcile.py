"""What became of each mail of a mailbox's day: the categories of the reconciliation.

Plain Python: services/reconcile.py lists the folder's mail received that day and the ledger
rows of those Graph ids, and `classify` puts each mail in exactly one category. Only
UNACCOUNTED raises an alert: a mail a normal fetch run should have taken and did not.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from enum import Enum

from .ingest import IngestState


class MailCategory(str, Enum):
    """One mail of the folder, as the reconciliation sees it (the value is the JSON name)."""

    INGESTED = "ingested"  # a new ticket or a message threaded into one
    DISCARDED = "discarded"  # by a rule (auto-reply, spoofed helpdesk address, no sender)
    DUPLICATE = "duplicate"  # the same Message-ID was ingested before
    IGNORED = "ignored"  # the helpdesk's own mail (loop guard)
    QUARANTINED = "quarantined"  # set aside after repeated failures (quarantine list)
    IN_PROGRESS = "in_progress"  # an attempt started within the fetch's time budget
    AWAITING_RETRY = "awaiting_retry"  # an attempt failed or died; the next run tries again
    WAITING = "waiting"  # not fetched yet, but still within the fetch's reach (next run)
    BEFORE_ACCOUNT = "before_account"  # received before the account's fetch window: skipped
    UNACCOUNTED = "unaccounted"  # a normal run should have taken it and did not: an alert

    @property
    def alerts(self) -> bool:
        return self is MailCategory.UNACCOUNTED


#: ledger outcomes -> categories; any other finished outcome (a mail that "vanished" and is
#: back in the folder) is not taken by any later run, so it is unaccounted for
OUTCOMES = {
    "created": MailCategory.INGESTED, "threaded": MailCategory.INGESTED,
    "discarded": MailCategory.DISCARDED, "duplicate": MailCategory.DUPLICATE,
    "ignored": MailCategory.IGNORED, "quarantined": MailCategory.QUARANTINED,
}
_UNFINISHED = {IngestState.ATTEMPTING.value, IngestState.RAW_SAVED.value}
_FINISHED = {IngestState.PROCESSED.value, IngestState.DONE.value}
_RULE_IN_REASON = re.compile(r"\(rule: ([^)]+)\)")


@dataclass(frozen=True)
class FetchReach:
    """What a normal fetch run of the account takes (services/mailbox_listing.py): mail
    received since `window_start`, changed since `listed_from` (the watermark less the
    overlap; None while the account was never fetched: everything is still ahead)."""

    window_start: datetime
    listed_from: datetime | None
    now: datetime
    time_budget: timedelta


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC day [start, end)."""
    start = datetime.combine(day, time(0), tzinfo=timezone.utc)
    return start, start + timedelta(days=1)


def discard_rule(row: dict) -> str:
    """The rule that discarded a mail: the ledger's `rule`, else the name in older rows'
    reason ("... (rule: X)")."""
    if row.get("rule"):
        return str(row["rule"])
    found = _RULE_IN_REASON.search(str(row.get("reason") or ""))
    return found.group(1) if found else ""


def classify(row: dict | None, received: datetime, changed: datetime | None,
             reach: FetchReach) -> MailCategory:
    """The one category of a mail of the folder given its ledger row ({}/None: none)."""
    state = (row or {}).get("state") or ""
    if state in _FINISHED:
        return OUTCOMES.get(str(row.get("outcome") or ""), MailCategory.UNACCOUNTED)
    if state in _UNFINISHED:
        updated = row.get("updated")
        if isinstance(updated, datetime) and reach.now - updated <= reach.time_budget:
            return MailCategory.IN_PROGRESS
        return MailCategory.AWAITING_RETRY
    if received < reach.window_start:
        return MailCategory.BEFORE_ACCOUNT
    if reach.listed_from is None or (changed or received) >= reach.listed_from:
        return MailCategory.WAITING
    return MailCategory.UNACCOUNTED
