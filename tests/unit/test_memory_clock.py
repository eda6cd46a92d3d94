"""What only the in-memory ports can show quickly: time passing, on their injected clock.

(The contract suite pins everything else against the real adapters; these are the behaviours
whose real counterpart takes wall-clock time: a lease lapsing, a hidden message coming back.)"""
from __future__ import annotations

from . import memory


def test_a_lease_lapses_when_its_holder_stops_renewing():
    clock = memory.ManualClock()
    blobs = memory.MemoryBlobStore(clock)
    stalled = blobs.acquire_lease("support", 60)

    clock.advance(59)
    assert blobs.acquire_lease("support", 60) is None and stalled.lost is False
    clock.advance(1)
    taker = blobs.acquire_lease("support", 60)

    assert taker is not None and stalled.lost is True and taker.lost is False


def test_a_hidden_message_comes_back_when_its_visibility_ends():
    clock = memory.ManualClock()
    queues = memory.MemoryQueues(clock)
    queues.send("outbound-mail", {"id": "later"}, visibility_timeout=30)
    queues.send("outbound-mail", {"id": "now"})
    [(_, handle)] = queues.receive("outbound-mail", visibility_timeout=60)

    clock.advance(30)
    assert [m for m, _ in queues.receive("outbound-mail", visibility_timeout=60)] == [{"id": "later"}]
    clock.advance(30)
    [(message, again)] = queues.receive("outbound-mail", visibility_timeout=60)

    assert (message, again.id, again.dequeue_count) == ({"id": "now"}, handle.id, 2)


def test_a_cached_secret_expires_after_its_ttl():
    clock = memory.ManualClock()
    secrets = memory.MemorySecrets({"graph": "old"}, ttl_seconds=300, clock=clock)
    assert secrets.get("graph") == "old"
    secrets.values["graph"] = "new"

    clock.advance(299)
    assert secrets.get("graph") == "old"
    clock.advance(1)
    assert secrets.get("graph") == "new"
