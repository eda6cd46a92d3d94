"""In-memory implementations of the ports of shared_code/ports.py, for the fast unit tier.

Same semantics as the adapters, checked by the contract suite (tests/contract/) run on both:
an existing key is an answer, not an error; rows come back as copies; queue visibility and
leases follow an injected clock (`ManualClock`) instead of the wall clock. Plain Python: no SDK.

Not modelled, so tested on the real adapters only: Graph tokens, throttling, retries, paging and
the concurrency cap (tests/adapters/test_graph_client.py); ETags and 4 MiB request limits.
"""
from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterator

from shared_code.adapters.graph import GraphError, GraphMessageRef, format_graph_datetime
from shared_code.adapters.secrets import SecretNotFound
from shared_code.adapters.tables import digest, safe_key
from shared_code.domain.limits import MAX_INLINE_CHARS, clip, utf16_len
from shared_code.domain.model import Department, EmailAccount, Staff, Ticket, ValidationError
from shared_code.domain.templates import (
    DEFAULT_TEMPLATES, TEMPLATE_KEYS, Template, TemplateError, check_key, validate,
)
from tests.fakes.mime import parse_mime

T0 = datetime(2026, 11, 27, 9, 0, 0, tzinfo=timezone.utc)


class ManualClock:
    """Seconds (for visibility and leases) and a UTC datetime that move only when told."""

    def __init__(self, start: datetime = T0):
        self.start, self.seconds = start, 0.0

    def __call__(self) -> float:
        return self.seconds

    def advance(self, seconds: float) -> None:
        self.seconds += seconds

    def utcnow(self) -> datetime:
        return self.start + timedelta(seconds=self.seconds)


class BlobNotFound(LookupError):
    """`get` of a blob that is not there (the adapter raises the SDK's ResourceNotFoundError)."""


# -- blobs -------------------------------------------------------------------------------------
class MemoryLease:
    """Held until released or until the clock passes its end: the adapter's keeper renews a
    real lease while its holder lives, so an expiry here plays a holder that stalled or died."""

    def __init__(self, clock: Callable[[], float], seconds: int):
        self._clock, self.expires, self.released = clock, clock() + seconds, False

    @property
    def held(self) -> bool:
        return not self.released and self._clock() < self.expires

    @property
    def lost(self) -> bool:
        return not self.released and not self.held

    def release(self) -> None:
        self.released = True


class MemoryBlobStore:
    def __init__(self, clock: Callable[[], float] | None = None):
        self.clock = clock or ManualClock()
        self.containers: dict[str, dict[str, tuple[bytes, str, dict]]] = {}
        self.leases: dict[str, MemoryLease] = {}

    def put(self, container: str, name: str, data: bytes,
            content_type: str = "application/octet-stream",
            metadata: dict[str, str] | None = None) -> None:
        self.containers.setdefault(container, {})[name] = (bytes(data), content_type,
                                                            dict(metadata or {}))

    def put_once(self, container: str, name: str, data: bytes, content_type: str) -> None:
        self.containers.setdefault(container, {}).setdefault(name, (bytes(data), content_type, {}))

    def get(self, container: str, name: str) -> bytes:
        try:
            return self.containers[container][name][0]
        except KeyError:
            raise BlobNotFound(f"blob {container}/{name} not found") from None

    def content_type(self, container: str, name: str) -> str:
        return self.containers[container][name][1]

    def exists(self, container: str, name: str) -> bool:
        return name in self.containers.get(container, {})

    def names(self, container: str, prefix: str | None = None) -> list[str]:
        return sorted(n for n in self.containers.get(container, {}) if n.startswith(prefix or ""))

    def acquire_lease(self, name: str, seconds: int = 60) -> MemoryLease | None:
        current = self.leases.get(name)
        if current is not None and current.held:
            return None
        self.leases[name] = lease = MemoryLease(self.clock, seconds)
        return lease


# -- queues ------------------------------------------------------------------------------------
@dataclass
class _Message:
    id: str
    content: str
    visible_at: float
    pop_receipt: str | None = None
    dequeue_count: int = 0


@dataclass(frozen=True)
class MemoryHandle:
    id: str
    pop_receipt: str | None
    dequeue_count: int | None


