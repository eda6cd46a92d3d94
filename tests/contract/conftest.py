"""One contract suite per port, run on the real adapter and on its in-memory stand-in.

Every test takes `impl` ("azurite" or "memory") through the port fixtures below: the storage
adapters on the `storage` fixture's Azurite, the Graph client on the TLS Graph fake, the memory
ones from tests/unit/memory/. Azurite and the fakes start only for the real half.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pytest

from tests.unit import memory

REAL, MEMORY = "real", "memory"


@pytest.fixture(params=[REAL, MEMORY])
def impl(request) -> str:
    return request.param


def _connection(request):
    from shared_code.adapters.storage import StorageConnection

    return StorageConnection({"AzureWebJobsStorage": request.getfixturevalue("storage")})


def _port(request, impl: str, real: Callable, fake: Callable):
    return real(_connection(request)) if impl == REAL else fake()


@pytest.fixture
def blobs(request, impl):
    from shared_code.adapters.blobs import BlobStore

    store = _port(request, impl, BlobStore, memory.MemoryBlobStore)
    leases: list = []
    real_acquire = store.acquire_lease

    def acquire(name: str, seconds: int = 60):
        """Leases the test leaves held are released after it (no keeper thread left running);
        the adapter's Lease refuses a second release, so each is released once."""
        lease = real_acquire(name, seconds)
        if lease is not None:
            release = lease.release

            def release_once() -> None:
                leases.remove(lease)
                release()

            lease.release = release_once
            leases.append(lease)
        return lease

    store.acquire_lease = acquire
    yield store
    for lease in list(leases):
        lease.release()


@pytest.fixture
def queues(request, impl):
    from shared_code.adapters.queues import QueueSender

    return _port(request, impl, QueueSender, memory.MemoryQueues)


@pytest.fixture
def syslog(request, impl):
    from shared_code.adapters.system_log import SystemLog

    return _port(request, impl, SystemLog, memory.MemorySystemLog)


@pytest.fixture
def accounts(request, impl):
    from shared_code.adapters.accounts import AccountRepository

    return _port(request, impl, AccountRepository, memory.MemoryAccounts)


@pytest.fixture
def directory(request, impl):
    from shared_code.adapters.directory import DirectoryRepository

    return _port(request, impl, DirectoryRepository, memory.MemoryDirectory)


@pytest.fixture
def templates(request, impl):
    from shared_code.adapters.template_store import TemplateStore

    return _port(request, impl, TemplateStore, memory.MemoryTemplates)


@pytest.fixture
def index(request, impl):
    from shared_code.adapters.message_index import MessageIndex

    return _port(request, impl, MessageIndex, memory.MemoryMessageIndex)


@dataclass
class Secrets:
    store: object
    set: Callable[[str, str], None]  # put a value where the store reads it (a rotation)


VAULT_READER = {"tenant": "contoso-tenant", "client_id": "deskmail-vault-reader",
                "secret": "vault-reader-secret"}


def _cloud(request):
    """The started fakes, reset as tests/conftest.py's autouse `_fresh_cloud` resets them for
    tests that name `cloud` (these ask for it only in their real half)."""
    from shared_code.adapters.graph import clear_token_cache

    cloud = request.getfixturevalue("cloud")
    cloud.reset()
    clear_token_cache()
    return cloud


