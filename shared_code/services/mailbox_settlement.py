"""How a fetch run settles a mail that did not get through: a failed download charged to the
mail or called an outage (nothing charged), a mail that vanished, a failure held against the
mail, and the hand-off to quarantine (services/quarantine.py) at `max_processing_attempts`.
"""
from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from ..adapters.names import RAW_MAIL
from ..domain.ingest import IngestState, download_failures_are_the_mails
from ..domain.model import EmailAccount
from ..ports import MailClient, MessageRef
from .helpdesk import Helpdesk
from .mailbox_attempts import Attempts, raw_name
from .mailbox_errors import TransientError
from .mailbox_listing import Listing
from .quarantine import release, set_aside

if TYPE_CHECKING:
    from .fetch import FetchSummary

log = logging.getLogger("deskmail.fetch")

DONE = IngestState.DONE.value


class Settlement:
    """The failed downloads of a run, and the verdicts on mails that did not get through.
    Returns follow the run's convention: True finished, False the next run tries again."""

    def __init__(self, desk: Helpdesk, account: EmailAccount, graph: MailClient, listing: Listing,
                 attempts: Attempts, summary: FetchSummary, runlog, max_attempts: int,
                 lock: threading.Lock):
        self.desk, self.account, self.graph = desk, account, graph
        self.listing, self.attempts, self.summary = listing, attempts, summary
        self.runlog, self.max_attempts, self._lock = runlog, max_attempts, lock
        self.downloads_ok = 0
        self.failed_downloads: list[tuple[object, int, Exception]] = []
        self._probed: dict[str, bool | None] = {}  # graph id -> does Graph still read it

    def downloaded(self) -> None:
        """One more mail whose raw MIME Graph served in this run."""
        with self._lock:
            self.downloads_ok += 1

    def download_failed(self, ref: MessageRef, attempt: int, error: Exception) -> bool | None:
        """A 404 for a mail that is gone is settled now (it vanished); any other failure waits
        for the end of the run, which knows whether Graph served the other mails."""
        from ..adapters.graph import GraphAuthError, GraphError

        if isinstance(error, GraphAuthError):  # the account's credentials, not the mail
            self.attempts.not_counted(ref, attempt, error)
            raise TransientError(f"{type(error).__name__}: {error}") from error
        if isinstance(error, GraphError) and error.status == 404:
            self._probed[ref.id] = self._exists(ref)
            if self._probed[ref.id] is False:
                return self.vanished(ref)
        with self._lock:
            self.failed_downloads.append((ref, attempt, error))
        return None

    def _exists(self, ref: MessageRef) -> bool | None:
        """Whether Graph still reads the mail's properties (None: it answered neither way)."""
        from ..adapters.graph import GraphError

        if ref.id in self._probed:
            return self._probed[ref.id]
        try:
            return self.graph.message_exists(ref.id)
        except GraphError:
            return None

    def settle_failed_downloads(self, handled: dict) -> str:
        """Charge the failed downloads to their mails, or call it an outage (nothing charged).
        Returns the outage's description, empty when there was none."""
        failed = self.failed_downloads
        if not failed:
            return ""
        probe_ok = False
        if len(failed) == 1 and self.downloads_ok == 0:
            exists = self._exists(failed[0][0])
            if exists is False:
                handled[failed[0][0].id] = self.vanished(failed[0][0])
                return ""
            probe_ok = bool(exists)
        if download_failures_are_the_mails(len(failed), self.downloads_ok, probe_ok):
            for ref, attempt, error in failed:
                handled[ref.id] = self.failed(ref, attempt, error)
            return ""
        for ref, attempt, error in failed:
            self.attempts.not_counted(ref, attempt, error)
            handled[ref.id] = False
        return (f"Graph served the content of none of {len(failed)} mail(s) in this run, so "
                f"no attempt was counted (an outage, not the mails): {failed[0][2]}")

    def vanished(self, ref: MessageRef) -> bool:
        """Deleted between listing and download: nothing left to ingest."""
        self.attempts.change(ref.id, {"state": DONE, "outcome": "vanished"})
        self.listing.to_mark.discard(ref.id)
        if ref.id in self.listing.sent_back:
            release(self.desk, self.account.address, self.listing.sent_back[ref.id][0],
                    "vanished")
        self.runlog.write(
            "warning", "Mail vanished",
            f"{self.account.address}: mail {ref.internet_message_id or ref.id} "
            f"({ref.subject!r}) was deleted before it could be downloaded",
            account=self.account.address,
        )
        return True

    def failed(self, ref: MessageRef, attempt: int, error: Exception) -> bool:
        """The mail's own failure: held against it, quarantined at the last attempt."""
        message = f"{type(error).__name__}: {error}"[:2000]
        log.warning("mail %s of %s failed (attempt %d): %s", ref.id, self.account.address,
                    attempt, message)
        if attempt < self.max_attempts:
            self.attempts.change(ref.id, {"error": message, "shared": False})  # its own failure
            with self._lock:
                self.summary.errors.append(f"mail {ref.internet_message_id or ref.id}: {message}")
            return False
        return self.set_aside(ref, attempt, message)

    def set_aside(self, ref: MessageRef, attempts: int, message: str) -> bool:
        name = raw_name(self.account.address, ref)
        raw_blob = name if self.desk.blobs.exists(RAW_MAIL, name) else ""
        set_aside(self.desk, self.account.address, ref, attempts, message, raw_blob)
        with self._lock:
            self.summary.quarantined += 1
        return True

    @staticmethod
    def died(row: dict, attempts: int) -> str:
        """The quarantine reason of a mail whose every attempt ended the run."""
        text = (f"each of its {attempts} attempts ended the fetch run before it finished "
                f"(process crash, out of memory or the function time-out)")
        return f"{text}; earlier error: {row['error']}" if row.get("error") else text
