"""The composition root: settings plus every adapter, built from the environment.

Adapters open their connections on first use, so building a `Helpdesk` is cheap
and happens per invocation or once per CLI command, never at import time.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cached_property

from ..adapters.blobs import BlobStore
from ..adapters.quarantine import QuarantineRepository
from ..adapters.queues import QueueSender
from ..adapters.secret_store import SecretStore
from ..adapters.storage import StorageConnection
from ..adapters.accounts import AccountRepository
from ..adapters.directory import DirectoryRepository
from ..adapters.ledger import IngestLedger
from ..adapters.message_index import MessageIndex
from ..adapters.system_log import SystemLog
from ..adapters.ticket_store import TicketStore
from ..config import Settings


_SECRET_STORES: dict[str, SecretStore] = {}
_SECRET_STORES_LOCK = threading.Lock()


@dataclass
class Helpdesk:
    settings: Settings
    connection: StorageConnection

    @classmethod
    def from_env(cls) -> "Helpdesk":
        return cls(settings=Settings.from_env(), connection=StorageConnection())

    @cached_property
    def blobs(self) -> BlobStore:
        return BlobStore(self.connection)

    @cached_property
    def queues(self) -> QueueSender:
        return QueueSender(self.connection)

    @cached_property
    def accounts(self) -> AccountRepository:
        return AccountRepository(self.connection)

    @cached_property
    def tickets(self) -> TicketStore:
        return TicketStore(self.connection, self.blobs)

    @cached_property
    def directory(self) -> DirectoryRepository:
        return DirectoryRepository(self.connection)

    @cached_property
    def index(self) -> MessageIndex:
        return MessageIndex(self.connection)

    @cached_property
    def ledger(self) -> IngestLedger:
        return IngestLedger(self.connection)

    @cached_property
    def quarantine(self) -> QuarantineRepository:
        return QuarantineRepository(self.connection)

    @cached_property
    def syslog(self) -> SystemLog:
        return SystemLog(self.connection)

    @cached_property
    def secrets(self) -> SecretStore:
        """One store per process and vault, so its short cache outlives an invocation."""
        key = self.settings.key_vault_url or ""
        with _SECRET_STORES_LOCK:
            if key not in _SECRET_STORES:
                _SECRET_STORES[key] = SecretStore(self.settings)
            return _SECRET_STORES[key]