class MemoryQueues:
    MAX_HIDE_SECONDS = 7 * 24 * 3600 - 1

    def __init__(self, clock: Callable[[], float] | None = None):
        self.clock = clock or ManualClock()
        self.queues: dict[str, list[_Message]] = {}

    def _visible(self, queue: str) -> list[_Message]:
        return [m for m in self.queues.get(queue, []) if m.visible_at <= self.clock()]

    def send(self, queue: str, message: dict, visibility_timeout: int | None = None) -> None:
        self.queues.setdefault(queue, []).append(_Message(
            uuid.uuid4().hex, json.dumps(message, sort_keys=True),
            self.clock() + (visibility_timeout or 0)))

    def receive(self, queue: str, max_messages: int = 32,
                visibility_timeout: int = 60) -> list[tuple[dict, MemoryHandle]]:
        out = []
        for message in self._visible(queue)[:max_messages]:
            message.dequeue_count += 1
            message.pop_receipt = uuid.uuid4().hex
            message.visible_at = self.clock() + visibility_timeout
            out.append((json.loads(message.content),
                        MemoryHandle(message.id, message.pop_receipt, message.dequeue_count)))
        return out

    def _find(self, queue: str, message_id: str) -> _Message | None:
        return next((m for m in self.queues.get(queue, []) if m.id == message_id), None)

    def delete(self, queue: str, handle) -> None:
        message = self._find(queue, handle.id)
        if message is not None and message.pop_receipt == handle.pop_receipt:
            self.queues[queue].remove(message)

    def hide(self, queue: str, message_id: str, pop_receipt: str, seconds: int) -> bool:
        message = self._find(queue, message_id)
        if message is None or message.pop_receipt != pop_receipt:
            return False
        message.visible_at = self.clock() + min(self.MAX_HIDE_SECONDS, max(0, int(seconds)))
        message.pop_receipt = uuid.uuid4().hex
        return True

    def peek_all(self, queue: str) -> list[dict]:
        return [json.loads(m.content) for m in self._visible(queue)[:32]]


# -- tables ------------------------------------------------------------------------------------
class MemorySystemLog:
    def __init__(self, now: Callable[[], datetime] | None = None):
        self.now = now or (lambda: datetime.now(timezone.utc))
        self.entries: list[dict] = []  # oldest first

    def write(self, level: str, title: str, message: str, **context: str) -> None:
        self.entries.append({"time": self.now(), "level": level, "title": title,
                             "message": clip(message),
                             **{key: str(value) for key, value in context.items()}})

    def list(self, limit: int = 100, days: int = 7) -> list[dict]:
        today = self.now()
        wanted = {(today - timedelta(days=back)).strftime("%Y%m%d") for back in range(days)}
        newest = [e for _, e in sorted(enumerate(self.entries), key=lambda p: (p[1]["time"], p[0]),
                                       reverse=True)]
        return [dict(e) for e in newest if e["time"].strftime("%Y%m%d") in wanted][:limit]


_FETCH_STATE = ("last_fetch", "last_error", "last_error_time", "consecutive_failures",
                "fetch_watermark")


class MemoryAccounts:
    def __init__(self, now: Callable[[], datetime] | None = None):
        self.now = now or (lambda: datetime.now(timezone.utc))
        self.rows: dict[str, EmailAccount] = {}

    @staticmethod
    def _stored(account: EmailAccount) -> EmailAccount:
        stored = copy.deepcopy(account)
        stored.last_error = stored.last_error[:4000]
        stored.batch_size = int(stored.batch_size)
        return stored

    def add(self, account: EmailAccount) -> None:
        account.validate()
        account.created = account.created or self.now()
        if safe_key(account.address) in self.rows:
            raise ValidationError(f"an email account {account.address} already exists")
        self.rows[safe_key(account.address)] = self._stored(account)

    def get(self, address: str) -> EmailAccount | None:
        row = self.rows.get(safe_key(address.strip().lower()))
        return copy.deepcopy(row) if row else None

    def list(self) -> list[EmailAccount]:
        return sorted((copy.deepcopy(a) for a in self.rows.values()), key=lambda a: a.address)

    def save(self, account: EmailAccount) -> None:
        account.validate()
        self.rows[safe_key(account.address)] = self._stored(account)

    def save_fetch_state(self, account: EmailAccount) -> None:
        row = self.rows.get(safe_key(account.address))
        if row is None:  # the adapter's merge would leave a row without its address
            raise AssertionError("save_fetch_state of an account that was never added")
        for name in _FETCH_STATE:
            if getattr(account, name) is not None:
                setattr(row, name, copy.deepcopy(getattr(account, name)))
        row.last_error = row.last_error[:4000]

    def remove(self, address: str) -> bool:
        return self.rows.pop(safe_key(address.strip().lower()), None) is not None

    def system_addresses(self) -> set[str]:
        return {account.address for account in self.rows.values()}


