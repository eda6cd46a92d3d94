"""Blobs (with leases) and queues in memory; visibility and leases follow the injected clock."""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Callable

from .clock import ManualClock


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

    def open(self, container: str, name: str):
        from shared_code.adapters.blobs import BlobFile

        stored = self.containers.get(container, {}).get(name)
        if stored is None:
            return None
        return BlobFile(stored[1], len(stored[0]), iter([stored[0]]))

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

    def approximate_count(self, queue: str) -> int:
        return len(self.queues.get(queue, []))

    def peek_all(self, queue: str) -> list[dict]:
        return [json.loads(m.content) for m in self._visible(queue)[:32]]
