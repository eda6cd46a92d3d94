"""What became of a fetched mail, and when a failure is the mail's own rather than an outage.

Plain Python: the fetch service (services/fetch.py) applies these rules, the ledger and
quarantine repositories store the states.
"""
from __future__ import annotations

import hashlib
from enum import Enum


class IngestState(str, Enum):
    """A mailbox message's row in the ingest ledger."""

    ATTEMPTING = "attempting"  # an attempt was counted: under way, failed, or died with the run
    RAW_SAVED = "raw_saved"  # rows written before attempts were counted up front (read only)
    PROCESSED = "processed"  # stored, discarded or quarantined; only the mark-read is left
    DONE = "done"


class QuarantineState(str, Enum):
    """A quarantined mail's row, as `quarantine list` shows it."""

    QUARANTINED = "quarantined"
    RETRY = "retry"  # an admin asked for one more attempt; the next fetch run takes it
    RETRYING = "retrying"  # a run took it: if that attempt dies too, it is quarantined again
    RELEASED = "released"  # the extra attempt finished it (a ticket, a discard, or it vanished)
    DISMISSED = "dismissed"  # an admin dealt with it by hand

    @property
    def open(self) -> bool:
        """Still waiting for someone: listed by default."""
        return self in (QuarantineState.QUARANTINED, QuarantineState.RETRY,
                        QuarantineState.RETRYING)


UNFINISHED = (IngestState.ATTEMPTING, IngestState.RAW_SAVED)


def quarantine_id(account: str, graph_id: str) -> str:
    """A short id an admin can type, the same every time the same mail is quarantined."""
    return hashlib.sha256(f"{account.lower()}|{graph_id}".encode("utf-8")).hexdigest()[:10]


def normalize_quarantine_id(text: str) -> str:
    return (text or "").strip().lower()


def is_suspect(row: dict) -> bool:
    """A mail with an attempt that never finished: it may be what ended an earlier run, so it
    is tried after the other mails of the run and alone (no download of another mail running)."""
    state = row.get("state") or ""
    return state in {s.value for s in UNFINISHED} and int(row.get("attempts") or 0) > 0


def download_failures_are_the_mails(failed_mails: int, downloads_ok: int,
                                    probe_ok: bool) -> bool:
    """Whether the mails whose download failed in a run are to be charged an attempt.

    Graph is up when another mail's download succeeded in the same run. Several failed
    downloads and none that succeeded look like an outage of Graph (or of the mailbox): no
    mail is charged. A single failed mail with nothing else downloaded is charged only when
    Graph still answers about that very mail (`probe_ok`: its properties read fine), i.e.
    only its content cannot be served.
    """
    if failed_mails == 0:
        return False
    if downloads_ok > 0:
        return True
    return failed_mails == 1 and probe_ok