class MemoryDirectory:
    def __init__(self):
        self.departments: dict[str, Department] = {}
        self.staff: dict[str, Staff] = {}

    def add_department(self, department: Department) -> None:
        department.validate()
        if safe_key(department.name.lower()) in self.departments:
            raise ValidationError(f"a department {department.name} already exists")
        self.departments[safe_key(department.name.lower())] = copy.deepcopy(department)

    def save_department(self, department: Department) -> None:
        department.validate()
        self.departments[safe_key(department.name.lower())] = copy.deepcopy(department)

    def get_department(self, name: str) -> Department | None:
        return copy.deepcopy(self.departments.get(safe_key(name.strip().lower())))

    def list_departments(self) -> list[Department]:
        return sorted(copy.deepcopy(list(self.departments.values())), key=lambda d: d.name.lower())

    def remove_department(self, name: str) -> bool:
        return self.departments.pop(safe_key(name.strip().lower()), None) is not None

    def add_staff(self, staff: Staff) -> None:
        staff.validate()
        if safe_key(staff.email) in self.staff:
            raise ValidationError(f"a staff member {staff.email} already exists")
        self.staff[safe_key(staff.email)] = copy.deepcopy(staff)

    def save_staff(self, staff: Staff) -> None:
        staff.validate()
        self.staff[safe_key(staff.email)] = copy.deepcopy(staff)

    def get_staff(self, email: str) -> Staff | None:
        return copy.deepcopy(self.staff.get(safe_key(email.strip().lower())))

    def list_staff(self) -> list[Staff]:
        return sorted(copy.deepcopy(list(self.staff.values())), key=lambda s: s.email)

    def remove_staff(self, email: str) -> bool:
        return self.staff.pop(safe_key(email.strip().lower()), None) is not None

    def staff_addresses(self) -> set[str]:
        return {s.email for s in self.staff.values() if s.active}


class MemoryTemplates:
    """Rows keyed (partition, template key) as adapters/template_store.py keys them."""

    def __init__(self):
        self.rows: dict[tuple[str, str], tuple[str, Template]] = {}  # -> (department, template)

    @staticmethod
    def _partition(department: str | None) -> str:
        name = (department or "").strip()
        return f"dept:{safe_key(name.lower())}" if name else "default"

    def resolve(self, key: str, department: str | None = None) -> tuple[Template, str]:
        check_key(key)
        if (department or "").strip() and (self._partition(department), key) in self.rows:
            name, template = self.rows[(self._partition(department), key)]
            return template, name
        if ("default", key) in self.rows:
            return self.rows[("default", key)][1], "default"
        return DEFAULT_TEMPLATES[key], "built-in"

    def get(self, key: str, department: str | None = None) -> Template:
        return self.resolve(key, department)[0]

    def set(self, key: str, template: Template, department: str | None = None) -> None:
        validate(template, key)
        for where, value in (("subject", template.subject), ("html body", template.html),
                             ("text body", template.text)):
            if utf16_len(value) > MAX_INLINE_CHARS:
                raise TemplateError(f"{where} is {utf16_len(value):,} characters; "
                                    f"the limit is {MAX_INLINE_CHARS:,}")
        self.rows[(self._partition(department), key)] = ((department or "").strip(), template)

    def reset(self, key: str, department: str | None = None) -> bool:
        check_key(key)
        return self.rows.pop((self._partition(department), key), None) is not None

    def list(self, department: str | None = None) -> list[tuple[str, str]]:
        sources = {k: "default" for (p, k) in self.rows if p == "default"}
        if (department or "").strip():
            sources.update({k: name for (p, k), (name, _) in self.rows.items()
                            if p == self._partition(department)})
        return [(key, sources.get(key, "built-in")) for key in TEMPLATE_KEYS]


