"""Fetching mailboxes: the timer fans out one job per account; a worker fetches one account.

Per account and run (the guide's "Email Fetching Schedule"):
1. take the account's lease, so two workers never fetch the same mailbox;
2. list the folder by last change (oldest first) from the account's watermark,
   minus an overlap, regardless of the unread flag, skipping mail the ingest
   ledger has finished: a mail someone opened in Outlook first, or moved into the
   folder days after it arrived, is still ingested, exactly once;
3. for up to `batch_size` new mails: download the raw MIME and keep it in Blob
   before anything else (downloads run ahead, up to Graph's 4 concurrent
   requests), run the inbound pipeline, then mark the mail read;
4. advance the watermark past the mails handled in order, record Last Fetch.
A mail that fails `max_processing_attempts` times is quarantined (raw kept, logged,
marked read), so it never blocks the mailbox. Graph and storage outages abort the
run for this account only; the next run retries.
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterator

from ..adapters.blobs import RAW_MAIL
from ..adapters.queues import FETCH_JOBS
from ..adapters.tables import digest, safe_key
from ..domain.limits import clip_message_id
from ..domain.mail import parse_mail
from ..domain.model import EmailAccount
from ..pipeline import InboundMail, PipelineContext, run_pipeline
from .helpdesk import Helpdesk

log = logging.getLogger("deskmail.fetch")

LEASE_SECONDS = 60
STALE_JOB_SECONDS = 120
# no new mail is started this close to the deadline: its processing must still fit
DEADLINE_MARGIN_SECONDS = 2
DONE = "done"


@dataclass
class FetchSummary:
    address: str
    fetched: int = 0
    created: int = 0
    threaded: int = 0
    discarded: int = 0
    duplicates: int = 0
    ignored: int = 0
    quarantined: int = 0
    errors: list[str] = field(default_factory=list)
    skipped: str = ""

    def count(self, outcome: str) -> None:
        name = {"duplicate": "duplicates"}.get(outcome, outcome)
        setattr(self, name, getattr(self, name) + 1)

    def as_dict(self) -> dict:
        return asdict(self)


class TransientError(Exception):
    """Graph or storage is unavailable: stop this account's run, retry next run."""


def _is_transient(error: Exception) -> bool:
    from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

    from ..adapters.graph import GraphAuthError, GraphError

    if isinstance(error, GraphAuthError):
        return True  # the whole account is unusable: record it on the account
    if isinstance(error, GraphError):
        return error.status is None or error.status == 429 or error.status >= 500
    if isinstance(error, (ServiceRequestError, ServiceResponseError, ConnectionError)):
        return True
    return isinstance(error, HttpResponseError) and (error.status_code or 500) >= 500


def _vanished(error: Exception) -> bool:
    from ..adapters.graph import GraphError

    return isinstance(error, GraphError) and error.status == 404 and error.code == "ErrorItemNotFound"


def enqueue_fetch_jobs(desk: Helpdesk) -> int:
    """The timer's work: one queue message per fetchable account."""
    now = datetime.now(timezone.utc).isoformat()
    count = 0
    for account in desk.accounts.list():
        if account.can_fetch:
            desk.queues.send(FETCH_JOBS, {"address": account.address, "scheduled": now})
            count += 1
    return count


def run_fetch_job(desk: Helpdesk, job: dict, now: datetime | None = None) -> FetchSummary:
    """The queue worker's work. A job older than STALE_JOB_SECONDS is dropped: when workers
    fall behind, a newer job for the same account is already queued behind it."""
    now = now or datetime.now(timezone.utc)
    scheduled = datetime.fromisoformat(job["scheduled"]) if job.get("scheduled") else now
    if (now - scheduled).total_seconds() > STALE_JOB_SECONDS:
        summary = FetchSummary(address=job["address"])
        summary.skipped = f"stale job from {job['scheduled']}; a newer one follows"
        return summary
    return fetch_account(desk, job["address"])


def fetch_all(desk: Helpdesk, only: str | None = None,
              checkpoint: Callable[[str, str], None] | None = None) -> list[FetchSummary]:
    """One fetch run over every enabled account (or one), as the CLI's `fetch` does."""
    accounts = desk.accounts.list()
    if only:
        accounts = [a for a in accounts if a.address == only.strip().lower()]
        if not accounts:
            raise LookupError(f"no email account {only}")
    return [fetch_account(desk, a.address, checkpoint=checkpoint) for a in accounts
            if only or a.can_fetch]


def fetch_account(desk: Helpdesk, address: str, deadline: float | None = None,
                  checkpoint: Callable[[str, str], None] | None = None) -> FetchSummary:
    """Fetch one account; never raises for the account's own failures (they are recorded)."""
    summary = FetchSummary(address=address)
    account = desk.accounts.get(address)
    if account is None:
        summary.errors.append(f"no email account {address}")
        return summary
    if not account.fetch_enabled:
        summary.skipped = "fetching is disabled for this account"
        return summary
    if not account.can_fetch:
        summary.skipped = "no Microsoft 365 OAuth credentials configured"
        return summary
    deadline = deadline or time.monotonic() + desk.settings.fetch_time_budget_seconds
    lease = desk.blobs.acquire_lease(safe_key(account.address), LEASE_SECONDS)
    if lease is None:
        summary.skipped = "another worker is fetching this account"
        return summary
    try:
        _MailboxRun(desk, account, summary, deadline, lease, checkpoint).run()
        _record_success(desk, account, summary)
    except Exception as error:  # one broken account must not stop the others
        _record_failure(desk, account, summary, error)
    finally:
        lease.release()
    return summary


