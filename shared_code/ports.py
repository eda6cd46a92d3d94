"""The ports: what the pipeline, the services and the CLI need from storage, secrets and Graph.

Each port is a `typing.Protocol` with the signatures of today's adapter, so the adapter
satisfies it structurally and the fast unit tier can pass an in-memory one
(tests/unit/memory/). Semantics beyond the signatures (409 is an answer, not an error;
what a missing row returns) are pinned by one contract suite per port, run on both
(tests/contract/). Plain Python: importing this module loads no SDK.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Iterable, Iterator, Protocol, runtime_checkable

from .domain.filters import Filter
from .domain.ingest import QuarantineState
from .domain.model import Department, EmailAccount, Entry, Party, Staff, Ticket
from .domain.templates import Template

if TYPE_CHECKING:  # value types the adapters define; annotations only (no import at runtime)
    from .adapters.deliveries import Claim, DeliveryState, PartitionRead
    from .adapters.ledger import LedgerWindow
    from .adapters.ticket_store import Unit, UnitResult

__all__ = [
    "AccountRepository", "BlobStore", "Deliveries", "DirectoryRepository", "DnsResolver",
    "FilterStore", "IngestLedger", "Lease", "MailClient", "MessageIndex", "MessageRef",
    "QuarantineRepository", "QueueHandle", "QueueSender", "SecretStore", "SubscriptionStore",
    "SystemLog", "Telemetry", "TemplateStore", "TicketLookup", "TicketStore",
    "UndeliverableAddresses",
]


# -- blobs -------------------------------------------------------------------------------------
@runtime_checkable
class Lease(Protocol):
    """An exclusive lease, held (renewed) until `release`; `lost` turns true when it lapsed,
    so the holder must stop: another worker may hold it now."""

    lost: bool

    def release(self) -> None: ...


@runtime_checkable
class BlobStore(Protocol):
    """Containers of named blobs (adapters/blobs.py). `put` overwrites; `put_once` keeps what
    is there (an existing name is the answer, not an error); `get` of a missing blob raises."""

    def put(self, container: str, name: str, data: bytes,
            content_type: str = "application/octet-stream",
            metadata: dict[str, str] | None = None) -> None: ...

    def put_once(self, container: str, name: str, data: bytes, content_type: str) -> None: ...

    def get(self, container: str, name: str) -> bytes: ...

    def exists(self, container: str, name: str) -> bool: ...

    def open(self, container: str, name: str):
        """A BlobFile (content_type, size, chunks) to stream, or None when there is none."""
        ...

    def names(self, container: str, prefix: str | None = None) -> list[str]: ...

    def acquire_lease(self, name: str, seconds: int = 60) -> Lease | None:
        """The lease, or None while another holder has it."""
        ...


# -- queues ------------------------------------------------------------------------------------
@runtime_checkable
class QueueHandle(Protocol):
    """What `receive` hands back beside a message: enough to delete or hide it again."""

    id: str
    pop_receipt: str | None
    dequeue_count: int | None


@runtime_checkable
class QueueSender(Protocol):
    """JSON messages on named queues (adapters/queues.py). `receive` hides what it returns for
    `visibility_timeout` seconds and counts a dequeue; `hide` moves a received message's
    visibility (False when the pop receipt no longer holds it); `delete` of a message that is
    gone, or with a stale receipt, is not an error; `peek_all` sees visible messages only;
    `approximate_count` counts hidden ones too (for /health, not for decisions)."""

    def send(self, queue: str, message: dict, visibility_timeout: int | None = None) -> None: ...
    def receive(self, queue: str, max_messages: int = 32,
                visibility_timeout: int = 60) -> list[tuple[dict, QueueHandle]]: ...

    def delete(self, queue: str, handle: QueueHandle) -> None: ...
    def hide(self, queue: str, message_id: str, pop_receipt: str, seconds: int) -> bool: ...
    def approximate_count(self, queue: str) -> int: ...
    def peek_all(self, queue: str) -> list[dict]: ...


# -- tables ------------------------------------------------------------------------------------
@runtime_checkable
class SystemLog(Protocol):
    """The helpdesk's system log, newest first; `message` is clipped, never holds secrets."""

    def write(self, level: str, title: str, message: str, **context: str) -> None: ...

    def list(self, limit: int = 100, days: int = 7) -> list[dict]: ...

    def scan(self, days: int = 7, level: str | None = None) -> Iterator[dict]:
        """The last `days` days' lines (only `level`'s), newest first, read lazily."""
        ...


