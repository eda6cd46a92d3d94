"""BlobStore contract: adapters/blobs.py on Azurite and MemoryBlobStore behave alike."""
from __future__ import annotations

import pytest

from shared_code import ports


def test_it_is_a_blob_store(blobs):
    assert isinstance(blobs, ports.BlobStore)


def test_put_then_get_exists_and_names(blobs):
    blobs.put("raw-mail", "a/2026/1.eml", b"one", "message/rfc822", metadata={"graph_id": "g1"})
    blobs.put("raw-mail", "b/2026/2.eml", b"two")

    assert blobs.get("raw-mail", "a/2026/1.eml") == b"one"
    assert blobs.exists("raw-mail", "a/2026/1.eml") and not blobs.exists("raw-mail", "nope")
    assert blobs.names("raw-mail") == ["a/2026/1.eml", "b/2026/2.eml"]
    assert blobs.names("raw-mail", prefix="b/") == ["b/2026/2.eml"]
    assert blobs.names("bodies") == []


def test_put_overwrites_and_put_once_keeps_what_is_there(blobs):
    blobs.put("attachments", "sha", b"first", "text/plain")
    blobs.put("attachments", "sha", b"second", "text/plain")
    blobs.put_once("attachments", "sha", b"third", "text/plain")  # an existing name is no error
    blobs.put_once("attachments", "new", b"fourth", "text/plain")

    assert blobs.get("attachments", "sha") == b"second"
    assert blobs.get("attachments", "new") == b"fourth"


def test_get_of_a_missing_blob_raises(blobs):
    blobs.put("bodies", "there", b"x")
    with pytest.raises(Exception) as caught:
        blobs.get("bodies", "missing")
    assert not isinstance(caught.value, AssertionError)


def test_a_lease_is_exclusive_until_released(blobs):
    first = blobs.acquire_lease("support%40contoso.example", 60)
    assert first is not None and isinstance(first, ports.Lease) and first.lost is False

    assert blobs.acquire_lease("support%40contoso.example", 60) is None
    other = blobs.acquire_lease("sales%40contoso.example", 60)
    assert other is not None

    first.release()
    again = blobs.acquire_lease("support%40contoso.example", 60)
    assert again is not None and again.lost is False


def test_open_streams_the_bytes_with_the_stored_type(blobs):
    blobs.put_once("attachments", "abc", b"\x89PNG-bytes", "image/png")
    opened = blobs.open("attachments", "abc")
    assert (opened.content_type, opened.size) == ("image/png", 10)
    assert b"".join(opened.chunks) == b"\x89PNG-bytes"
    assert blobs.open("attachments", "missing") is None
