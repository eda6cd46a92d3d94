"""The ports: what the pipeline, the services and the CLI need from storage, secrets and Graph.

Each port is a `typing.Protocol` with the signatures of today's adapter, so the adapter
satisfies it structurally and the fast unit tier can pass an in-memory one
(tests/unit/memory/). Semantics beyond the signatures (409 is an answer, not an error;
what a missing row returns) are pinned by one contract suite per port, run on both
(tests/contract/). Plain Python: importing this module loads no SDK.
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterator, Protocol, runtime_checkable

from .domain.model import Department, EmailAccount, Staff, Ticket
from .domain.templates import Template

__all__ = [
    "AccountRepository", "BlobStore", "DirectoryRepository", "Lease", "MailClient",
    "MessageIndex", "MessageRef", "QueueHandle", "QueueSender", "SecretStore", "SystemLog",
    "TemplateStore", "TicketLookup",
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
    gone, or with a stale receipt, is not an error; `peek_all` sees visible messages only."""

    def send(self, queue: str, message: dict, visibility_timeout: int | None = None) -> None: ...

    def receive(self, queue: str, max_messages: int = 32,
                visibility_timeout: int = 60) -> list[tuple[dict, QueueHandle]]: ...

    def delete(self, queue: str, handle: QueueHandle) -> None: ...

    def hide(self, queue: str, message_id: str, pop_receipt: str, seconds: int) -> bool: ...

    def peek_all(self, queue: str) -> list[dict]: ...


# -- tables ------------------------------------------------------------------------------------
@runtime_checkable
class SystemLog(Protocol):
    """The helpdesk's system log, newest first; `message` is clipped, never holds secrets."""

    def write(self, level: str, title: str, message: str, **context: str) -> None: ...

    def list(self, limit: int = 100, days: int = 7) -> list[dict]: ...


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
    """The one ticket read rules 0-5 make (threading: who takes part in a ticket). The whole
    ticket store's port follows its rewrite (issue 7 §1)."""

    def get(self, number: str) -> Ticket | None: ...


# -- secrets -----------------------------------------------------------------------------------
@runtime_checkable
class SecretStore(Protocol):
    """Secrets by name; a missing or empty one raises SecretNotFound (adapters/secret_store.py)
    naming the secret and where it was looked up, never a value. Values are cached until
    `invalidate`."""

    def get(self, name: str) -> str: ...

    def invalidate(self, name: str | None = None) -> None: ...

    @property
    def source(self) -> str: ...

    def close(self) -> None: ...


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

    def get_mime(self, message_id: str) -> bytes: ...

    def message_exists(self, message_id: str) -> bool: ...

    def mark_read(self, message_id: str) -> None: ...

    def send_mime(self, raw: bytes) -> None: ...

    def find_sent(self, internet_message_id: str) -> str | None: ...

    def close(self) -> None: ...
