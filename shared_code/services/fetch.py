"""Fetching mailboxes: the timer fans out one job per account; a worker fetches one account.

Per account and run (the guide's "Email Fetching Schedule"):
1. take the account's lease, so two workers never fetch the same mailbox;
2. list the folder by last change (oldest first) from the account's watermark,
   minus an overlap, regardless of the unread flag, skipping mail the ingest
   ledger has finished: a mail someone opened in Outlook first, or moved into the
   folder days after it arrived, is still ingested, exactly once;
3. for up to `batch_size` new mails, chunk by chunk: count the attempts of the chunk in
   the ledger (one transaction), download the raw MIME and keep it in Blob before
   anything else (downloads run ahead, up to Graph's 4 concurrent requests), run the
   inbound pipeline on up to `FETCH_MAILS_IN_FLIGHT` mails at once (mails of one
   conversation in listing order, domain/conversations.py), mark the mails read, and
   record their final states (one transaction); mails whose earlier attempt never
   finished come last, one at a time;
4. advance the watermark past the mails finished in listing order, record Last Fetch,
   write the run's system-log lines (one transaction per day).
A mail with `max_processing_attempts` counted attempts (failed, or ended the process)
is quarantined (services/quarantine.py), so it never blocks the mailbox. Graph and
storage outages abort the run for this account only, without counting attempts; the
next run retries.
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Callable

from ..adapters.names import FETCH_JOBS, POISON_QUEUES, QUEUES
from ..adapters.table_base import safe_key
from ..domain.model import EmailAccount
from ..domain.telemetry import FetchOutcome, FetchRun, QueueDepth, error_type
from .helpdesk import Helpdesk
from .mailbox_run import MailboxRun

log = logging.getLogger("deskmail.fetch")

LEASE_SECONDS = 60
STALE_JOB_SECONDS = 120
# A run that filled its batch queues the next run at once instead of leaving the rest for the
# next tick; at most this many in a row (then the timer takes over), so a mailbox that never
# empties cannot keep a worker to itself.
MAX_FOLLOW_UPS = 50
LEASE_BUSY = "another worker is fetching this account"


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
    discarded_by_rule: dict[str, int] = field(default_factory=dict)
    more_waiting: bool = False  # the run stopped at batch_size or its time budget

    def count(self, outcome: str, rule: str = "") -> None:
        name = {"duplicate": "duplicates"}.get(outcome, outcome)
        setattr(self, name, getattr(self, name) + 1)
        if name == "discarded":
            key = rule or "other"
            self.discarded_by_rule[key] = self.discarded_by_rule.get(key, 0) + 1

    def telemetry(self, outcome: FetchOutcome, duration_ms: int) -> FetchRun:
        """The run's `deskmail.fetch_run` event (domain/telemetry.py)."""
        return FetchRun(
            account=self.address, outcome=outcome, fetched=self.fetched,
            tickets_created=self.created,
            threaded=self.threaded, discarded=self.discarded, duplicates=self.duplicates,
            ignored=self.ignored, quarantined=self.quarantined, errors=len(self.errors),
            duration_ms=duration_ms, discarded_by_rule=dict(self.discarded_by_rule),
            error_type=error_type(self.errors[-1])
            if outcome is FetchOutcome.FAILED and self.errors else "")

    def as_dict(self) -> dict:
        return asdict(self)


def enqueue_fetch_jobs(desk: Helpdesk) -> int:
    """The timer's work: one queue message per fetchable account."""
    now = datetime.now(timezone.utc).isoformat()
    count = 0
    for account in desk.accounts.list():
        if account.can_fetch:
            desk.queues.send(FETCH_JOBS, {"address": account.address, "scheduled": now})
            count += 1
    report_queue_depths(desk)
    return count


def report_queue_depths(desk: Helpdesk) -> None:
    """Every queue's length as telemetry (the workbook's queue depths, the poison alert)."""
    for queue in QUEUES:
        desk.telemetry.emit(QueueDepth(queue, desk.queues.approximate_count(queue),
                                       queue in POISON_QUEUES))


