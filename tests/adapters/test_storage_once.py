"""Tables, containers and queues are created once per process, whatever the number of threads
asking at once, and each storage client (with its HTTP transport) is built once per process.
Counted by the benchmarks' proxy in front of Azurite."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from benchmarks.harness import StorageProxy


@pytest.fixture
def proxy(azurite, storage):
    child = StorageProxy(azurite)
    yield child
    child.stop()


def test_eight_threads_of_a_fresh_process_create_a_table_once(proxy):
    from shared_code.adapters.storage import StorageConnection, forget_created_resources
    from shared_code.adapters.system_log import SystemLog

    forget_created_resources()
    connection = StorageConnection({"AzureWebJobsStorage": proxy.connection_string()})
    logs = [SystemLog(connection) for _ in range(8)]
    proxy.reset()
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda log: log.write("info", "t", "m"), logs))

    requests = proxy.snapshot()["requests"]
    assert requests == {"table create-table systemlog": 1, "table upsert-merge systemlog": 8}


def test_storage_clients_are_built_once_per_process(storage):
    from shared_code.adapters.storage import StorageConnection

    first = StorageConnection({"AzureWebJobsStorage": storage})
    second = StorageConnection({"AzureWebJobsStorage": storage})
    assert first.table_service is second.table_service
    assert first.blob_service is second.blob_service
    assert first.queue_service is second.queue_service
    assert first._transport is second._transport


def test_a_proxy_setting_is_honoured(storage):
    from shared_code.adapters.storage import StorageConnection

    plain = StorageConnection({"AzureWebJobsStorage": storage})
    proxied = StorageConnection({"AzureWebJobsStorage": storage,
                                 "HTTPS_PROXY": "http://proxy.contoso.example:3128"})
    assert proxied.table_service is not plain.table_service
    # the transport reads the proxy variables (and NO_PROXY) only when one is set
    assert proxied._transport._use_env_settings is True
    assert plain._transport._use_env_settings is False
