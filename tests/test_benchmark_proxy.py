"""The benchmarks' measuring instrument: the counting proxy in front of Azurite.

Known sequences of SDK calls through the proxy (in its own process, as the benchmarks run it)
must come out as exactly that many requests, each labelled by service, operation and
table / container / queue; bodies must pass unchanged both ways (a multi-block upload and
its download); a per-request delay must not change what is counted.
"""
from __future__ import annotations

import os

import pytest

from benchmarks.harness import StorageProxy


@pytest.fixture
def proxy(azurite, storage):
    child = StorageProxy(azurite)
    yield child
    child.stop()


def _requests(proxy) -> dict:
    return proxy.snapshot()["requests"]


def test_table_and_blob_calls_are_counted_exactly(proxy):
    from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
    from azure.data.tables import TableServiceClient
    from azure.storage.blob import BlobServiceClient

    conn = proxy.connection_string()
    with TableServiceClient.from_connection_string(conn) as tables, \
            BlobServiceClient.from_connection_string(conn) as blobs:
        table = tables.create_table("benchtickets")
        container = blobs.create_container("bench-raw")
        proxy.reset()

        table.create_entity({"PartitionKey": "p", "RowKey": "1", "n": 1})
        container.upload_blob("a/b.eml", b"raw mail")
        assert _requests(proxy) == {"table insert benchtickets": 1, "blob upload bench-raw": 1}

        with pytest.raises(ResourceExistsError):
            table.create_entity({"PartitionKey": "p", "RowKey": "1", "n": 1})
        with pytest.raises(ResourceNotFoundError):
            table.get_entity("p", "missing")
        entity = table.get_entity("p", "1")
        table.update_entity(entity, mode="merge")            # If-Match: the entity's ETag
        table.upsert_entity({"PartitionKey": "p", "RowKey": "2"}, mode="replace")
        list(table.query_entities("PartitionKey eq 'p'"))
        table.submit_transaction([("create", {"PartitionKey": "q", "RowKey": str(i)})
                                  for i in range(3)])
        assert container.get_blob_client("a/b.eml").exists()
        snap = proxy.snapshot()

    assert snap["requests"] == {
        "table insert benchtickets": 2, "blob upload bench-raw": 1,
        "table get benchtickets": 2, "table merge benchtickets": 1,
        "table upsert-replace benchtickets": 1, "table query benchtickets": 1,
        "table batch benchtickets": 1, "blob properties bench-raw": 1,
    }
    assert snap["statuses"]["table insert benchtickets -> 409"] == 1
    assert snap["statuses"]["table get benchtickets -> 404"] == 1
    assert snap["statuses"]["table batch benchtickets -> 202"] == 1
    assert snap["errors"] == []


def test_queue_calls_and_create_calls_are_labelled(proxy):
    from azure.data.tables import TableServiceClient
    from azure.storage.queue import QueueClient

    conn = proxy.connection_string()
    queue = QueueClient.from_connection_string(conn, "bench-outbound")
    queue.create_queue()
    queue.send_message("one")
    queue.send_message("two")
    batch = list(queue.receive_messages(messages_per_page=32, max_messages=32))
    for message in batch:
        queue.delete_message(message)
    with TableServiceClient.from_connection_string(conn) as tables:
        tables.create_table_if_not_exists("benchledger")
    queue.close()

    assert len(batch) == 2
    # the SDK's pager asks for another page until one comes back empty: 2 receives
    assert _requests(proxy) == {
        "queue create-queue bench-outbound": 1, "queue send bench-outbound": 2,
        "queue receive bench-outbound": 2, "queue delete-message bench-outbound": 2,
        "table create-table benchledger": 1,
    }


def test_bodies_stream_unchanged_and_delay_does_not_change_counts(proxy):
    from azure.storage.blob import BlobServiceClient

    data = os.urandom(3 * 1024 * 1024 + 17)
    proxy.configure(0.002)
    with BlobServiceClient.from_connection_string(
            proxy.connection_string(), max_single_put_size=1024 * 1024,
            max_block_size=1024 * 1024) as blobs:
        container = blobs.create_container("bench-big")
        container.upload_blob("big.bin", data, max_concurrency=1)
        assert container.download_blob("big.bin").readall() == data
    proxy.configure(0)

    assert _requests(proxy) == {
        "blob create-container bench-big": 1, "blob put-block bench-big": 4,
        "blob put-block-list bench-big": 1, "blob download bench-big": 1,
    }
    assert proxy.snapshot()["errors"] == []


@pytest.mark.parametrize("service, method, target, headers, label", [
    ("blob", "PUT", "/devstoreaccount1/fetch-leases/acct?comp=lease", {"x-ms-lease-action": "acquire"},
     "blob lease-acquire fetch-leases"),
    ("blob", "PUT", "/devstoreaccount1/raw-mail?restype=container", {}, "blob create-container raw-mail"),
    ("blob", "GET", "/devstoreaccount1/raw-mail?restype=container&comp=list", {}, "blob list-blobs raw-mail"),
    ("blob", "HEAD", "/devstoreaccount1/attachments/ab/cd.png", {}, "blob properties attachments"),
    ("queue", "GET", "/devstoreaccount1/outbound-mail/messages?peekonly=true", {}, "queue peek outbound-mail"),
    ("queue", "PUT", "/devstoreaccount1/outbound-mail/messages/123?popreceipt=x", {},
     "queue update-message outbound-mail"),
    ("table", "PUT", "/devstoreaccount1/tickets(PartitionKey='1',RowKey='t')", {"if-match": "*"},
     "table replace tickets"),
    ("table", "PATCH", "/devstoreaccount1/clients(PartitionKey='a',RowKey='b')", {},
     "table upsert-merge clients"),
    ("table", "DELETE", "/devstoreaccount1/outbox(PartitionKey='a',RowKey='b')", {"if-match": "*"},
     "table delete outbox"),
    ("table", "GET", "/devstoreaccount1/ingestledger()?$filter=PartitionKey%20eq%20'a'", {},
     "table query ingestledger"),
])
def test_labels(service, method, target, headers, label):
    from benchmarks.storage_proxy import label as label_of

    assert label_of(service, method, target, headers) == label


def test_an_idle_connection_closed_by_azurite_is_noticed():
    import socket

    from benchmarks.storage_proxy import _dropped

    ours, theirs = socket.socketpair()
    try:
        assert not _dropped(ours)
        theirs.close()
        assert _dropped(ours)
    finally:
        ours.close()