@pytest.fixture(params=["real-env", "real-vault", MEMORY])
def secrets(request, monkeypatch) -> Secrets:
    """The real store in its local mode (environment variables) and on Key Vault (the TLS fake,
    through DefaultAzureCredential), or the memory one."""
    if request.param == MEMORY:
        store = memory.MemorySecrets()
        return Secrets(store, store.values.__setitem__)
    from shared_code.adapters.secret_store import SecretStore, env_var_name
    from shared_code.config import Settings

    if request.param == "real-env":
        monkeypatch.delenv("KEY_VAULT_URL", raising=False)
        return Secrets(SecretStore(Settings.from_env()),
                       lambda name, value: monkeypatch.setenv(env_var_name(name), value))
    cloud = _cloud(request)
    cloud.identity.register_app(VAULT_READER["tenant"], VAULT_READER["client_id"],
                                VAULT_READER["secret"])
    for name, value in (("KEY_VAULT_URL", cloud.key_vault_url),
                        ("AZURE_AUTHORITY_HOST", cloud.authority_host),
                        ("AZURE_TENANT_ID", VAULT_READER["tenant"]),
                        ("AZURE_CLIENT_ID", VAULT_READER["client_id"]),
                        ("AZURE_CLIENT_SECRET", VAULT_READER["secret"]),
                        ("HTTPS_PROXY", "http://127.0.0.1:9"), ("NO_PROXY", "localhost,127.0.0.1")):
        monkeypatch.setenv(name, value)
    store = SecretStore(Settings.from_env())
    request.addfinalizer(store.close)
    return Secrets(store, cloud.keyvault.set_secret)


MAILBOX = "support@contoso.example"


@dataclass
class Mailbox:
    """The mailbox behind a MailClient, set up and inspected through the fake's helpers."""

    client: object
    world: object  # tests.fakes.FakeGraph or memory.MemoryGraph

    def add_message(self, raw: bytes, **options) -> str:
        return self.world.add_message(MAILBOX, raw, **options)

    def add_folder(self, name: str, parent: str = "inbox") -> str:
        return self.world.add_folder(MAILBOX, name, parent)

    def is_read(self, message_id: str) -> bool:
        if isinstance(self.world, memory.MemoryGraph):
            return self.world.is_read(MAILBOX, message_id)
        return self.world.get_message(MAILBOX, message_id)["isRead"]

    def delete(self, message_id: str) -> None:
        self.world.delete_message(MAILBOX, message_id)

    def sent(self) -> list[bytes]:
        return [sent[1] for sent in self.world.sent]


@pytest.fixture
def mailbox(request, impl, monkeypatch):
    if impl == MEMORY:
        world = memory.MemoryGraph()
        world.add_mailbox(MAILBOX)
        yield Mailbox(world.client(MAILBOX), world)
        return
    from shared_code.adapters.graph import GraphMailClient
    from shared_code.config import Settings
    from shared_code.domain.model import EmailAccount, Purpose

    cloud = _cloud(request)
    graph = request.getfixturevalue("graph")
    app = request.getfixturevalue("mailbox_app")
    monkeypatch.setenv("GRAPH_API_URL", cloud.graph_url)
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", cloud.authority_host)
    monkeypatch.delenv("KEY_VAULT_URL", raising=False)
    graph.add_mailbox(MAILBOX)
    account = EmailAccount(address=MAILBOX, name="Support", purpose=Purpose.DEPARTMENT,
                           department="Support", tenant_id=app["tenant_id"],
                           client_id=app["client_id"], client_secret_name=app["client_secret_name"])
    with GraphMailClient(Settings.from_env(), account, app["secret"]) as client:
        yield Mailbox(client, graph)


@pytest.fixture
def tickets(request, impl):
    from shared_code.adapters.blobs import BlobStore
    from shared_code.adapters.ticket_store import TicketStore

    def real(connection):
        return TicketStore(connection, BlobStore(connection))

    return _port(request, impl, real, memory.MemoryTickets)


@pytest.fixture
def ledger(request, impl):
    from shared_code.adapters.ledger import IngestLedger

    return _port(request, impl, IngestLedger, memory.MemoryIngestLedger)


@pytest.fixture
def quarantine(request, impl):
    from shared_code.adapters.quarantine import QuarantineRepository

    return _port(request, impl, QuarantineRepository, memory.MemoryQuarantine)


@pytest.fixture
def deliveries(request, impl, tickets):
    """The delivery rows, on the same `tickets` table (partitions) as the `tickets` port."""
    from shared_code.adapters.deliveries import Deliveries

    return _port(request, impl, Deliveries, lambda: memory.MemoryDeliveries(tickets))
