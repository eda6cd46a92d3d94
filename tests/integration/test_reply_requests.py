"""Issue 7 §2: what a reply costs in storage requests, counted by the benchmarks' proxy in
front of Azurite (its own process), so the count does not depend on how deskmail makes them.

A reply's one index request of its own is its claim (an insert, also rule 1's check and the
row later mail threads by): no read of its own Message-ID before, no upsert after.
"""
from __future__ import annotations

import pytest

from benchmarks.harness import StorageProxy
from shared_code.services.fetch import fetch_all
from shared_code.services.helpdesk import Helpdesk

from .helpers import SUPPORT, make_mail

REPLIES = 5


@pytest.fixture
def proxy(azurite, storage):
    child = StorageProxy(azurite)
    yield child
    child.stop()


@pytest.fixture
def counted(desk, proxy, monkeypatch):
    """The helpdesk of `desk`, its storage requests going through the counting proxy."""
    monkeypatch.setenv("AzureWebJobsStorage", proxy.connection_string())
    return Helpdesk.from_env()


def _index(requests: dict) -> dict:
    return {label: n for label, n in requests.items() if label.endswith(" messageindex")}


def _first_ticket(counted, graph) -> str:
    raw, first_id = make_mail(message_id="<first-of-thread@example.org>")
    graph.add_message(SUPPORT, raw)
    assert fetch_all(counted)[0].created == 1
    return first_id


def test_a_reply_makes_one_index_read_for_its_parent_and_one_insert_of_its_own(counted, graph,
                                                                              proxy):
    first_id = _first_ticket(counted, graph)
    for index in range(REPLIES):  # replies to the client's own first mail (the index knows it)
        graph.add_message(SUPPORT, make_mail(subject="Re: Printer on fire", body=f"again {index}",
                                             in_reply_to=f"<{first_id}>")[0])
    proxy.reset()

    summary = fetch_all(counted)[0]

    requests = proxy.snapshot()["requests"]
    assert (summary.threaded, summary.errors) == (REPLIES, [])
    # was 2 gets (its own Message-ID, then its parent's) and an upsert after the transaction
    assert _index(requests) == {"table get messageindex": REPLIES,
                                "table insert messageindex": REPLIES}, requests
    assert requests["table batch tickets"] == REPLIES, requests


def test_mail_threads_by_a_replys_claim(counted, graph, proxy):
    """The claim is the reply's index row: a later mail naming only the reply threads too."""
    first_id = _first_ticket(counted, graph)
    reply, reply_id = make_mail(subject="Re: Printer on fire", in_reply_to=f"<{first_id}>")
    graph.add_message(SUPPORT, reply)
    assert fetch_all(counted)[0].threaded == 1
    graph.add_message(SUPPORT, make_mail(subject="Re: Re: Printer on fire",
                                         in_reply_to=f"<{reply_id}>")[0])

    summary = fetch_all(counted)[0]

    assert (summary.threaded, summary.created, summary.errors) == (1, 0, [])
    [ticket] = counted.tickets.list()
    assert ticket.message_count == 3