def run_fetch_job(desk: Helpdesk, job: dict, now: datetime | None = None) -> FetchSummary:
    """The queue worker's work. A job older than STALE_JOB_SECONDS is dropped: when workers
    fall behind, a newer job for the same account is already queued behind it."""
    now = now or datetime.now(timezone.utc)
    scheduled = datetime.fromisoformat(job["scheduled"]) if job.get("scheduled") else now
    if (now - scheduled).total_seconds() > STALE_JOB_SECONDS:
        summary = FetchSummary(address=job["address"])
        summary.skipped = f"stale job from {job['scheduled']}; a newer one follows"
        return summary
    if job.get("push"):
        from .subscriptions import before_fetch_job

        before_fetch_job(desk, job)
    summary = fetch_account(desk, job["address"])
    if job.get("push") and summary.skipped == LEASE_BUSY:
        # a run already listed the folder, maybe before this mail arrived: look again soon
        desk.queues.send(FETCH_JOBS, {**job, "resubscribe": None}, visibility_timeout=2)
    follow_ups = int(job.get("follow_up") or 0)
    if summary.more_waiting and not summary.errors and follow_ups < MAX_FOLLOW_UPS:
        # a backlog (a burst, or mail that arrived while fetching was off): drain it now
        desk.queues.send(FETCH_JOBS, {"address": job["address"], "scheduled": now.isoformat(),
                                      "follow_up": follow_ups + 1})
    return summary


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
    `deadline` is a reading of `clock` (tests pass a controlled one). Every run, whatever
    its outcome, sends one `deskmail.fetch_run` event."""
    started = clock()
    summary = FetchSummary(address=address)
    outcome = FetchOutcome.FAILED  # unless the run says otherwise (a kill is a failure)
    try:
        outcome = _fetch_account(desk, summary, deadline, checkpoint, clock)
    finally:
        desk.telemetry.emit(summary.telemetry(outcome, int((clock() - started) * 1000)))
    return summary


def _fetch_account(desk: Helpdesk, summary: FetchSummary, deadline: float | None,
                   checkpoint: Callable[[str, str], None] | None,
                   clock: Callable[[], float]) -> FetchOutcome:
    address = summary.address
    account = desk.accounts.get(address)
    if account is None:
        summary.errors.append(f"no email account {address}")
        return FetchOutcome.FAILED
    if not account.fetch_enabled:
        summary.skipped = "fetching is disabled for this account"
        return FetchOutcome.SKIPPED
    if not account.can_fetch:
        summary.skipped = "no Microsoft 365 OAuth credentials configured"
        return FetchOutcome.SKIPPED
    deadline = deadline or clock() + desk.settings.fetch_time_budget_seconds
    lease = desk.blobs.acquire_lease(safe_key(account.address), LEASE_SECONDS)
    if lease is None:
        summary.skipped = LEASE_BUSY
        return FetchOutcome.SKIPPED
    runlog = desk.syslog.buffered()  # the run's lines, written together at its end
    try:
        MailboxRun(desk, account, summary, deadline, lease, checkpoint, clock, runlog).run()
        _record_success(desk, account, summary, runlog)
        return FetchOutcome.SUCCESS
    except Exception as error:  # one broken account must not stop the others
        _record_failure(desk, account, summary, error, runlog)
        return FetchOutcome.FAILED
    finally:
        lease.release()


def _record_success(desk: Helpdesk, account: EmailAccount, summary: FetchSummary,
                    runlog) -> None:
    account.last_fetch = datetime.now(timezone.utc)
    account.consecutive_failures = 0
    desk.accounts.save_fetch_state(account)
    if summary.fetched:
        runlog.write(
            "info", "Mail fetched",
            f"{account.address}: {summary.fetched} fetched, {summary.created} new tickets, "
            f"{summary.threaded} replies, {summary.discarded} discarded, "
            f"{summary.duplicates} duplicates, {summary.ignored} ignored, "
            f"{summary.quarantined} quarantined",
            account=account.address,
        )
    runlog.flush()
    log.info("fetched %s: %s", account.address, summary.as_dict())


def _record_failure(desk: Helpdesk, account: EmailAccount, summary: FetchSummary,
                    error: Exception, runlog) -> None:
    message = f"{type(error).__name__}: {error}"
    summary.errors.append(message)
    account.last_error = message
    account.last_error_time = datetime.now(timezone.utc)
    account.consecutive_failures += 1
    try:
        desk.accounts.save_fetch_state(account)
        desk.syslog.write("error", "Mail fetch failed", f"{account.address}: {message}",
                          account=account.address)
        runlog.flush()
    except Exception:  # storage itself is down: the Functions log still has it
        log.exception("could not record the fetch failure of %s", account.address)
    log.error("fetch of %s failed: %s", account.address, message)


