"""What the inbound rules work on (`InboundMail`) and with (`PipelineContext`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Callable

from ..config import Settings
from ..domain.content import Content
from ..domain.filters import Filter, FilterDecision
from ..domain.mail import ParsedMail
from ..domain.model import Attachment, EmailAccount, Entry, Ticket
from ..domain.sender_auth import SenderAuth
from ..domain.staff_reply import StaffReply
from ..domain.telemetry import NoTelemetry
from ..domain.thread_marker import ThreadKeys
from ..domain.thread_match import ThreadMatch
from ..ports import (
    BlobStore,
    MessageIndex,
    QueueSender,
    SystemLog,
    Telemetry,
    TicketStore,
    UndeliverableAddresses,
)


class MailOutcome(StrEnum):
    """What became of an inbound mail (stored in the ledger as its value)."""

    CREATED = "created"
    THREADED = "threaded"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    DISCARDED = "discarded"


@dataclass
class InboundMail:
    account: EmailAccount
    graph_id: str
    received: datetime
    raw_blob: str
    parsed: ParsedMail
    key: str = ""  # the Message-ID, or a synthetic id when the mail has none
    claim: dict | None = None  # the Message-ID index row this mail claimed
    resumed: bool = False  # the claim was made by an earlier run or another worker
    seen_deferred: bool = False  # rule 1's index read left to rule 6's claim (already_seen.py)
    outcome: MailOutcome | str | None = None  # a MailOutcome (plain strings compare equal)
    reason: str = ""
    # when discarded: which pipeline rule did it (a DiscardRule, domain/telemetry.py: the
    # telemetry's `discarded_by_rule`), and the detector's own finer name for why (e.g.
    # "auto-submitted"), kept in the ledger for the reconciliation
    discard_rule: str = ""
    rule: str = ""
    sender_auth: SenderAuth | None = None  # computed once, by pipeline/sender.py
    filtered: FilterDecision | None = None  # what the admins' matching filters ask (rule 2a)
    thread: ThreadMatch | None = None
    matched_ticket: Ticket | None = None  # the ticket threading read, reused by rule 6
    content: Content | None = None
    attachments: list[Attachment] = field(default_factory=list)
    ticket: Ticket | None = None
    entry: Entry | None = None
    notifications: list[dict] = field(default_factory=list)
    clipped: list[str] = field(default_factory=list)  # fields cut to fit (rule 0, rule 5)
    # (title, handling) of a spoof rule 4 saw: logged by rule 6 once its claim is fresh, so a
    # replay or a duplicate does not log it again (pipeline/thread_match.py)
    spoof_logs: list[tuple[str, str]] = field(default_factory=list)
    staff_reply: StaffReply | None = None  # a proven staff mail on a ticket (pipeline/store.py)
    # an old closed ticket this mail answered with a new subject: the new ticket links to it
    # (rule 4, the reopen window; domain/thread_match.py)
    related_ticket: str = ""


@dataclass
class PipelineContext:
    """The ports the rules use (shared_code/ports.py): the fetch passes the adapters, the
    unit tier the in-memory ports of tests/unit/memory/."""

    settings: Settings
    index: MessageIndex
    tickets: TicketStore
    blobs: BlobStore
    queues: QueueSender
    syslog: SystemLog
    system_addresses: set[str]
    staff_addresses: set[str] = field(default_factory=set)
    staff_names: dict[str, str] = field(default_factory=dict)  # lower-cased address → name
    # Called with a step name ("raw_saved", "parsed", "ticket_written", "notification_enqueued",
    # "processed", "marked_read") and the mail's Message-ID or Graph id at each durable
    # step; tests use it to simulate a crash there.
    checkpoint: Callable[[str, str], None] = lambda step, mail: None
    telemetry: Telemetry = field(default_factory=NoTelemetry)  # spoof rejections
    # addresses a permanent bounce reported (rule 3); None: bounces are noted, not marked
    undeliverable: UndeliverableAddresses | None = None
    filters: list[Filter] = field(default_factory=list)  # the admins' filters, read once per run
    # the signed thread marker's keys (domain/thread_marker.py); None: no marker threading
    thread_keys: ThreadKeys | None = None