@runtime_checkable
class AccountRepository(Protocol):
    """Email accounts by address (case-insensitive look-up). `add` refuses a taken address
    with ValidationError; `save_fetch_state` writes only the fetch fields."""

    def add(self, account: EmailAccount) -> None: ...

    def get(self, address: str) -> EmailAccount | None: ...

    def list(self) -> list[EmailAccount]: ...

    def save(self, account: EmailAccount) -> None: ...

    def save_fetch_state(self, account: EmailAccount) -> None: ...

    def remove(self, address: str) -> bool: ...

    def system_addresses(self) -> set[str]: ...


@runtime_checkable
class DirectoryRepository(Protocol):
    """Departments (by name, case-insensitive) and staff (by address)."""

    def add_department(self, department: Department) -> None: ...

    def save_department(self, department: Department) -> None: ...

    def get_department(self, name: str) -> Department | None: ...

    def list_departments(self) -> list[Department]: ...

    def remove_department(self, name: str) -> bool: ...

    def add_staff(self, staff: Staff) -> None: ...

    def save_staff(self, staff: Staff) -> None: ...

    def get_staff(self, email: str) -> Staff | None: ...

    def list_staff(self) -> list[Staff]: ...

    def remove_staff(self, email: str) -> bool: ...

    def staff_addresses(self) -> set[str]: ...


@runtime_checkable
class TemplateStore(Protocol):
    """Stored templates over the built-in ones: department override, stored default, built-in."""

    def resolve(self, key: str, department: str | None = None) -> tuple[Template, str]: ...

    def get(self, key: str, department: str | None = None) -> Template: ...

    def set(self, key: str, template: Template, department: str | None = None) -> None: ...

    def reset(self, key: str, department: str | None = None) -> bool: ...

    def list(self, department: str | None = None) -> list[tuple[str, str]]: ...


@runtime_checkable
class MessageIndex(Protocol):
    """Every Message-ID received or sent (brackets and spaces ignored), with its ticket.
    `claim` inserts: None when it was free, else the row already there."""

    def get(self, message_id: str) -> dict | None: ...

    def claim(self, message_id: str, fields: dict) -> dict | None: ...

    def update(self, message_id: str, fields: dict) -> None: ...

    def record(self, message_id: str, ticket_number: str, direction: str,
               entry_id: str = "") -> None: ...

    def ticket_of(self, message_id: str) -> str | None: ...


@runtime_checkable
class TicketLookup(Protocol):
    """The one ticket read rules 0-5 make (threading: who takes part in a ticket)."""

    def get(self, number: str) -> Ticket | None: ...


@runtime_checkable
class TicketStore(TicketLookup, Protocol):
    """Tickets, one partition each (adapters/ticket_store.py), as rule 6, the staff actions,
    the sender and the CLI use them. `write` stores a `Unit` in one transaction, all or
    nothing: ALREADY_STORED on a 409 (its marker, a notification row or the new ticket row
    exists), CONFLICT on a 412 (the ticket changed since `get`: read again). `check` and
    `check_row` raise ValueError for what Table Storage would refuse, writing nothing."""

    def list(self) -> list[Ticket]: ...

    def entries(self, number: str) -> list[Entry]: ...

    def marker(self, number: str, message_id: str) -> dict | None: ...

    def notification_row(self, number: str, notification_id: str) -> dict | None: ...

    def notification_rows(self, number: str) -> list[dict]: ...

    def check(self, ticket: Ticket | None = None, entry: Entry | None = None,
              client: Party | None = None) -> None: ...

    @staticmethod
    def check_row(row: dict) -> None: ...

    def create(self, ticket: Ticket) -> bool: ...

    def update(self, ticket: Ticket) -> bool: ...

    def write(self, unit: Unit) -> UnitResult: ...