def _record_success(desk: Helpdesk, account: EmailAccount, summary: FetchSummary) -> None:
    account.last_fetch = datetime.now(timezone.utc)
    account.consecutive_failures = 0
    desk.accounts.save_fetch_state(account)
    if summary.fetched:
        desk.syslog.write(
            "info", "Mail fetched",
            f"{account.address}: {summary.fetched} fetched, {summary.created} new tickets, "
            f"{summary.threaded} replies, {summary.discarded} discarded, "
            f"{summary.duplicates} duplicates, {summary.ignored} ignored, "
            f"{summary.quarantined} quarantined",
            account=account.address,
        )
    log.info("fetched %s: %s", account.address, summary.as_dict())


def _record_failure(desk: Helpdesk, account: EmailAccount, summary: FetchSummary,
                    error: Exception) -> None:
    message = f"{type(error).__name__}: {error}"
    summary.errors.append(message)
    account.last_error = message
    account.last_error_time = datetime.now(timezone.utc)
    account.consecutive_failures += 1
    try:
        desk.accounts.save_fetch_state(account)
        desk.syslog.write("error", "Mail fetch failed", f"{account.address}: {message}",
                          account=account.address)
    except Exception:  # storage itself is down: the Functions log still has it
        log.exception("could not record the fetch failure of %s", account.address)
    log.error("fetch of %s failed: %s", account.address, message)


