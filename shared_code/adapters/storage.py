"""Connects to Azure Storage the way the Functions host does.

`AzureWebJobsStorage` holds a connection string (`UseDevelopmentStorage=true` means
Azurite on its default ports), or the identity-based forms are used:
`AzureWebJobsStorage__accountName`, or `__blobServiceUri` / `__queueServiceUri` /
`__tableServiceUri`, with `DefaultAzureCredential` (or a user-assigned managed
identity when `__clientId` is set). Clients are created on first use, never at import,
and once per process and storage account: every `StorageConnection` of the same settings
shares them (and their HTTP transport), so an invocation builds no SDK client.
"""
from __future__ import annotations

import os
import threading
from functools import cached_property

from ..config import SettingError

PREFIX = "AzureWebJobsStorage"
_DEVSTORE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
DEVELOPMENT_CONNECTION_STRING = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
    f"AccountKey={_DEVSTORE_KEY};"
    "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
    "QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;"
    "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;"
)


# (endpoint, kind, name) of the tables, containers and queues known to exist in this process
_ENSURED: set[tuple[str, str, str]] = set()
# held while a table, container or queue is created: threads of a fresh process that need
# the same one wait for the first instead of each sending its own create
_ENSURE_LOCK = threading.Lock()
# (settings key, kind) -> the service client or transport, once per process
_CLIENTS: dict[tuple[str, str], object] = {}
_CLIENTS_LOCK = threading.RLock()  # a client's build takes the shared transport
_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")


def forget_created_resources() -> None:
    """Forget what this process created, after something outside it wiped the storage account
    (the test harness does between tests)."""
    with _ENSURE_LOCK:
        _ENSURED.clear()


def _process_wide(key: tuple[str, str], build):
    """The one object of `key` in this process, built by the first caller."""
    with _CLIENTS_LOCK:
        if key not in _CLIENTS:
            _CLIENTS[key] = build()
        return _CLIENTS[key]


class StorageConnection:
    """Service clients for blob, queue and table, from the environment."""

    def __init__(self, environ: dict[str, str] | None = None):
        env = os.environ if environ is None else environ
        self._connection_string = env.get(PREFIX, "").strip()
        if self._connection_string.lower().replace(" ", "") == "usedevelopmentstorage=true":
            self._connection_string = DEVELOPMENT_CONNECTION_STRING
        self._account = env.get(f"{PREFIX}__accountName", "").strip()
        self._uris = {
            kind: env.get(f"{PREFIX}__{kind}ServiceUri", "").strip()
            for kind in ("blob", "queue", "table")
        }
        self._client_id = env.get(f"{PREFIX}__clientId", "").strip()
        if not self._connection_string and not self._account and not all(self._uris.values()):
            raise SettingError(
                f"setting {PREFIX} is required: a connection string, or "
                f"{PREFIX}__accountName, or {PREFIX}__blobServiceUri/__queueServiceUri/"
                "__tableServiceUri for identity-based access"
            )
        if self._connection_string and "=" not in self._connection_string:
            raise SettingError(f"setting {PREFIX} is not a storage connection string")
        self._proxied = any(env.get(name, "").strip() for name in _PROXY_VARIABLES)

    def _uri(self, kind: str) -> str:
        if self._uris[kind]:
            return self._uris[kind]
        return f"https://{self._account}.{kind}.core.windows.net"

    @property
    def _transport(self):
        """One HTTP transport per process for the three clients. Without a proxy variable it
        skips re-reading proxy variables and ~/.netrc on every request (a measured 11-14 % of
        the CPU per storage request); with HTTP(S)_PROXY set it honours them (and NO_PROXY)."""
        def build():
            from azure.core.pipeline.transport import RequestsTransport

            return RequestsTransport(use_env_settings=self._proxied)

        return _process_wide((self._key, "transport"), build)

    def ensure_once(self, kind: str, name: str, create) -> None:
        """Create a table, container or queue the first time this process uses it (one
        create per process, whatever the number of threads asking at once)."""
        key = (self.endpoint, kind, name)
        if key in _ENSURED:
            return
        from azure.core.exceptions import ResourceExistsError

        with _ENSURE_LOCK:
            if key in _ENSURED:
                return
            try:
                create()
            except ResourceExistsError:
                pass
            _ENSURED.add(key)

    @property
    def _key(self) -> str:
        """What identifies these settings in the process-wide caches."""
        return (f"{self.endpoint}|{self._client_id}|{sorted(self._uris.items())}"
                f"|proxied={self._proxied}")

    @property
    def endpoint(self) -> str:
        """Which storage account this is (a hash of the connection string: it holds the key)."""
        import hashlib

        if self._connection_string:
            return hashlib.sha256(self._connection_string.encode()).hexdigest()[:16]
        return self._account or self._uris["table"]

    @property
    def _credential(self):
        def build():
            from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

            if self._client_id:
                return ManagedIdentityCredential(client_id=self._client_id)
            return DefaultAzureCredential()

        return _process_wide((self._key, "credential"), build)

    @cached_property
    def blob_service(self):
        return _process_wide((self._key, "blob"), lambda: self._service("blob"))

    @cached_property
    def queue_service(self):
        return _process_wide((self._key, "queue"), lambda: self._service("queue"))

    @cached_property
    def table_service(self):
        return _process_wide((self._key, "table"), lambda: self._service("table"))

    def _service(self, kind: str):
        if kind == "blob":
            from azure.storage.blob import BlobServiceClient as client_class
        elif kind == "queue":
            from azure.storage.queue import QueueServiceClient as client_class
        else:
            from azure.data.tables import TableServiceClient as client_class
        transport = self._transport
        if self._connection_string:
            return client_class.from_connection_string(self._connection_string,
                                                       transport=transport)
        return client_class(self._uri(kind), credential=self._credential, transport=transport)
