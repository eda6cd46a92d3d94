"""Mailboxes in memory and the MailClient port on one of them (no tokens, throttling or paging)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterator

from shared_code.adapters.graph import GraphError, GraphMessageRef, format_graph_datetime
from tests.fakes.mime import parse_mime, with_attachments

from .clock import ManualClock

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
        yield from self._refs(sorted((m for m in box.messages.values()
                                      if m.folder_id == folder_id and m.modified >= floor),
                                     key=lambda m: m.modified))

    def list_received(self, folder_id: str, start: datetime, end: datetime,
                      top: int = 100) -> Iterator[GraphMessageRef]:
        low, high = (datetime.fromisoformat(format_graph_datetime(t).replace("Z", "+00:00"))
                     for t in (start, end))
        box = self._box()
        yield from self._refs(sorted(
            (m for m in box.messages.values() if m.folder_id == folder_id
             and low <= m.received.replace(microsecond=0) < high), key=lambda m: m.received))

    @staticmethod
    def _refs(listed: list) -> Iterator[GraphMessageRef]:
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

    def send_large(self, draft_mime: bytes, files: list[tuple[str, str, bytes]]) -> None:
        self.send_mime(with_attachments(draft_mime, files))

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
