"""Issue 7 §2: what a reply costs in storage requests, counted by the benchmarks' proxy in
front of Azurite (its own process), so the count does not depend on how deskmail makes them;
and what overlaps in a fetch run (mark-read while the chunk's other mails are stored).

A reply's one index request of its own is its claim (an insert, also rule 1's check and the
row later mail threads by): no read of its own Message-ID before, no upsert after.
"""
from __future__ import annotations

from shared_code.services.fetch import fetch_all
from shared_code.services.helpdesk import Helpdesk

from .helpers import SUPPORT, make_mail

REPLIES = 5
GUARD_SECONDS = 10  # a guard against a hang only (the old code never marks it read in time)


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


def test_a_mail_is_marked_read_while_the_rest_of_its_chunk_is_stored(desk, graph, monkeypatch):
    """Issue 7 §2 (latency): a finished mail's mark-read starts at once, not after its chunk,
    so Graph works while storage does. One mail at a time here: the second mail of the chunk
    waits, at its transaction, until the first is read in Graph (before: never, in its run)."""
    monkeypatch.setenv("FETCH_MAILS_IN_FLIGHT", "1")
    graph.add_message(SUPPORT, make_mail(subject="first of the run")[0])  # a chunk of its own
    raw_a, a = make_mail(subject="Printer on fire")
    raw_b, b = make_mail(subject="Scanner on fire")
    graph_a = graph.add_message(SUPPORT, raw_a)
    graph.add_message(SUPPORT, raw_b)
    seen: dict[str, bool] = {}

    def checkpoint(step: str, mail: str) -> None:
        if step == "ticket_written" and mail == b:
            # woken by the fake's own request log; the timeout only guards against a hang
            graph.wait_for_request(lambda r: r.method == "PATCH" and graph_a in r.path,
                                   timeout=GUARD_SECONDS)
            seen["a read before b stored"] = {m["id"]: m["isRead"]
                                              for m in graph.messages(SUPPORT)}[graph_a]

    summary = fetch_all(Helpdesk.from_env(), checkpoint=checkpoint)[0]

    assert (summary.created, summary.errors) == (3, [])
    assert seen == {"a read before b stored": True}
    assert all(m["isRead"] for m in graph.messages(SUPPORT))
