"""A fetch run's ledger bookkeeping: the attempts of a chunk counted before its work (one
transaction), the attempts held against a mail, and the other changes of a chunk gathered
and written in one transaction after it.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone
from typing import Callable

from ..adapters.table_base import digest, safe_key
from ..domain.limits import clip
from ..domain.ingest import IngestState, QuarantineState, is_suspect
from ..domain.limits import clip_message_id
from .helpdesk import Helpdesk
from .mailbox_listing import Listing

log = logging.getLogger("deskmail.fetch")


def raw_name(address: str, ref) -> str:
    """The raw MIME's blob name in the raw-mail container."""
    return f"{safe_key(address)}/{ref.received:%Y/%m/%d}/{digest(ref.id, 40)}.eml"


def charged(row: dict) -> int:
    """The attempts held against the mail: an unfinished attempt counted in a chunk of
    several mails is not (the run died, not necessarily on this mail)."""
    attempts = int(row.get("attempts") or 0)
    if row.get("shared") and is_suspect(row):
        attempts -= 1
    return attempts


class Attempts:
    """The ledger writes of one run. `change` is called from the workers (under `lock`);
    `flush` writes what was gathered."""

    def __init__(self, desk: Helpdesk, address: str, listing: Listing, max_attempts: int,
                 checkpoint: Callable[[str, str], None], lock: threading.Lock):
        self.desk, self.address, self.listing = desk, address, listing
        self.max_attempts, self.checkpoint, self._lock = max_attempts, checkpoint, lock
        self._changes: dict[str, dict] = {}  # graph id -> ledger fields not written yet

    def count(self, chunk: list, shared: bool) -> dict[str, int]:
        """The one ledger write of the chunk's attempts (one transaction); it also keeps what
        an admin needs to find a mail should it end in quarantine before anything was
        downloaded. Returns graph id -> the attempt now under way."""
        attempts: dict[str, int] = {}
        fields: dict[str, dict] = {}
        for ref in chunk:
            row = self.listing.ledger.get(ref.id, {})
            if row.get("state") == IngestState.PROCESSED.value:
                continue  # only the mark-read is left
            held = charged(row)
            if held >= self.max_attempts:
                continue  # quarantined at its turn
            attempts[ref.id] = held + 1
            fields[ref.id] = {
                "state": IngestState.ATTEMPTING.value, "attempts": held + 1,
                "received": ref.received, "shared": shared,
                "message_id": clip_message_id(ref.internet_message_id or "")[0],
                "subject": clip(ref.subject or "", 500), "from_name": clip(ref.from_name or "", 500),
                "from_email": clip(ref.from_address or "", 500),
                "raw_blob": raw_name(self.address, ref),
            }
        if fields:
            self.desk.ledger.apply(self.address, fields)
        for graph_id in fields:
            self.checkpoint("attempt_counted", graph_id)
        sent_back = self.listing.sent_back
        for graph_id in fields:
            if sent_back.get(graph_id, ("", ""))[1] == QuarantineState.RETRY.value:
                self.desk.quarantine.update(sent_back[graph_id][0], {
                    "state": QuarantineState.RETRYING,
                    "retry_started_at": datetime.now(timezone.utc)})
        return attempts

    def change(self, graph_id: str, fields: dict) -> None:
        """A ledger change written with the chunk's final transaction."""
        with self._lock:
            self._changes.setdefault(graph_id, {}).update(fields)

    def not_counted(self, ref, attempt: int, error: Exception) -> None:
        """Take back an attempt that an outage, not the mail, ended (written with the chunk's
        states, or best effort when the run stops: storage may be the thing that is down)."""
        self.change(ref.id, {
            "attempts": attempt - 1,
            "error": f"not counted (outage): {type(error).__name__}: {error}"[:2000]})

    def flush(self, best_effort: bool = False) -> None:
        with self._lock:
            changes, self._changes = self._changes, {}
        if not changes:
            return
        try:
            self.desk.ledger.apply(self.address, changes)
        except Exception:
            if not best_effort:
                raise
            log.exception("could not record the ledger states of %s", self.address)