class _MailboxRun:
    """One fetch run of one account."""

    def __init__(self, desk: Helpdesk, account: EmailAccount, summary: FetchSummary,
                 deadline: float, lease, checkpoint: Callable[[str, str], None] | None):
        self.desk, self.account, self.summary = desk, account, summary
        self.deadline, self.lease = deadline, lease
        self.checkpoint = checkpoint or (lambda step, mail: None)
        self.settings = desk.settings

    def run(self) -> None:
        from ..adapters.graph import GraphMailClient

        secret = self.desk.secrets.get(self.account.client_secret_name)
        self.graph = GraphMailClient(self.settings, self.account, secret, deadline=self.deadline)
        folder = self.graph.resolve_folder(self.account.folder)
        pending = list(self._new_messages(folder))
        ctx = self._pipeline_context()
        with ThreadPoolExecutor(max_workers=self.settings.graph_max_concurrency) as pool:
            marks: list[tuple[object, Future]] = []
            watermark_blocked = False
            for ref, download in self._downloads(pool, pending):
                if self._out_of_time():
                    break
                handled = self._handle(ref, download, ctx)
                if handled and ref.id in self._to_mark:
                    marks.append((ref, pool.submit(self.graph.mark_read, ref.id)))
                elif handled:
                    self.desk.ledger.update(self.account.address, ref.id, {"state": DONE})
                if not handled:
                    watermark_blocked = True
                elif not watermark_blocked:
                    self.account.fetch_watermark = ref.modified or ref.received
            for ref, future in marks:
                if self._marked_read(ref, future):
                    self.desk.ledger.update(self.account.address, ref.id, {"state": DONE})
                    self.checkpoint("marked_read", ref.id)

    def _marked_read(self, ref, future: Future) -> bool:
        """True when the mail is read (or gone); a failure is retried by the next run only,
        because the mail itself is already safely stored."""
        from ..adapters.graph import GraphError

        try:
            future.result()
            return True
        except GraphError as error:
            if _vanished(error):
                return True
            self.desk.syslog.write("warning", "Mark as read failed",
                                   f"{self.account.address}: mail {ref.internet_message_id or ref.id}"
                                   f" is stored but could not be marked read: {error}",
                                   account=self.account.address)
            return False

    # -- listing
    def _new_messages(self, folder: str) -> Iterator:
        window_start = ((self.account.created or datetime.now(timezone.utc))
                        - timedelta(hours=self.settings.fetch_lookback_hours))
        start = self.account.fetch_watermark or window_start
        since = start - timedelta(seconds=self.settings.fetch_overlap_seconds)
        self._to_mark: set[str] = set()
        self._ledger: dict[str, dict] = {}
        wanted = self.account.batch_size
        for ref in self.graph.list_messages(folder, since, top=min(wanted, 100)):
            if ref.received < window_start:
                continue  # mail from before the account was added, touched (read, flagged) now
            row = self.desk.ledger.get(self.account.address, ref.id)
            if row and row.get("state") == DONE:
                continue
            self._ledger[ref.id] = row or {}
            if self.account.mark_as_read and not ref.is_read:
                self._to_mark.add(ref.id)
            yield ref
            wanted -= 1
            if wanted == 0:
                return

    def _downloads(self, pool: ThreadPoolExecutor, refs: list) -> Iterator:
        """Raw MIME downloads (and their raw saves) running a few mails ahead of processing."""
        ahead = self.settings.graph_max_concurrency
        futures: list[Future] = []
        for index, ref in enumerate(refs):
            while len(futures) < min(len(refs), index + ahead):
                futures.append(pool.submit(self._keep_raw, refs[len(futures)]))
            yield ref, futures[index]

    def _keep_raw(self, ref) -> tuple[bytes, str] | None:
        """Download and store the raw MIME; None when the mail was processed in an earlier run."""
        row = self._ledger.get(ref.id, {})
        if row.get("state") == "processed":
            return None
        raw = self.graph.get_mime(ref.id)
        name = (f"{safe_key(self.account.address)}/{ref.received:%Y/%m/%d}/"
                f"{digest(ref.id, 40)}.eml")
        self.desk.blobs.put(RAW_MAIL, name, raw, "message/rfc822",
                            metadata={"graph_id_sha": digest(ref.id, 40)})
        self.desk.ledger.update(self.account.address, ref.id, {
            "state": "raw_saved", "raw_blob": name, "received": ref.received,
            "message_id": clip_message_id(ref.internet_message_id or "")[0],
            "subject": (ref.subject or "")[:500],
        })
        self.checkpoint("raw_saved", ref.id)
        return raw, name

    # -- processing
    def _handle(self, ref, download: Future, ctx: PipelineContext) -> bool:
        """Process one mail; True when it is finished (stored, discarded or quarantined)."""
        row = self._ledger.get(ref.id, {})
        kept = None
        try:
            kept = download.result()
            if kept is None:
                return True  # processed before a crash; only the mark-read is left
            raw, blob_name = kept
            self.summary.fetched += 1
            mail = InboundMail(account=self.account, graph_id=ref.id, received=ref.received,
                               raw_blob=blob_name, parsed=parse_mail(raw))
            run_pipeline(mail, ctx)
        except Exception as error:
            if _vanished(error):
                return self._vanished(ref)
            if _is_transient(error):
                raise TransientError(f"{type(error).__name__}: {error}") from error
            if kept is None:  # not downloaded: nothing kept yet, so never set aside; retry
                self.summary.errors.append(f"mail {ref.internet_message_id or ref.id} not "
                                           f"downloaded: {type(error).__name__}: {error}")
                return False
            return self._failed(ref, row, error)
        self.summary.count(mail.outcome)
        self.desk.ledger.update(self.account.address, ref.id, {
            "state": "processed", "outcome": mail.outcome, "reason": mail.reason[:1000],
            "ticket": mail.ticket.number if mail.ticket else "", "message_id": mail.key,
        })
        if mail.outcome in ("discarded", "ignored", "duplicate"):
            self.desk.syslog.write("info", f"Mail {mail.outcome}",
                                   f"{self.account.address}: {mail.key}: {mail.reason}",
                                   account=self.account.address)
        self.checkpoint("processed", mail.key)
        return True

    def _vanished(self, ref) -> bool:
        """Deleted or moved away between listing and download: nothing left to ingest."""
        self.desk.ledger.update(self.account.address, ref.id, {"state": DONE, "outcome": "vanished"})
        self._to_mark.discard(ref.id)
        self.desk.syslog.write(
            "warning", "Mail vanished",
            f"{self.account.address}: mail {ref.internet_message_id or ref.id} "
            f"({ref.subject!r}) was deleted or moved before it could be downloaded",
            account=self.account.address,
        )
        return True

    def _failed(self, ref, row: dict, error: Exception) -> bool:
        attempts = int(row.get("attempts") or 0) + 1
        message = f"{type(error).__name__}: {error}"[:2000]
        log.exception("processing mail %s of %s failed (attempt %d)", ref.id, self.account.address, attempts)
        if attempts < self.settings.max_processing_attempts:
            self.desk.ledger.update(self.account.address, ref.id, {"attempts": attempts, "error": message})
            self.summary.errors.append(f"mail {ref.internet_message_id or ref.id}: {message}")
            return False
        self.summary.quarantined += 1
        self.desk.ledger.update(self.account.address, ref.id, {
            "state": "processed", "outcome": "quarantined", "attempts": attempts, "error": message,
        })
        self.desk.syslog.write(
            "error", "Mail quarantined",
            f"{self.account.address}: mail {ref.internet_message_id or ref.id} could not be "
            f"processed after {attempts} attempts and was set aside (raw copy kept): {message}",
            account=self.account.address,
        )
        return True

    def _pipeline_context(self) -> PipelineContext:
        desk = self.desk
        return PipelineContext(
            settings=self.settings, index=desk.index, tickets=desk.tickets, blobs=desk.blobs,
            queues=desk.queues, outbox=desk.outbox, syslog=desk.syslog,
            system_addresses=desk.accounts.system_addresses(),
            staff_addresses=desk.directory.staff_addresses(), checkpoint=self.checkpoint,
        )

    def _out_of_time(self) -> bool:
        if self.lease.lost:
            raise TransientError("the fetch lease was lost; another worker may take over")
        return time.monotonic() > self.deadline - DEADLINE_MARGIN_SECONDS
