"""SubscriptionStore contract: adapters/subscriptions.py on Azurite and MemorySubscriptions.
Subscriptions are rows by id, listed per account in any case; the coalescing marker answers
True (queue a job) once until the job starts, and again when the pending one is a minute old
(presumed lost). Both run on a ManualClock so a pending job can age without waiting."""
from __future__ import annotations

from datetime import timedelta

import pytest

from shared_code import ports
from shared_code.adapters.subscriptions import PENDING_SECONDS
from tests.unit import memory

from .conftest import _port

ANN = "Support@Contoso.example"


@pytest.fixture
def clock():
    return memory.ManualClock()


@pytest.fixture
def subs(request, impl, clock):
    from shared_code.adapters.subscriptions import SubscriptionStore

    return _port(request, impl, lambda connection: SubscriptionStore(connection, clock.utcnow),
                 lambda: memory.MemorySubscriptions(clock.utcnow))


def test_it_is_a_subscription_store_port(subs):
    assert isinstance(subs, ports.SubscriptionStore)


def test_save_get_list_and_remove_subscriptions(subs, clock):
    expires = clock.utcnow() + timedelta(days=6)
    assert subs.get("sub-1") is None and subs.all() == []
    subs.save("sub-1", ANN, expires, secret_name="graph-push-abc")
    subs.save("sub-2", "other@contoso.example", expires, state_digest="d" * 64)
    row = subs.get("sub-1")
    assert (row["subscription_id"], row["address"], row["expires"], row["secret_name"],
            row["saved_at"]) == ("sub-1", "support@contoso.example", expires, "graph-push-abc",
                                 clock.utcnow())
    assert [r["subscription_id"] for r in subs.for_account("SUPPORT@contoso.example")] == ["sub-1"]
    assert sorted(r["subscription_id"] for r in subs.all()) == ["sub-1", "sub-2"]
    clock.advance(3600)
    subs.save("sub-1", ANN, expires + timedelta(days=1), secret_name="graph-push-abc")  # renewal
    renewed = subs.get("sub-1")
    assert (renewed["expires"], renewed["saved_at"]) == (expires + timedelta(days=1),
                                                         clock.utcnow())
    subs.remove("sub-1")
    subs.remove("sub-1")  # a missing subscription is not an error
    assert subs.get("sub-1") is None and subs.for_account(ANN) == []


def test_one_job_per_account_until_it_starts(subs):
    assert subs.request_fetch(ANN) is True
    assert subs.request_fetch("support@contoso.example") is False  # the queued job will see it
    assert subs.request_fetch("other@contoso.example") is True  # accounts are independent
    subs.mark_served(ANN)
    subs.mark_served(ANN)  # once started, again: nothing pending
    assert subs.request_fetch(ANN) is True
    assert subs.request_fetch(ANN) is False


def test_a_pending_job_a_minute_old_is_presumed_lost(subs, clock):
    assert subs.request_fetch(ANN) is True
    clock.advance(PENDING_SECONDS - 1)
    assert subs.request_fetch(ANN) is False
    clock.advance(1)
    assert subs.request_fetch(ANN) is True
    assert subs.push_state(ANN)["requested_at"] == clock.utcnow()


def test_push_state_records_sync_outcomes_and_survives_the_marker(subs, clock):
    assert subs.push_state(ANN) == {"requested_at": None, "synced_at": None, "last_error": ""}
    subs.mark_served(ANN)  # no marker yet: nothing to do
    subs.note_sync(ANN, "GraphError: 403 Forbidden")
    state = subs.push_state("support@contoso.example")
    assert (state["synced_at"], state["last_error"]) == (clock.utcnow(), "GraphError: 403 Forbidden")
    assert subs.request_fetch(ANN) is True  # a marker row holding only the sync outcome
    clock.advance(5)
    subs.note_sync(ANN)
    state = subs.push_state(ANN)
    assert (state["synced_at"], state["last_error"]) == (clock.utcnow(), "")
    assert state["requested_at"] == clock.utcnow() - timedelta(seconds=5)
    assert subs.request_fetch(ANN) is False  # the note kept the pending job's counters
    subs.forget_account(ANN)
    assert subs.push_state(ANN) == {"requested_at": None, "synced_at": None, "last_error": ""}
    assert subs.request_fetch(ANN) is True