@runtime_checkable
class IngestLedger(Protocol):
    """One row per fetched mailbox message (adapters/ledger.py), by account and Graph id.
    `window` + `rows`: the rows of a run's listed mails, read once per run ({} for a mail
    without a row); `apply` merges a run's changes in transactions of at most 100, all or
    nothing each, and returns how many it sent; `update` merges one row at once."""

    def get(self, account: str, graph_id: str) -> dict | None: ...

    def update(self, account: str, graph_id: str, fields: dict) -> None: ...

    def apply(self, account: str, changes: dict[str, dict]) -> int: ...

    def list(self, account: str) -> list[dict]: ...

    def received_between(self, account: str, start: datetime, end: datetime) -> list[dict]: ...

    def window(self, account: str) -> LedgerWindow: ...

    def rows(self, window: LedgerWindow, refs: Iterable,
             now: datetime | None = None) -> dict[str, dict]: ...


@runtime_checkable
class ReconcileMarks(Protocol):
    """The mails a reconciliation reported unaccounted for (adapters/reconcile_marks.py):
    `first_report` records one, False when that mail of that day was reported before."""

    def first_report(self, account: str, day: date, graph_id: str, fields: dict) -> bool: ...

    def reported(self, account: str, day: date) -> list[dict]: ...


@runtime_checkable
class FilterStore(Protocol):
    """The admins' inbound filters (adapters/filter_store.py), listed in evaluation order."""

    def list(self) -> list[Filter]: ...

    def get(self, name: str) -> Filter | None: ...

    def add(self, rule: Filter) -> None: ...

    def save(self, rule: Filter) -> None: ...

    def remove(self, name: str) -> bool: ...


@runtime_checkable
class QuarantineRepository(Protocol):
    """Mail set aside, by quarantine id (adapters/quarantine.py). `add` inserts: False when
    the id is there already (the row is kept); `list` hides closed rows unless asked."""

    def get(self, quarantine_id: str) -> dict | None: ...

    def add(self, quarantine_id: str, fields: dict) -> bool: ...

    def update(self, quarantine_id: str, fields: dict) -> None: ...

    def list(self, include_closed: bool = False) -> list[dict]: ...

    def in_states(self, account: str, states: Iterable[QuarantineState]) -> list[dict]: ...


@runtime_checkable
class Deliveries(Protocol):
    """Each notification's delivery row, in its ticket's partition (adapters/deliveries.py).
    `claim_all` claims a queue message's notifications in one transaction (a row `sent` is
    finished, a live `sending` lease is busy, anything else is taken with `attempts` + 1);
    `record_all` records their outcomes in one transaction."""

    def get(self, notification_id: str, ticket: str | None = None) -> dict | None: ...

    def read(self, ticket: str, notification_ids: list[str],
             with_entries: bool = False) -> PartitionRead: ...

    def rows(self, ticket: str, notification_ids: list[str]) -> dict[str, dict]: ...

    def with_state(self, *states: str) -> list[dict]: ...

    def record_queued(self, notification: dict) -> None: ...

    def record_failed(self, notification: dict, reason: str) -> None: ...

    def claim_all(self, ticket: str, notifications: list[dict], now: datetime | None = None,
                  rows_exist: bool = True,
                  with_entries: bool = False) -> tuple[dict[str, Claim], PartitionRead]: ...

    def record_all(self, ticket: str,
                   outcomes: list[tuple[str, str | DeliveryState, dict]]) -> None: ...

    def update(self, notification: dict, state: str | DeliveryState, **fields) -> None: ...


@runtime_checkable
class UndeliverableAddresses(Protocol):
    """Addresses a permanent bounce reported (adapters/undeliverable.py): `mark` keeps the
    first `since`; `get` is None for an address that takes mail; `clear` is False when the
    address was not marked."""

    def mark(self, address: str, status: str, ticket: str, diagnostic: str = "") -> None: ...

    def get(self, address: str) -> dict | None: ...

    def list(self) -> list[dict]: ...

    def clear(self, address: str) -> bool: ...


