"""Fetching mailboxes: the timer fans out one job per account; a worker fetches one account.

Per account and run (the guide's "Email Fetching Schedule"):
1. take the account's lease, so two workers never fetch the same mailbox;
2. list the folder by last change (oldest first) from the account's watermark,
   minus an overlap, regardless of the unread flag, skipping mail the ingest
   ledger has finished: a mail someone opened in Outlook first, or moved into the
   folder days after it arrived, is still ingested, exactly once;
3. for up to `batch_size` new mails: count the attempt in the ledger, download the
   raw MIME and keep it in Blob before anything else (downloads run ahead, up to
   Graph's 4 concurrent requests), run the inbound pipeline, then mark the mail read;
   mails whose earlier attempt never finished come last, one at a time;
4. advance the watermark past the mails handled in order, record Last Fetch.
A mail with `max_processing_attempts` counted attempts (failed, or ended the process)
is quarantined (services/quarantine.py), so it never blocks the mailbox. Graph and
storage outages abort the run for this account only, without counting attempts; the
next run retries.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterator

from ..adapters.blobs import RAW_MAIL
from ..adapters.queues import FETCH_JOBS
from ..adapters.tables import clip, digest, safe_key
from ..domain.ingest import (
    IngestState,
    QuarantineState,
    download_failures_are_the_mails,
    is_suspect,
)
from ..domain.limits import clip_message_id
from ..domain.mail import parse_mail
from ..domain.model import EmailAccount
from ..pipeline import InboundMail, PipelineContext, run_pipeline
from .helpdesk import Helpdesk
from .quarantine import release, set_aside

log = logging.getLogger("deskmail.fetch")

LEASE_SECONDS = 60
STALE_JOB_SECONDS = 120
# no new mail is started this close to the deadline: its processing must still fit
DEADLINE_MARGIN_SECONDS = 2
DONE = IngestState.DONE.value


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
                  checkpoint: Callable[[str, str], None] | None = None,
                  clock: Callable[[], float] = time.monotonic) -> FetchSummary:
    """Fetch one account; never raises for the account's own failures (they are recorded).
    `deadline` is a reading of `clock` (tests pass a controlled one)."""
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
    deadline = deadline or clock() + desk.settings.fetch_time_budget_seconds
    lease = desk.blobs.acquire_lease(safe_key(account.address), LEASE_SECONDS)
    if lease is None:
        summary.skipped = "another worker is fetching this account"
        return summary
    try:
        _MailboxRun(desk, account, summary, deadline, lease, checkpoint, clock).run()
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


class _DownloadFailed(Exception):
    """Graph could not serve a mail's raw MIME (the error is `error`)."""

    def __init__(self, error: Exception):
        super().__init__(str(error))
        self.error = error


class _Ahead:
    """Raw MIME downloads (and their raw saves) running a few mails ahead of processing:
    mail i's turn starts the downloads of mails i .. i+ahead-1 not started yet."""

    def __init__(self, pool: ThreadPoolExecutor, keep_raw, refs: list, ahead: int):
        self.pool, self.keep_raw, self.refs, self.ahead = pool, keep_raw, refs, ahead
        self.futures: list[Future] = []

    def download(self, index: int) -> Future:
        while len(self.futures) < min(len(self.refs), index + self.ahead):
            self.futures.append(self.pool.submit(self.keep_raw, self.refs[len(self.futures)]))
        return self.futures[index]


