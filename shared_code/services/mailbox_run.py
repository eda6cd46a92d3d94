"""One fetch run of one mailbox (services/fetch.py takes the lease and records the run): the
chunks with their attempt and state transactions, the mails in flight with conversations in
order, the downloads running ahead, mark-read, the watermark. Its collaborators: the listing
(mailbox_listing.py), the ledger bookkeeping (mailbox_attempts.py), the settlement of mails
that did not get through (mailbox_settlement.py), the failure classes (mailbox_errors.py).
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Callable, Iterator

from ..adapters.names import RAW_MAIL
from ..adapters.table_base import digest
from ..domain.conversations import ConversationOrder, conversation_ids
from ..domain.ingest import IngestState, is_suspect
from ..domain.mail import parse_mail
from ..domain.model import EmailAccount
from ..pipeline import InboundMail, PipelineContext, run_pipeline
from .helpdesk import Helpdesk
from .mailbox_attempts import Attempts, charged, raw_name
from .mailbox_errors import DownloadFailed, Stopped, TransientError, is_transient, is_vanished
from .mailbox_listing import Listing
from .mailbox_settlement import Settlement
from .quarantine import release

if TYPE_CHECKING:
    from .fetch import FetchSummary

__all__ = ["DEADLINE_MARGIN_SECONDS", "MailboxRun", "chunks"]

# no new mail is started this close to the deadline: its processing must still fit
DEADLINE_MARGIN_SECONDS = 2
DONE = IngestState.DONE.value
# attempts counted per transaction: the first mail of a run alone (a mail that ends the
# process is then charged alone), then chunks growing to CHUNK_LIMIT
FIRST_CHUNK, CHUNK_GROWTH, CHUNK_LIMIT = 1, 4, 32


def chunks(refs: list, first: int = FIRST_CHUNK, growth: int = CHUNK_GROWTH,
           limit: int = CHUNK_LIMIT) -> Iterator[list]:
    """The listed mails in chunks of 1, 4, 16, 32, 32, ... (listing order kept)."""
    size, start = first, 0
    while start < len(refs):
        yield refs[start:start + size]
        start += size
        size = min(limit, size * growth)


class _Ahead:
    """Raw MIME downloads (and their raw saves) running a few mails ahead of processing:
    mail i's turn starts the downloads of mails i .. i+ahead-1 not started yet. Only the
    mails of one counted chunk are given, so no download starts before its attempt is
    counted."""

    def __init__(self, pool: ThreadPoolExecutor, keep_raw, refs: list, ahead: int):
        self.pool, self.keep_raw, self.refs, self.ahead = pool, keep_raw, refs, ahead
        self.futures: list[Future] = []

    def download(self, index: int) -> Future:
        while len(self.futures) < min(len(self.refs), index + self.ahead):
            self.futures.append(self.pool.submit(self.keep_raw, self.refs[len(self.futures)]))
        return self.futures[index]


class MailboxRun:
    """One fetch run of one account.

    Attempts: the attempts of a chunk of mails are counted in the ledger (one transaction)
    before any of their downloads, raw saves and pipelines start, so a run that dies on one
    (crash, out of memory, the function time-out) has counted it. Mails with an unfinished
    attempt ("suspects") are tried after the others and alone (a chunk of one: no other
    mail's download or pipeline runs then), so a death during their turn is their own. An
    attempt counted in a chunk of several mails (`shared`) that died is not charged to the
    mail: which one ended the run is unknown, and each is retried alone. A mail with
    `max_processing_attempts` charged attempts is quarantined (services/quarantine.py)
    whatever stage it reached. The ledger's other state changes of a chunk (processed, done,
    errors) are written in one transaction after it.
    """

    def __init__(self, desk: Helpdesk, account: EmailAccount, summary: FetchSummary,
                 deadline: float, lease, checkpoint: Callable[[str, str], None] | None,
                 clock: Callable[[], float] = time.monotonic, runlog=None):
        self.desk, self.account, self.summary = desk, account, summary
        self.deadline, self.lease, self.clock = deadline, lease, clock
        self.checkpoint = checkpoint or (lambda step, mail: None)
        self.runlog = runlog or desk.syslog
        self.settings = desk.settings
        self.max_attempts = self.settings.max_processing_attempts
        self.in_flight = self.settings.fetch_mails_in_flight
        self._lock = threading.Lock()  # the summary, the failed downloads, the changes
        self._stopped = False  # a mail's pipeline ended the run (BaseException)
        self._marks: dict[str, Future] = {}  # mark-reads started by the workers, by Graph id

    def run(self) -> None:
        self.graph = self.desk.mail_client(self.account, deadline=self.deadline, clock=self.clock)
        self.listing = Listing(self.desk, self.account, self.graph, self.max_attempts)
        self.attempts = Attempts(self.desk, self.account.address, self.listing,
                                 self.max_attempts, self.checkpoint, self._lock)
        self.settlement = Settlement(self.desk, self.account, self.graph, self.listing,
                                     self.attempts, self.summary, self.runlog,
                                     self.max_attempts, self._lock)
        folder = self.graph.resolve_folder(self.account.folder)
        listed = list(self.listing.new_messages(folder))
        self.summary.more_waiting = self.listing.full
        sent_back = self.listing.sent_back_refs()
        ledger = self.listing.ledger
        listed = [ref for ref in listed if ref.id not in self.listing.sent_back]
        fresh = [ref for ref in listed if not is_suspect(ledger[ref.id])]
        suspects = sorted((ref for ref in listed if is_suspect(ledger[ref.id])),
                          key=lambda ref: charged(ledger[ref.id])) + sent_back
        ctx = self._pipeline_context(with_mail=bool(fresh or suspects))
        handled: dict[str, bool | None] = {}
        try:
            with ThreadPoolExecutor(max_workers=self.settings.graph_max_concurrency) as pool, \
                    ThreadPoolExecutor(max_workers=self.in_flight) as workers:
                self._pool, self._workers = pool, workers
                runs = [(chunk, False) for chunk in chunks(fresh)] + [([r], True) for r in suspects]
                for chunk, alone in runs:
                    if self._out_of_time():
                        self.summary.more_waiting = True  # the rest is listed again next run
                        break
                    self._chunk(chunk, ctx, handled, shared=len(chunk) > 1 and not alone)
                outage = self.settlement.settle_failed_downloads(handled)
                marks: list[tuple[object, Future]] = []
                for ref, _, _ in self.settlement.failed_downloads:
                    self._finish(ref, handled[ref.id], marks)
                self._settle_marks(marks)
        except Exception:
            self.attempts.flush(best_effort=True)  # what finished stays finished
            raise
        for ref in self.listing.listing:  # the watermark passes the mails finished in order
            if ref.id not in self.listing.finished_before and not handled.get(ref.id):
                break
            self.account.fetch_watermark = ref.modified or ref.received
        if outage:
            raise TransientError(outage)

    # -- one chunk
    def _chunk(self, chunk: list, ctx: PipelineContext, handled: dict, shared: bool) -> None:
        """Count the chunk's attempts (one transaction), work its mails (up to `in_flight`
        at once, conversations in order), mark them read, write their states (one
        transaction)."""
        attempts = self.attempts.count(chunk, shared)
        ahead = _Ahead(self._pool, self._keep_raw, chunk, self.settings.graph_max_concurrency)
        order = ConversationOrder()
        slots = threading.BoundedSemaphore(self.in_flight)
        work: dict[int, Future] = {}
        for index, ref in enumerate(chunk):
            slots.acquire()  # a free slot first: the clock is read when the mail would start
            if self._stopped or (index and self._out_of_time()):
                slots.release()
                for later in chunk[index:]:  # not started: its attempt is taken back
                    if later.id in attempts:
                        self.attempts.change(later.id, {"attempts": attempts[later.id] - 1})
                    handled[later.id] = False
                break
            prepared = self._prepare(ref, attempts.get(ref.id), lambda i=index: ahead.download(i))
            if not isinstance(prepared, InboundMail):
                slots.release()
                handled[ref.id] = prepared
                continue
            parsed = prepared.parsed
            waits = [work[i] for i in order.add(index, conversation_ids(
                parsed.message_id, parsed.in_reply_to, parsed.references))]
            work[index] = self._workers.submit(self._process_after, ref, attempts[ref.id],
                                               prepared, ctx, waits, slots)
        self._collect(chunk, work, handled)
        marks: list[tuple[object, Future]] = []
        for ref in chunk:
            self._finish(ref, handled.get(ref.id), marks)
        self._settle_marks(marks)

    @staticmethod
    def _collect(chunk: list, work: dict[int, Future], handled: dict) -> None:
        """Wait for every worker of the chunk; a kill (BaseException) wins over an error."""
        killed = failed = None
        for index, future in work.items():
            error = future.exception()
            if error is None:
                handled[chunk[index].id] = future.result()
            elif not isinstance(error, Exception):
                killed = killed or error
            elif not isinstance(error, Stopped):
                failed = failed or error
        if killed or failed:
            raise killed or failed

    def _finish(self, ref, handled: bool | None, marks: list) -> None:
        """A finished mail's mark-read: started by its worker as soon as its pipeline ended
        (Graph works while the chunk's other mails are stored), else here."""
        if handled and ref.id in self.listing.to_mark:
            future = self._marks.pop(ref.id, None)
            marks.append((ref, future or self._pool.submit(self.graph.mark_read, ref.id)))
        elif handled:
            self.attempts.change(ref.id, {"state": DONE})

    def _settle_marks(self, marks: list) -> None:
        """Wait for the mark-reads, then write the states of the chunk (one transaction)."""
        read = [ref for ref, future in marks if self._marked_read(ref, future)]
        for ref in read:
            self.attempts.change(ref.id, {"state": DONE})
            self.checkpoint("read_not_recorded", ref.id)
        self.attempts.flush()
        for ref in read:
            self.checkpoint("marked_read", ref.id)

    def _marked_read(self, ref, future: Future) -> bool:
        """True when the mail is read (or gone); a failure is retried by the next run only,
        because the mail itself is already safely stored."""
        from ..adapters.graph import GraphError

        try:
            future.result()
            return True
        except GraphError as error:
            if is_vanished(error):
                return True
            self.runlog.write("warning", "Mark as read failed",
                              f"{self.account.address}: mail {ref.internet_message_id or ref.id}"
                              f" is stored but could not be marked read: {error}",
                              account=self.account.address)
            return False

    def _keep_raw(self, ref) -> tuple[bytes, str] | None:
        """Download and store the raw MIME; None when the mail was processed in an earlier run."""
        from ..adapters.graph import GraphError

        if self.listing.ledger.get(ref.id, {}).get("state") == IngestState.PROCESSED.value:
            return None
        try:
            raw = self.graph.get_mime(ref.id)
        except GraphError as error:
            raise DownloadFailed(error) from error
        self.settlement.downloaded()
        name = raw_name(self.account.address, ref)
        self.desk.blobs.put(RAW_MAIL, name, raw, "message/rfc822",
                            metadata={"graph_id_sha": digest(ref.id, 40)})
        self.checkpoint("raw_saved", ref.id)
        return raw, name

    # -- processing
    def _prepare(self, ref, attempt: int | None, start_download: Callable[[], Future]
                 ) -> InboundMail | bool | None:
        """In listing order: download (started after the chunk's count) and parse one mail.
        The parsed mail, or what its turn came to without the pipeline: True when it is
        finished (processed earlier, vanished or quarantined), False when the next run tries
        again, None when its download failed and the end of the run decides whether that
        counts (see `Settlement.settle_failed_downloads`)."""
        row = self.listing.ledger.get(ref.id, {})
        if row.get("state") == IngestState.PROCESSED.value:
            return True  # processed before a crash; only the mark-read is left
        if attempt is None:  # every attempt so far ended the run
            held = charged(row)
            return self.settlement.set_aside(ref, held, Settlement.died(row, held))
        try:
            kept = start_download().result()
            if kept is None:
                return True
            raw, blob_name = kept
            with self._lock:
                self.summary.fetched += 1
            mail = InboundMail(account=self.account, graph_id=ref.id, received=ref.received,
                               raw_blob=blob_name, parsed=parse_mail(raw))
            self.checkpoint("parsed", ref.id)
            return mail
        except DownloadFailed as failed:
            return self.settlement.download_failed(ref, attempt, failed.error)
        except Exception as error:
            if is_transient(error):  # storage is failing: not this mail's fault
                self.attempts.not_counted(ref, attempt, error)
                raise TransientError(f"{type(error).__name__}: {error}") from error
            return self.settlement.failed(ref, attempt, error)

    def _process_after(self, ref, attempt: int, mail: InboundMail, ctx: PipelineContext,
                       waits: list[Future], slots) -> bool:
        """A worker's part: after the earlier mails of its conversation, the pipeline. A mail
        whose conversation's earlier mail did not finish waits for the next run (so a reply
        never overtakes the mail it answers)."""
        try:
            for earlier in waits:
                try:
                    finished = earlier.result()
                except BaseException:
                    finished = False
                if not finished:
                    self.attempts.change(ref.id, {"attempts": attempt - 1})
                    return False
            if self._stopped:
                raise Stopped()
            finished = self._process(ref, attempt, mail, ctx)
            if finished and ref.id in self.listing.to_mark:  # overlaps the chunk's other mails
                self._marks[ref.id] = self._pool.submit(self.graph.mark_read, ref.id)
            return finished
        except Exception:
            raise
        except BaseException:  # a kill (tests raise one): start nothing more
            self._stopped = True
            raise
        finally:
            slots.release()

    def _process(self, ref, attempt: int, mail: InboundMail, ctx: PipelineContext) -> bool:
        try:
            run_pipeline(mail, ctx)
        except Exception as error:
            if is_transient(error):  # storage is failing: not this mail's fault
                self.attempts.not_counted(ref, attempt, error)
                raise TransientError(f"{type(error).__name__}: {error}") from error
            return self.settlement.failed(ref, attempt, error)
        with self._lock:
            self.summary.count(mail.outcome, mail.discard_rule)
        state = {
            "state": IngestState.PROCESSED.value, "outcome": mail.outcome,
            "reason": mail.reason[:1000], "rule": mail.rule,
            "ticket": mail.ticket.number if mail.ticket else "", "message_id": mail.key,
            "shared": False,
        }
        sent_back = self.listing.sent_back
        if ref.id in sent_back:  # written at once: the release below relies on it
            self.desk.ledger.update(self.account.address, ref.id, state)
        else:
            self.attempts.change(ref.id, state)
        if mail.outcome in ("discarded", "ignored", "duplicate"):
            self.runlog.write("info", f"Mail {mail.outcome}",
                              f"{self.account.address}: {mail.key}: {mail.reason}",
                              account=self.account.address)
        self.checkpoint("processed", mail.key)
        if ref.id in sent_back:
            release(self.desk, self.account.address, sent_back[ref.id][0], mail.outcome,
                    mail.ticket.number if mail.ticket else "")
        return True

    def _pipeline_context(self, with_mail: bool = True) -> PipelineContext:
        """The rules' ports; the admins' filters (one query) and the thread-marker keys are
        read only when there is mail."""
        desk = self.desk
        staff = [member for member in desk.directory.list_staff() if member.active]
        return PipelineContext(
            settings=self.settings, index=desk.index, tickets=desk.tickets, blobs=desk.blobs,
            queues=desk.queues, syslog=self.runlog,
            system_addresses=desk.accounts.system_addresses(),
            staff_addresses={member.email for member in staff},
            staff_names={member.email.lower(): member.name for member in staff},
            checkpoint=self.checkpoint,
            telemetry=desk.telemetry, undeliverable=desk.undeliverable,
            filters=desk.filters.list() if with_mail else [],
            thread_keys=desk.thread_keys(required=False) if with_mail else None,
        )

    def _out_of_time(self) -> bool:
        if self.lease.lost:
            raise TransientError("the fetch lease was lost; another worker may take over")
        return self.clock() > self.deadline - DEADLINE_MARGIN_SECONDS