class MemoryMessageIndex:
    def __init__(self):
        self.rows: dict[str, dict] = {}

    @staticmethod
    def _keys(message_id: str) -> tuple[str, str]:
        key = digest(message_id.strip().strip("<>").strip(), 64)
        return key[:2], key

    def _upsert(self, message_id: str, fields: dict) -> None:
        pk, rk = self._keys(message_id)
        self.rows.setdefault(rk, {"PartitionKey": pk, "RowKey": rk}).update(copy.deepcopy(fields))

    def get(self, message_id: str) -> dict | None:
        row = self.rows.get(self._keys(message_id)[1])
        return copy.deepcopy(row) if row else None

    def claim(self, message_id: str, fields: dict) -> dict | None:
        existing = self.get(message_id)
        if existing is not None:
            return existing
        self._upsert(message_id, {"message_id": message_id, "state": "claimed", **fields})
        return None

    def update(self, message_id: str, fields: dict) -> None:
        self._upsert(message_id, fields)

    def record(self, message_id: str, ticket_number: str, direction: str,
               entry_id: str = "") -> None:
        self._upsert(message_id, {"message_id": message_id, "state": "done",
                                  "ticket": ticket_number, "entry_id": entry_id,
                                  "direction": direction})

    def ticket_of(self, message_id: str) -> str | None:
        row = self.get(message_id)
        if row and row.get("ticket") and row.get("state") == "done":
            return row["ticket"]
        return None


class MemoryTickets:
    """The TicketLookup port (rules 0-5 only read a ticket); `add` is for test set-up."""

    def __init__(self):
        self.tickets: dict[str, Ticket] = {}

    def add(self, ticket: Ticket) -> None:
        self.tickets[ticket.number] = copy.deepcopy(ticket)

    def get(self, number: str) -> Ticket | None:
        return copy.deepcopy(self.tickets.get(number))


# -- secrets -----------------------------------------------------------------------------------
class MemorySecrets:
    """`values` is the vault; what `get` read stays cached until `invalidate` (or the ttl)."""

    def __init__(self, values: dict[str, str] | None = None, ttl_seconds: float = 300,
                 clock: Callable[[], float] | None = None):
        self.values = dict(values or {})
        self.ttl_seconds, self.clock = float(ttl_seconds), clock or ManualClock()
        self._cache: dict[str, tuple[str, float]] = {}

    def get(self, name: str) -> str:
        if not name or not name.strip():
            raise ValueError("secret name must not be empty")
        name = name.strip()
        cached = self._cache.get(name)
        if cached is not None and cached[1] > self.clock():
            return cached[0]
        value = self.values.get(name)
        if not value:
            raise SecretNotFound(name, "the in-memory secret store")
        if self.ttl_seconds > 0:
            self._cache[name] = (value, self.clock() + self.ttl_seconds)
        return value

    def invalidate(self, name: str | None = None) -> None:
        if name is None:
            self._cache.clear()
        else:
            self._cache.pop(name.strip(), None)

    @property
    def source(self) -> str:
        return "memory"

    def close(self) -> None:
        pass

    def __repr__(self) -> str:  # never the values, like the adapter
        return f"MemorySecrets(cached={len(self._cache)})"


# -- Graph mail --------------------------------------------------------------------------------
WELL_KNOWN = {"inbox": "Inbox", "archive": "Archive", "sentitems": "Sent Items",
              "deleteditems": "Deleted Items", "junkemail": "Junk Email", "drafts": "Drafts"}
_NOT_FOUND = "The specified object was not found in the store."


@dataclass
class MemoryMessage:
    id: str
    raw: bytes
    folder_id: str
    is_read: bool
    received: datetime
    modified: datetime
    meta: dict = field(default_factory=dict)


@dataclass
class MemoryMailbox:
    address: str
    folders: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # id -> (name, parent)
    messages: dict[str, MemoryMessage] = field(default_factory=dict)


class MemoryGraph:
    """Mailboxes in memory, with the test helpers of tests/fakes/graph.py that the contract and
    unit tests use; `client(address)` is the MailClient port on one of them."""

    def __init__(self, clock: ManualClock | None = None):
        self.clock = clock or ManualClock()
        self.mailboxes: dict[str, MemoryMailbox] = {}
        self.sent: list[tuple[str, bytes]] = []
        self.requests = 0

    def add_mailbox(self, address: str) -> str:
        box = self.mailboxes.setdefault(address.lower(), MemoryMailbox(address))
        for well_known, name in WELL_KNOWN.items():
            box.folders.setdefault(well_known, (name, None))
        return box.address

    def add_folder(self, mailbox: str, display_name: str, parent: str = "inbox") -> str:
        folder_id = f"AQMk-{uuid.uuid4().hex}"
        up = None if parent.lower() == "msgfolderroot" else self._folder_ref(parent)
        self.mailboxes[mailbox.lower()].folders[folder_id] = (display_name, up)
        return folder_id

    def add_message(self, mailbox: str, raw: bytes, folder: str = "inbox", is_read: bool = False,
                    received: datetime | None = None) -> str:
        received = received or self.clock.utcnow()
        meta = parse_mime(raw)
        meta["internetMessageId"] = meta["internetMessageId"] or f"<{uuid.uuid4().hex}@memory>"
        message = MemoryMessage(f"AAMk-{uuid.uuid4().hex}", bytes(raw), self._folder_ref(folder),
                                is_read,
                                received, received, meta)
        self.mailboxes[mailbox.lower()].messages[message.id] = message
        return message.id

    @staticmethod
    def _folder_ref(folder: str) -> str:
        return folder.lower() if folder.lower() in WELL_KNOWN else folder

    def is_read(self, mailbox: str, message_id: str) -> bool:
        return self.mailboxes[mailbox.lower()].messages[message_id].is_read

    def delete_message(self, mailbox: str, message_id: str) -> None:
        del self.mailboxes[mailbox.lower()].messages[message_id]

    def client(self, address: str, deadline: float | None = None) -> "MemoryMailClient":
        return MemoryMailClient(self, address, deadline)


