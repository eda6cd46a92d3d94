"""One fetch run of one mailbox (services/fetch.py takes the lease and records the run):
the listing and its ledger window, the chunks with their attempt and state transactions, the
mails in flight with conversations in order, failed downloads versus outages, the watermark.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Callable, Iterator

from ..adapters.blobs import RAW_MAIL
from ..adapters.tables import clip, digest, safe_key
from ..domain.conversations import ConversationOrder, conversation_ids
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

if TYPE_CHECKING:
    from .fetch import FetchSummary

log = logging.getLogger("deskmail.fetch")

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


class _DownloadFailed(Exception):
    """Graph could not serve a mail's raw MIME (the error is `error`)."""

    def __init__(self, error: Exception):
        super().__init__(str(error))
        self.error = error


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


class _Stopped(Exception):
    """Another mail of the chunk ended the run (a kill, in tests): start nothing more."""


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
        self._downloads_ok = 0
        self._failed_downloads: list[tuple[object, int, Exception]] = []
        self._sent_back: dict[str, tuple[str, str]] = {}  # graph id -> (quarantine id, state)
        self._probed: dict[str, bool | None] = {}  # graph id -> does Graph still read it
        self._changes: dict[str, dict] = {}  # graph id -> ledger fields not written yet
        self._stopped = False  # a mail's pipeline ended the run (BaseException)

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
        suspects = sorted((ref for ref in listed if is_suspect(self._ledger[ref.id])),
                          key=lambda ref: self._charged(self._ledger[ref.id])) + sent_back
        ctx = self._pipeline_context()
        handled: dict[str, bool | None] = {}
        try:
            with ThreadPoolExecutor(max_workers=self.settings.graph_max_concurrency) as pool, \
                    ThreadPoolExecutor(max_workers=self.in_flight) as workers:
                self._pool, self._workers = pool, workers
                runs = [(chunk, False) for chunk in chunks(fresh)] + [([r], True) for r in suspects]
                for chunk, alone in runs:
                    if self._out_of_time():
                        break
                    self._chunk(chunk, ctx, handled, shared=len(chunk) > 1 and not alone)
                outage = self._settle_failed_downloads(handled)
                marks: list[tuple[object, Future]] = []
                for ref, _, _ in self._failed_downloads:
                    self._finish(ref, handled[ref.id], marks)
                self._settle_marks(marks)
        except Exception:
            self._flush(best_effort=True)  # what finished stays finished
            raise
        for ref in self._listing:  # the watermark passes the mails finished in listing order
            if ref.id not in self._finished_before and not handled.get(ref.id):
                break
            self.account.fetch_watermark = ref.modified or ref.received
        if outage:
            raise TransientError(outage)

    # -- one chunk
    def _chunk(self, chunk: list, ctx: PipelineContext, handled: dict, shared: bool) -> None:
        """Count the chunk's attempts (one transaction), work its mails (up to `in_flight`
        at once, conversations in order), mark them read, write their states (one
        transaction)."""
        attempts = self._count_attempts(chunk, shared)
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
                        self._change(later.id, {"attempts": attempts[later.id] - 1})
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
            elif not isinstance(error, _Stopped):
                failed = failed or error
        if killed or failed:
            raise killed or failed

    def _count_attempts(self, chunk: list, shared: bool) -> dict[str, int]:
        """The one ledger write of the chunk's attempts (one transaction); it also keeps what
        an admin needs to find a mail should it end in quarantine before anything was
        downloaded. Returns graph id -> the attempt now under way."""
        attempts: dict[str, int] = {}
        fields: dict[str, dict] = {}
        for ref in chunk:
            row = self._ledger.get(ref.id, {})
            if row.get("state") == IngestState.PROCESSED.value:
                continue  # only the mark-read is left
            charged = self._charged(row)
            if charged >= self.max_attempts:
                continue  # quarantined at its turn
            attempts[ref.id] = charged + 1
            fields[ref.id] = {
                "state": IngestState.ATTEMPTING.value, "attempts": charged + 1,
                "received": ref.received, "shared": shared,
                "message_id": clip_message_id(ref.internet_message_id or "")[0],
                "subject": clip(ref.subject or "", 500), "from_name": clip(ref.from_name or "", 500),
                "from_email": clip(ref.from_address or "", 500), "raw_blob": self._raw_name(ref),
            }
        if fields:
            self.desk.ledger.apply(self.account.address, fields)
        for graph_id in fields:
            self.checkpoint("attempt_counted", graph_id)
        for graph_id in fields:
            if self._sent_back.get(graph_id, ("", ""))[1] == QuarantineState.RETRY.value:
                self.desk.quarantine.update(self._sent_back[graph_id][0], {
                    "state": QuarantineState.RETRYING,
                    "retry_started_at": datetime.now(timezone.utc)})
        return attempts

    def _charged(self, row: dict) -> int:
        """The attempts held against the mail: an unfinished attempt counted in a chunk of
        several mails is not (the run died, not necessarily on this mail)."""
        attempts = int(row.get("attempts") or 0)
        if row.get("shared") and is_suspect(row):
            attempts -= 1
        return attempts

    def _change(self, graph_id: str, fields: dict) -> None:
        """A ledger change written with the chunk's final transaction."""
        with self._lock:
            self._changes.setdefault(graph_id, {}).update(fields)

    def _flush(self, best_effort: bool = False) -> None:
        with self._lock:
            changes, self._changes = self._changes, {}
        if not changes:
            return
        try:
            self.desk.ledger.apply(self.account.address, changes)
        except Exception:
            if not best_effort:
                raise
            log.exception("could not record the ledger states of %s", self.account.address)

    def _finish(self, ref, handled: bool | None, marks: list) -> None:
        if handled and ref.id in self._to_mark:
            marks.append((ref, self._pool.submit(self.graph.mark_read, ref.id)))
        elif handled:
            self._change(ref.id, {"state": DONE})

    def _settle_marks(self, marks: list) -> None:
        """Wait for the mark-reads, then write the states of the chunk (one transaction)."""
        read = [ref for ref, future in marks if self._marked_read(ref, future)]
        for ref in read:
            self._change(ref.id, {"state": DONE})
            self.checkpoint("read_not_recorded", ref.id)
        self._flush()
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
            if _vanished(error):
                return True
            self.runlog.write("warning", "Mark as read failed",
                              f"{self.account.address}: mail {ref.internet_message_id or ref.id}"
                              f" is stored but could not be marked read: {error}",
                              account=self.account.address)
            return False

    # -- listing
    def _new_messages(self, folder: str) -> Iterator:
        """The listed mails the ledger has not finished, up to the batch size. The ledger
        rows are read with one query for the listing (adapters/ledger.py), not one per mail."""
        window_start = ((self.account.created or datetime.now(timezone.utc))
                        - timedelta(hours=self.settings.fetch_lookback_hours))
        start = self.account.fetch_watermark or window_start
        since = start - timedelta(seconds=self.settings.fetch_overlap_seconds)
        self._to_mark: set[str] = set()
        self._ledger: dict[str, dict] = {}
        # every mail listed, in listing order, and those an earlier run finished: the
        # watermark passes both (else a mail quarantined after the ones behind it were done
        # would hold the watermark at itself)
        self._listing: list = []
        self._finished_before: set[str] = set()
        self._window = self.desk.ledger.window(self.account.address)
        wanted = self.account.batch_size
        pending: list = []

        def unfinished(refs: list) -> Iterator:
            rows = self.desk.ledger.rows(self._window, refs)
            for ref in refs:
                self._listing.append(ref)
                if rows[ref.id].get("state") == DONE:
                    self._finished_before.add(ref.id)
                else:
                    self._ledger[ref.id] = rows[ref.id]
                    if self.account.mark_as_read and not ref.is_read:
                        self._to_mark.add(ref.id)
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
                    return
            pending = []
        for new in unfinished(pending):
            yield new
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
            ledger_row["shared"] = False
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
        with self._lock:
            self._downloads_ok += 1
        name = self._raw_name(ref)
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
        counts (see `_settle_failed_downloads`)."""
        row = self._ledger.get(ref.id, {})
        if row.get("state") == IngestState.PROCESSED.value:
            return True  # processed before a crash; only the mark-read is left
        if attempt is None:  # every attempt so far ended the run
            charged = self._charged(row)
            return self._set_aside(ref, charged, self._died(row, charged))
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
        except _DownloadFailed as failed:
            return self._download_failed(ref, attempt, failed.error)
        except Exception as error:
            if _is_transient(error):  # storage is failing: not this mail's fault
                self._not_counted(ref, attempt, error)
                raise TransientError(f"{type(error).__name__}: {error}") from error
            return self._failed(ref, attempt, error)

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
                    self._change(ref.id, {"attempts": attempt - 1})
                    return False
            if self._stopped:
                raise _Stopped()
            return self._process(ref, attempt, mail, ctx)
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
            if _is_transient(error):  # storage is failing: not this mail's fault
                self._not_counted(ref, attempt, error)
                raise TransientError(f"{type(error).__name__}: {error}") from error
            return self._failed(ref, attempt, error)
        with self._lock:
            self.summary.count(mail.outcome)
        state = {
            "state": IngestState.PROCESSED.value, "outcome": mail.outcome,
            "reason": mail.reason[:1000], "ticket": mail.ticket.number if mail.ticket else "",
            "message_id": mail.key, "shared": False,
        }
        if ref.id in self._sent_back:  # written at once: the release below relies on it
            self.desk.ledger.update(self.account.address, ref.id, state)
        else:
            self._change(ref.id, state)
        if mail.outcome in ("discarded", "ignored", "duplicate"):
            self.runlog.write("info", f"Mail {mail.outcome}",
                              f"{self.account.address}: {mail.key}: {mail.reason}",
                              account=self.account.address)
        self.checkpoint("processed", mail.key)
        if ref.id in self._sent_back:
            release(self.desk, self.account.address, self._sent_back[ref.id][0], mail.outcome,
                    mail.ticket.number if mail.ticket else "")
        return True

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
        with self._lock:
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
        """Take back an attempt that an outage, not the mail, ended (written with the chunk's
        states, or best effort when the run stops: storage may be the thing that is down)."""
        self._change(ref.id, {
            "attempts": attempt - 1,
            "error": f"not counted (outage): {type(error).__name__}: {error}"[:2000]})

    def _vanished(self, ref) -> bool:
        """Deleted between listing and download: nothing left to ingest."""
        self._change(ref.id, {"state": DONE, "outcome": "vanished"})
        self._to_mark.discard(ref.id)
        if ref.id in self._sent_back:
            release(self.desk, self.account.address, self._sent_back[ref.id][0], "vanished")
        self.runlog.write(
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
            self._change(ref.id, {"error": message, "shared": False})  # its own failure
            with self._lock:
                self.summary.errors.append(f"mail {ref.internet_message_id or ref.id}: {message}")
            return False
        return self._set_aside(ref, attempt, message)

    def _set_aside(self, ref, attempts: int, message: str) -> bool:
        name = self._raw_name(ref)
        raw_blob = name if self.desk.blobs.exists(RAW_MAIL, name) else ""
        set_aside(self.desk, self.account.address, ref, attempts, message, raw_blob)
        with self._lock:
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
            queues=desk.queues, syslog=self.runlog,
            system_addresses=desk.accounts.system_addresses(),
            staff_addresses=desk.directory.staff_addresses(), checkpoint=self.checkpoint,
        )

    def _out_of_time(self) -> bool:
        if self.lease.lost:
            raise TransientError("the fetch lease was lost; another worker may take over")
        return self.clock() > self.deadline - DEADLINE_MARGIN_SECONDS
