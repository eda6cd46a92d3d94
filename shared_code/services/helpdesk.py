"""The composition root: settings plus every adapter, built from the environment.

Nothing else constructs an adapter (tests/test_composition_root.py checks the source):
services, pipeline rules, the CLI and the triggers take them from a `Helpdesk`. Adapters
open their connections on first use, so building a `Helpdesk` is cheap and happens per
invocation or once per CLI command, never at import time.

Process-wide caches (storage clients and created resources, secret stores, MSAL apps, the
sender's shared directories) outlive a `Helpdesk`; `reset_process_caches` forgets them all,
for tests that wipe the storage account or reset the fakes.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Callable

from ..adapters.accounts import AccountRepository
from ..adapters.blobs import BlobStore
from ..adapters.deliveries import Deliveries
from ..adapters.directory import DirectoryRepository
from ..adapters.dns_lookup import DnsLookup
from ..adapters.filter_store import FilterStore
from ..adapters.idempotency import IdempotencyKeys
from ..adapters.ledger import IngestLedger
from ..adapters.message_index import MessageIndex
from ..adapters.monitor_state import MonitorState
from ..adapters.quarantine import QuarantineRepository
from ..adapters.queues import QueueSender
from ..adapters.reconcile_marks import ReconcileMarks
from ..adapters.secret_store import SecretNotFound, SecretStore
from ..adapters.send_counters import SendCounters
from ..adapters.storage import StorageConnection
from ..adapters.subscriptions import SubscriptionStore
from ..adapters.system_log import SystemLog
from ..adapters.telemetry import AppInsightsTelemetry
from ..adapters.template_store import TemplateStore
from ..adapters.ticket_store import TicketStore
from ..adapters.system_mail_store import SystemMailStore
from ..adapters.undeliverable import UndeliverableAddresses
from ..config import Settings, running_in_azure
from ..domain.model import EmailAccount
from ..domain.thread_marker import PREVIOUS_THREAD_KEY_SECRET, THREAD_KEY_SECRET, ThreadKeys

if TYPE_CHECKING:
    from ..adapters.graph import GraphMailClient


_SECRET_STORES: dict[str, SecretStore] = {}
_SECRET_STORES_LOCK = threading.Lock()
#: vault URL → (current key, its ThreadKeys, expiry): the previous key is missing but during a
#: rotation, and a miss is not cached by the secret store, so without this every send run and
#: fetch run would ask Key Vault for it again. Keyed by the current key: a rotation seen in
#: the current key reads the previous one again at once.
_THREAD_KEYS: dict[str, tuple[str, ThreadKeys, float]] = {}


def reset_process_caches() -> None:
    """Forget every process-wide cache: the secret stores, the MSAL apps and their tokens,
    the sender's shared directories and which tables, containers and queues exist. Tests
    call it after wiping the storage account or resetting the fakes."""
    from ..adapters.graph.auth import clear_token_cache
    from ..adapters.storage import forget_created_resources
    from .outbound_run import forget_shared_directories

    with _SECRET_STORES_LOCK:
        _SECRET_STORES.clear()
        _THREAD_KEYS.clear()
    clear_token_cache()
    forget_shared_directories()
    forget_created_resources()


class ThreadKeyMissing(RuntimeError):
    """The thread-marker key is not in Key Vault (the message names the secret)."""


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
    def filters(self) -> FilterStore:
        """The admins' inbound filters (pipeline/filters.py reads them once per fetch run)."""
        return FilterStore(self.connection)

    @cached_property
    def quarantine(self) -> QuarantineRepository:
        return QuarantineRepository(self.connection)

    @cached_property
    def reconcile_marks(self) -> ReconcileMarks:
        """The mails a reconciliation alerted about (once per mail and day)."""
        return ReconcileMarks(self.connection)

    @cached_property
    def subscriptions(self) -> SubscriptionStore:
        """Push ingestion's Graph subscriptions and coalescing markers."""
        return SubscriptionStore(self.connection)

    @cached_property
    def syslog(self) -> SystemLog:
        return SystemLog(self.connection)

    @cached_property
    def deliveries(self) -> Deliveries:
        """The notification rows (`n-`) of the ticket partitions: claim, record."""
        return Deliveries(self.connection)

    @cached_property
    def undeliverable(self) -> UndeliverableAddresses:
        """Addresses a permanent bounce reported; notifications to them are held."""
        return UndeliverableAddresses(self.connection)

    @cached_property
    def system_mail(self) -> SystemMailStore:
        """System mail that failed for good, listed and requeued beside notifications."""
        return SystemMailStore(self.connection)

    @cached_property
    def counters(self) -> SendCounters:
        """Sending pace and auto-responses; it remembers the counters it wrote, so one
        instance per desk saves a read per update."""
        return SendCounters(self.connection)

    @cached_property
    def monitor_state(self) -> MonitorState:
        """The monitor's open incidents and sent secret warnings (services/monitor.py)."""
        return MonitorState(self.connection)

    @cached_property
    def telemetry(self) -> AppInsightsTelemetry:
        """Events for Application Insights (customEvents); tests may swap in a recorder."""
        return AppInsightsTelemetry()

    @cached_property
    def templates(self) -> TemplateStore:
        return TemplateStore(self.connection)

    @cached_property
    def request_keys(self) -> IdempotencyKeys:
        """The idempotency keys of `POST /api/notifications`."""
        return IdempotencyKeys(self.connection)

    @cached_property
    def secrets(self) -> SecretStore:
        """One store per process and vault, so its short cache outlives an invocation."""
        key = self.settings.key_vault_url or ""
        with _SECRET_STORES_LOCK:
            if key not in _SECRET_STORES:
                _SECRET_STORES[key] = SecretStore(self.settings)
            return _SECRET_STORES[key]

    def thread_keys(self, required: bool = True) -> ThreadKeys | None:
        """The thread-marker keys (domain/thread_marker.py) from the secret store. Missing in
        Azure: ThreadKeyMissing naming the secret (the sender), or logged and None when not
        `required` (the fetch: mail still becomes tickets); missing locally: None."""
        try:
            current = self.secrets.get(THREAD_KEY_SECRET)
        except SecretNotFound as error:
            if not running_in_azure():
                return None
            missing = ThreadKeyMissing(
                f"Key Vault secret {THREAD_KEY_SECRET!r} (the thread-marker key) is missing: "
                f"create it with a random value of 32 bytes or more ({error})")
            if required:
                raise missing from None
            logging.getLogger("deskmail.threading").error("%s", missing)
            return None
        vault = self.settings.key_vault_url or ""
        with _SECRET_STORES_LOCK:
            cached = _THREAD_KEYS.get(vault)
        if cached is not None and cached[0] == current and cached[2] > time.monotonic():
            return cached[1]
        try:
            previous = self.secrets.get(PREVIOUS_THREAD_KEY_SECRET)
        except SecretNotFound:
            previous = None
        keys = ThreadKeys(current.encode("utf-8"), previous.encode("utf-8") if previous else None)
        with _SECRET_STORES_LOCK:
            _THREAD_KEYS[vault] = (current, keys, time.monotonic() + self.secrets.ttl_seconds)
        return keys

    @cached_property
    def dns(self) -> DnsLookup:
        """The doctor's SPF, DKIM and DMARC look-ups (DOCTOR_DNS_SERVER, else the system's)."""
        return DnsLookup(self.settings.doctor_dns_server)

    def mail_client(self, account: EmailAccount, deadline: float | None = None,
                    clock: Callable[[], float] = time.monotonic) -> "GraphMailClient":
        """A Graph client for one mailbox, with the account's client secret; `deadline` is
        a `clock()` reading no request (with its retries) may pass. The caller closes it."""
        from ..adapters.graph import GraphMailClient

        secret = self.secrets.get(account.client_secret_name)
        return GraphMailClient(self.settings, account, secret, deadline=deadline, clock=clock)
