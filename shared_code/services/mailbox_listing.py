"""What one fetch run works on: the listed mails the ledger has not finished (one ledger query
for the listing) and the quarantined mails an admin sent back, with the ledger rows of both.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Iterator

from ..domain.ingest import IngestState, QuarantineState
from ..domain.model import EmailAccount
from ..ports import MailClient
from .helpdesk import Helpdesk
from .quarantine import release

DONE = IngestState.DONE.value


class Listing:
    """The run's view of the mailbox, filled by `new_messages` and `sent_back_refs`.

    `ledger`: graph id -> the ledger row of each mail to work on; `to_mark`: the mails to
    mark read once finished; `listing`: every mail listed, in listing order, and
    `finished_before`: those an earlier run finished (the watermark passes both, else a mail
    quarantined after the ones behind it were done would hold the watermark at itself);
    `sent_back`: graph id -> (quarantine id, quarantine state).
    """

    def __init__(self, desk: Helpdesk, account: EmailAccount, graph: MailClient, max_attempts: int):
        self.desk, self.account, self.graph = desk, account, graph
        self.settings = desk.settings
        self.max_attempts = max_attempts
        self.to_mark: set[str] = set()
        self.ledger: dict[str, dict] = {}
        self.listing: list = []
        self.finished_before: set[str] = set()
        self.sent_back: dict[str, tuple[str, str]] = {}
        self.full = False  # the batch filled up: more new mail may be waiting

    def new_messages(self, folder: str) -> Iterator:
        """The listed mails the ledger has not finished, up to the batch size. The ledger
        rows are read with one query for the listing (adapters/ledger.py), not one per mail."""
        window_start = ((self.account.created or datetime.now(timezone.utc))
                        - timedelta(hours=self.settings.fetch_lookback_hours))
        start = self.account.fetch_watermark or window_start
        since = start - timedelta(seconds=self.settings.fetch_overlap_seconds)
        window = self.desk.ledger.window(self.account.address)
        wanted = self.account.batch_size
        pending: list = []

        def unfinished(refs: list) -> Iterator:
            rows = self.desk.ledger.rows(window, refs)
            for ref in refs:
                self.listing.append(ref)
                if rows[ref.id].get("state") == DONE:
                    self.finished_before.add(ref.id)
                else:
                    self.ledger[ref.id] = rows[ref.id]
                    if self.account.mark_as_read and not ref.is_read:
                        self.to_mark.add(ref.id)
                    yield ref

        for ref in self.graph.list_messages(folder, since, top=min(wanted, 100)):
            if ref.received < window_start:
                continue  # mail from before the account was added, touched (read, flagged) now
            pending.append(ref)
            if len(pending) < wanted:
                continue
            for new in unfinished(pending):
                yield new
                wanted -= 1
                if wanted == 0:
                    self.full = True
                    return
            pending = []
        for new in unfinished(pending):
            yield new
            wanted -= 1
            if wanted == 0:
                self.full = True
                return

    def sent_back_refs(self) -> list:
        """Quarantined mails an admin sent back (`quarantine retry`): the watermark is past
        them, so they are fetched by their Graph id (one query per run)."""
        from ..adapters.graph import GraphMessageRef

        refs = []
        rows = self.desk.quarantine.in_states(
            self.account.address, (QuarantineState.RETRY, QuarantineState.RETRYING))
        for row in rows:
            graph_id = row["graph_id"]
            ledger_row = dict(self.desk.ledger.get(self.account.address, graph_id) or {})
            outcome = ledger_row.get("outcome") or ""
            if ledger_row.get("state") in (IngestState.PROCESSED.value, DONE) \
                    and outcome != "quarantined":  # the retry finished just before a crash
                release(self.desk, self.account.address, row["RowKey"], outcome,
                        ledger_row.get("ticket") or "")
                continue
            ledger_row["state"] = IngestState.ATTEMPTING.value
            ledger_row["shared"] = False
            if row.get("state") == QuarantineState.RETRY.value:  # one more attempt than the limit
                ledger_row["attempts"] = self.max_attempts - 1
            self.ledger[graph_id] = ledger_row
            self.sent_back[graph_id] = (row["RowKey"], row.get("state", ""))
            self.to_mark.discard(graph_id)
            refs.append(GraphMessageRef(
                id=graph_id, internet_message_id=row.get("message_id") or None,
                received=row["received"], is_read=True, subject=row.get("subject"),
                from_address=row.get("from_email") or None, from_name=row.get("from_name") or None))
        return refs