class MemoryMailClient:
    def __init__(self, world: MemoryGraph, address: str, deadline: float | None = None):
        self.world, self.address, self.deadline = world, address, deadline
        self.request_count = 0

    def _box(self) -> MemoryMailbox:
        self.request_count += 1
        self.world.requests += 1
        box = self.world.mailboxes.get(self.address.lower())
        if box is None:
            raise GraphError(404, "ErrorInvalidUser", f"The requested user '{self.address}' is invalid.")
        return box

    def _message(self, message_id: str) -> MemoryMessage:
        message = self._box().messages.get(message_id)
        if message is None:
            raise GraphError(404, "ErrorItemNotFound", _NOT_FOUND)
        return message

    def resolve_folder(self, folder: str) -> str:
        key = (folder or "").strip().strip("/")
        if not key:
            raise GraphError(None, "FolderNotFound", "folder name is empty")
        parts = [part.strip() for part in key.split("/") if part.strip()]
        box, current = self._box(), None
        for depth, part in enumerate(parts):
            if depth == 0 and part.lower() in WELL_KNOWN:
                current = part.lower()
                continue
            parents = [current] if depth else [None] + (["inbox"] if len(parts) == 1 else [])
            current = next((fid for parent in parents for fid, (name, up) in box.folders.items()
                            if up == parent and name.lower() == part.lower()), None)
            if current is None:
                raise GraphError(404, "FolderNotFound",
                                 f"mailbox {self.address} has no folder {part!r} "
                                 f"(looking for {key!r})")
        return current

    def list_messages(self, folder_id: str, since: datetime,
                      top: int = 50) -> Iterator[GraphMessageRef]:
        floor = datetime.fromisoformat(format_graph_datetime(since).replace("Z", "+00:00"))
        box = self._box()
        listed = sorted((m for m in box.messages.values()
                         if m.folder_id == folder_id and m.modified >= floor),
                        key=lambda m: m.modified)
        for m in listed:
            yield GraphMessageRef(
                id=m.id, internet_message_id=m.meta["internetMessageId"].strip("<>") or None,
                received=m.received, is_read=m.is_read, subject=m.meta.get("subject"),
                from_address=((m.meta.get("from") or {}).get("emailAddress") or {}).get("address"),
                modified=m.modified,
                from_name=((m.meta.get("from") or {}).get("emailAddress") or {}).get("name") or None)

    def get_mime(self, message_id: str) -> bytes:
        return self._message(message_id).raw

    def message_exists(self, message_id: str) -> bool:
        try:
            self._message(message_id)
        except GraphError as error:
            if error.status == 404 and error.code == "ErrorItemNotFound":
                return False
            raise
        return True

    def mark_read(self, message_id: str) -> None:
        message = self._message(message_id)
        message.is_read, message.modified = True, self.world.clock.utcnow()

    def send_mime(self, raw: bytes) -> None:
        meta = parse_mime(raw)
        if not (meta["toRecipients"] or meta["ccRecipients"] or meta["bccRecipients"]):
            raise GraphError(400, "ErrorInvalidRecipients", "A message can't be sent because it "
                             "contains no recipients.")
        self.world.sent.append((self.address, bytes(raw)))
        self.world.add_message(self.address, raw, folder="sentitems", is_read=True)

    def find_sent(self, internet_message_id: str) -> str | None:
        wanted = internet_message_id.strip().strip("<>")
        for m in self._box().messages.values():
            if m.folder_id == "sentitems" and m.meta["internetMessageId"].strip("<>") == wanted:
                return m.id
        return None

    def close(self) -> None:
        pass

    def __enter__(self) -> "MemoryMailClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