@runtime_checkable
class SubscriptionStore(Protocol):
    """Push ingestion's Graph subscriptions by id, and per account the coalescing marker
    (adapters/subscriptions.py): `request_fetch` is True when the caller must queue a fetch
    job (none pending, or the pending one is older than a minute: presumed lost)."""

    def save(self, subscription_id: str, address: str, expires: datetime, secret_name: str = "",
             state_digest: str = "") -> None: ...
    def get(self, subscription_id: str) -> dict | None: ...
    def all(self) -> list[dict]: ...
    def for_account(self, address: str) -> list[dict]: ...
    def remove(self, subscription_id: str) -> None: ...
    def request_fetch(self, address: str) -> bool: ...
    def mark_served(self, address: str) -> None: ...
    def forget_account(self, address: str) -> None: ...
    def note_sync(self, address: str, error: str = "") -> None: ...
    def push_state(self, address: str) -> dict: ...


# -- secrets -----------------------------------------------------------------------------------
@runtime_checkable
class SecretStore(Protocol):
    """Secrets by name; a missing or empty one raises SecretNotFound (adapters/secret_store.py)
    naming the secret and where it was looked up, never a value. Values are cached until
    `invalidate`. `set` writes a new version where `writable` (Key Vault), else raises
    SecretStoreReadOnly."""

    def get(self, name: str) -> str: ...

    def set(self, name: str, value: str) -> None: ...

    def expires_on(self, name: str) -> datetime | None:
        """The secret's expiry date where the store keeps one (Key Vault `exp`), else None."""
        ...

    @property
    def writable(self) -> bool: ...

    def invalidate(self, name: str | None = None) -> None: ...

    @property
    def source(self) -> str: ...

    def close(self) -> None: ...


# -- DNS ---------------------------------------------------------------------------------------
@runtime_checkable
class DnsResolver(Protocol):
    """The doctor's look-ups of a sending domain's SPF, DKIM and DMARC records. A name with no
    such record is an empty list; no answer at all (unreachable, timed out, SERVFAIL) raises
    domain.diagnosis.DnsUnavailable."""

    def txt(self, name: str) -> list[str]: ...

    def cname(self, name: str) -> list[str]: ...
# -- telemetry ---------------------------------------------------------------------------------
@runtime_checkable
class Telemetry(Protocol):
    """Structured events for Application Insights (adapters/telemetry.py): one record of
    domain/telemetry.py per call. Never raises: telemetry must not fail the work it reports."""

    def emit(self, record) -> None: ...


# -- Graph mail --------------------------------------------------------------------------------
@runtime_checkable
class MessageRef(Protocol):
    """One listed message (adapters/graph.py GraphMessageRef)."""

    id: str
    internet_message_id: str | None
    received: datetime
    is_read: bool
    subject: str | None
    from_address: str | None
    modified: datetime | None
    from_name: str | None


@runtime_checkable
class MailClient(Protocol):
    """One mailbox through Graph, as the fetch and the sender use it (adapters/graph.py
    GraphMailClient). Failures raise GraphError; `deadline` is a reading of the client's clock
    after which retries stop."""

    address: str
    deadline: float | None

    def resolve_folder(self, folder: str) -> str: ...

    def list_messages(self, folder_id: str, since: datetime,
                      top: int = 50) -> Iterator[MessageRef]: ...

    def list_received(self, folder_id: str, start: datetime, end: datetime,
                      top: int = 100) -> Iterator[MessageRef]: ...

    def get_mime(self, message_id: str) -> bytes: ...

    def message_exists(self, message_id: str) -> bool: ...

    def mark_read(self, message_id: str) -> None: ...

    def send_mime(self, raw: bytes) -> None: ...

    def send_large(self, draft_mime: bytes, files: list[tuple[str, str, bytes]]) -> None: ...

    def find_sent(self, internet_message_id: str) -> str | None: ...

    def close(self) -> None: ...