class _MailboxRun:
    """One fetch run of one account.

    Attempts: each mail's attempt is counted in the ledger when its turn comes, before its
    download, raw save and pipeline are awaited, so a run that dies on it (crash, out of
    memory, the function time-out) has counted it. Mails with an unfinished attempt
    ("suspects") are tried after the others and alone: no other mail's download runs ahead
    then, so a death during their turn is their own. A mail with `max_processing_attempts`
    counted attempts is quarantined (services/quarantine.py) whatever stage it reached.
    """

    def __init__(self, desk: Helpdesk, account: EmailAccount, summary: FetchSummary,
                 deadline: float, lease, checkpoint: Callable[[str, str], None] | None,
                 clock: Callable[[], float] = time.monotonic):
        self.desk, self.account, self.summary = desk, account, summary
        self.deadline, self.lease, self.clock = deadline, lease, clock
        self.checkpoint = checkpoint or (lambda step, mail: None)
        self.settings = desk.settings
        self.max_attempts = self.settings.max_processing_attempts
        self._ok_lock = threading.Lock()
        self._downloads_ok = 0
        self._failed_downloads: list[tuple[object, int, Exception]] = []
        self._sent_back: dict[str, tuple[str, str]] = {}  # graph id -> (quarantine id, state)
        self._probed: dict[str, bool | None] = {}  # graph id -> does Graph still read it

    def run(self) -> None:
        from ..adapters.graph import GraphMailClient

        secret = self.desk.secrets.get(self.account.client_secret_name)
        self.graph = GraphMailClient(self.settings, self.account, secret, deadline=self.deadline,
                                     clock=self.clock)
        folder = self.graph.resolve_folder(self.account.folder)
        listed = list(self._new_messages(folder))
        sent_back = self._sent_back_refs()
        listed = [ref for ref in listed if ref.id not in self._sent_back]
        fresh = [ref for ref in listed if not is_suspect(self._ledger[ref.id])]
        suspects = [ref for ref in listed if is_suspect(self._ledger[ref.id])] + sent_back
        ctx = self._pipeline_context()
        handled: dict[str, bool | None] = {}
        marks: list[tuple[object, Future]] = []
        with ThreadPoolExecutor(max_workers=self.settings.graph_max_concurrency) as pool:
            self._pool = pool
            ahead = _Ahead(pool, self._keep_raw, fresh, self.settings.graph_max_concurrency)
            for index, ref in enumerate(fresh):
                if self._out_of_time():
                    break
                handled[ref.id] = self._turn(ref, lambda i=index: ahead.download(i), ctx)
                self._finish(ref, handled[ref.id], marks)
            for ref in suspects:  # alone: nothing else downloads while one is worked on
                if self._out_of_time():
                    break
                handled[ref.id] = self._turn(ref, lambda r=ref: pool.submit(self._keep_raw, r), ctx)
                self._finish(ref, handled[ref.id], marks)
            outage = self._settle_failed_downloads(handled)
            for ref, _, _ in self._failed_downloads:
                self._finish(ref, handled[ref.id], marks)
            for ref, future in marks:
                if self._marked_read(ref, future):
                    self.desk.ledger.update(self.account.address, ref.id, {"state": DONE})
                    self.checkpoint("marked_read", ref.id)
        for ref in listed:  # the watermark passes the mails finished in listing order
            if not handled.get(ref.id):
                break
            self.account.fetch_watermark = ref.modified or ref.received
        if outage:
            raise TransientError(outage)

    def _finish(self, ref, handled: bool | None, marks: list) -> None:
        if handled and ref.id in self._to_mark:
            marks.append((ref, self._pool.submit(self.graph.mark_read, ref.id)))
        elif handled:
            self.desk.ledger.update(self.account.address, ref.id, {"state": DONE})

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
            self._ledger[ref.id] = dict(row or {})
            if self.account.mark_as_read and not ref.is_read:
                self._to_mark.add(ref.id)
            yield ref
            wanted -= 1
            if wanted == 0:
                return

    def _sent_back_refs(self) -> list:
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
            if row.get("state") == QuarantineState.RETRY.value:  # one more attempt than the limit
                ledger_row["attempts"] = self.max_attempts - 1
            self._ledger[graph_id] = ledger_row
            self._sent_back[graph_id] = (row["RowKey"], row.get("state", ""))
            self._to_mark.discard(graph_id)
            refs.append(GraphMessageRef(
                id=graph_id, internet_message_id=row.get("message_id") or None,
                received=row["received"], is_read=True, subject=row.get("subject"),
                from_address=row.get("from_email") or None, from_name=row.get("from_name") or None))
        return refs

    def _raw_name(self, ref) -> str:
        return (f"{safe_key(self.account.address)}/{ref.received:%Y/%m/%d}/"
                f"{digest(ref.id, 40)}.eml")

    def _keep_raw(self, ref) -> tuple[bytes, str] | None:
        """Download and store the raw MIME; None when the mail was processed in an earlier run."""
        from ..adapters.graph import GraphError

        if self._ledger.get(ref.id, {}).get("state") == IngestState.PROCESSED.value:
            return None
        try:
            raw = self.graph.get_mime(ref.id)
        except GraphError as error:
            raise _DownloadFailed(error) from error
        with self._ok_lock:
            self._downloads_ok += 1
        name = self._raw_name(ref)
        self.desk.blobs.put(RAW_MAIL, name, raw, "message/rfc822",
                            metadata={"graph_id_sha": digest(ref.id, 40)})
        self.checkpoint("raw_saved", ref.id)
        return raw, name

    # -- processing
    def _turn(self, ref, start_download: Callable[[], Future], ctx: PipelineContext
              ) -> bool | None:
        """Count an attempt, then download and process one mail (`start_download` is called
        after the count, so no download of a mail starts before its own or an earlier mail's
        attempt is counted). True when it is finished (stored, discarded, vanished or
        quarantined), False when the next run tries again, None when its download failed and
        the end of the run decides whether that counts (see `_settle_failed_downloads`)."""
        row = self._ledger.get(ref.id, {})
        if row.get("state") == IngestState.PROCESSED.value:
            return True  # processed before a crash; only the mark-read is left
        attempts = int(row.get("attempts") or 0)
        if attempts >= self.max_attempts:  # every attempt so far ended the run
            return self._set_aside(ref, attempts, self._died(row, attempts))
        attempt = attempts + 1
        self._count_attempt(ref, attempt)
        try:
            kept = start_download().result()
            if kept is None:
                return True
            raw, blob_name = kept
            self.summary.fetched += 1
            mail = InboundMail(account=self.account, graph_id=ref.id, received=ref.received,
                               raw_blob=blob_name, parsed=parse_mail(raw))
            self.checkpoint("parsed", ref.id)
            run_pipeline(mail, ctx)
        except _DownloadFailed as failed:
            return self._download_failed(ref, attempt, failed.error)
        except Exception as error:
            if _is_transient(error):  # storage is failing: not this mail's fault
                self._not_counted(ref, attempt, error)
                raise TransientError(f"{type(error).__name__}: {error}") from error
            return self._failed(ref, attempt, error)
        self.summary.count(mail.outcome)
        self.desk.ledger.update(self.account.address, ref.id, {
            "state": IngestState.PROCESSED.value, "outcome": mail.outcome,
            "reason": mail.reason[:1000], "ticket": mail.ticket.number if mail.ticket else "",
            "message_id": mail.key,
        })
        if mail.outcome in ("discarded", "ignored", "duplicate"):
            self.desk.syslog.write("info", f"Mail {mail.outcome}",
                                   f"{self.account.address}: {mail.key}: {mail.reason}",
                                   account=self.account.address)
        self.checkpoint("processed", mail.key)
        if ref.id in self._sent_back:
            release(self.desk, self.account.address, self._sent_back[ref.id][0], mail.outcome,
                    mail.ticket.number if mail.ticket else "")
        return True

    def _count_attempt(self, ref, attempt: int) -> None:
        """The one ledger write of an attempt; it also keeps what an admin needs to find the
        mail should it end in quarantine before anything was downloaded."""
        self.desk.ledger.update(self.account.address, ref.id, {
            "state": IngestState.ATTEMPTING.value, "attempts": attempt, "received": ref.received,
            "message_id": clip_message_id(ref.internet_message_id or "")[0],
            "subject": clip(ref.subject or "", 500),
            "from_name": clip(ref.from_name or "", 500), "from_email": clip(ref.from_address or "", 500),
            "raw_blob": self._raw_name(ref),
        })
        if self._sent_back.get(ref.id, ("", ""))[1] == QuarantineState.RETRY.value:
            self.desk.quarantine.update(self._sent_back[ref.id][0], {
                "state": QuarantineState.RETRYING, "retry_started_at": datetime.now(timezone.utc)})

    def _download_failed(self, ref, attempt: int, error: Exception) -> bool | None:
        """A 404 for a mail that is gone is settled now (it vanished); any other failure waits
        for the end of the run, which knows whether Graph served the other mails."""
        from ..adapters.graph import GraphAuthError, GraphError

        if isinstance(error, GraphAuthError):  # the account's credentials, not the mail
            self._not_counted(ref, attempt, error)
            raise TransientError(f"{type(error).__name__}: {error}") from error
        if isinstance(error, GraphError) and error.status == 404:
            self._probed[ref.id] = self._exists(ref)
            if self._probed[ref.id] is False:
                return self._vanished(ref)
        self._failed_downloads.append((ref, attempt, error))
        return None

    def _exists(self, ref) -> bool | None:
        """Whether Graph still reads the mail's properties (None: it answered neither way)."""
        from ..adapters.graph import GraphError

        if ref.id in self._probed:
            return self._probed[ref.id]
        try:
            return self.graph.message_exists(ref.id)
        except GraphError:
            return None

    def _settle_failed_downloads(self, handled: dict) -> str:
        """Charge the failed downloads to their mails, or call it an outage (nothing charged).
        Returns the outage's description, empty when there was none."""
        failed = self._failed_downloads
        if not failed:
            return ""
        probe_ok = False
        if len(failed) == 1 and self._downloads_ok == 0:
            exists = self._exists(failed[0][0])
            if exists is False:
                handled[failed[0][0].id] = self._vanished(failed[0][0])
                return ""
            probe_ok = bool(exists)
        if download_failures_are_the_mails(len(failed), self._downloads_ok, probe_ok):
            for ref, attempt, error in failed:
                handled[ref.id] = self._failed(ref, attempt, error)
            return ""
        for ref, attempt, error in failed:
            self._not_counted(ref, attempt, error)
            handled[ref.id] = False
        return (f"Graph served the content of none of {len(failed)} mail(s) in this run, so "
                f"no attempt was counted (an outage, not the mails): {failed[0][2]}")

    def _not_counted(self, ref, attempt: int, error: Exception) -> None:
        """Take back an attempt that an outage, not the mail, ended (best effort: storage may
        be the thing that is down)."""
        try:
            self.desk.ledger.update(self.account.address, ref.id, {
                "attempts": attempt - 1,
                "error": f"not counted (outage): {type(error).__name__}: {error}"[:2000]})
        except Exception:
            log.exception("could not take back the attempt on mail %s", ref.id)

    def _vanished(self, ref) -> bool:
        """Deleted between listing and download: nothing left to ingest."""
        self.desk.ledger.update(self.account.address, ref.id, {"state": DONE, "outcome": "vanished"})
        self._to_mark.discard(ref.id)
        if ref.id in self._sent_back:
            release(self.desk, self.account.address, self._sent_back[ref.id][0], "vanished")
        self.desk.syslog.write(
            "warning", "Mail vanished",
            f"{self.account.address}: mail {ref.internet_message_id or ref.id} "
            f"({ref.subject!r}) was deleted before it could be downloaded",
            account=self.account.address,
        )
        return True

    def _failed(self, ref, attempt: int, error: Exception) -> bool:
        message = f"{type(error).__name__}: {error}"[:2000]
        log.warning("mail %s of %s failed (attempt %d): %s", ref.id, self.account.address,
                    attempt, message)
        if attempt < self.max_attempts:
            self.desk.ledger.update(self.account.address, ref.id, {"error": message})
            self.summary.errors.append(f"mail {ref.internet_message_id or ref.id}: {message}")
            return False
        return self._set_aside(ref, attempt, message)

    def _set_aside(self, ref, attempts: int, message: str) -> bool:
        name = self._raw_name(ref)
        raw_blob = name if self.desk.blobs.exists(RAW_MAIL, name) else ""
        set_aside(self.desk, self.account.address, ref, attempts, message, raw_blob)
        self.summary.quarantined += 1
        return True

    @staticmethod
    def _died(row: dict, attempts: int) -> str:
        text = (f"each of its {attempts} attempts ended the fetch run before it finished "
                f"(process crash, out of memory or the function time-out)")
        return f"{text}; earlier error: {row['error']}" if row.get("error") else text

    def _pipeline_context(self) -> PipelineContext:
        desk = self.desk
        return PipelineContext(
            settings=self.settings, index=desk.index, tickets=desk.tickets, blobs=desk.blobs,
            queues=desk.queues, syslog=desk.syslog,
            system_addresses=desk.accounts.system_addresses(),
            staff_addresses=desk.directory.staff_addresses(), checkpoint=self.checkpoint,
        )

    def _out_of_time(self) -> bool:
        if self.lease.lost:
            raise TransientError("the fetch lease was lost; another worker may take over")
        return self.clock() > self.deadline - DEADLINE_MARGIN_SECONDS
