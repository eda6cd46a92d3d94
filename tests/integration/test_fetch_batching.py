"""A fetch run's storage requests and concurrency (issue 7): the ledger rows of the listed
window are read with one query per run, the ledger's state changes and the system-log lines
of a run are written in entity-group transactions, up to FETCH_MAILS_IN_FLIGHT mails are
processed at once while a conversation stays in order, and the watermark never passes an
unfinished mail.

Requests are counted by the benchmarks' proxy in front of Azurite (its own process), so the
count does not depend on how deskmail makes them.
"""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from shared_code.adapters.graph import parse_graph_datetime
from shared_code.services.fetch import fetch_all

from .helpers import SUPPORT, make_mail, run_cli

# a guard against a hang only (the old, one-at-a-time code would wait forever): never a bound
GUARD_SECONDS = 60



def _requests(proxy) -> dict:
    return proxy.snapshot()["requests"]


def _ledger(requests: dict) -> dict:
    return {label: n for label, n in requests.items() if label.endswith(" ingestledger")}


def test_a_run_that_finds_nothing_costs_a_few_requests_whatever_the_overlap(counted, graph,
                                                                             proxy):
    for index in range(20):  # the batch size; all within the overlap window of the next run
        graph.add_message(SUPPORT, make_mail(subject=f"mail {index}")[0])
    assert fetch_all(counted)[0].created == 20
    proxy.reset()

    summary = fetch_all(counted)[0]

    requests = _requests(proxy)
    assert (summary.fetched, summary.errors) == (0, [])
    assert _ledger(requests) == {"table query ingestledger": 1}, requests
    # lease 3, accounts 4, staff 1, quarantine 1, ledger 1; was 30 here (a get per listed mail)
    assert sum(requests.values()) <= 10, requests


def test_a_runs_ledger_and_log_writes_are_transactions(counted, graph, proxy):
    for index in range(9):
        graph.add_message(SUPPORT, make_mail(subject=f"Out of office {index}",
                                             headers={"Auto-Submitted": "auto-replied"})[0])
    proxy.reset()

    summary = fetch_all(counted)[0]

    requests = _requests(proxy)
    assert (summary.discarded, summary.errors) == (9, [])
    # chunks of 1, 4 and 4 mails: each an attempt transaction before and a state one after
    assert requests["table batch ingestledger"] == 6, requests
    assert "table upsert-merge ingestledger" not in requests
    assert "table get ingestledger" not in requests  # the partition was read in one go
    # nine "Mail discarded" lines and the run's "Mail fetched": one transaction
    assert requests["table batch systemlog"] == 1, requests
    assert not [label for label in requests if label.startswith("table upsert") and
                label.endswith("systemlog")]
    log = run_cli("syslog", "--json", "--limit", "100")[1]
    assert sorted(e["title"] for e in log) == ["Mail discarded"] * 9 + ["Mail fetched"]
    assert all(row["state"] == "done" and row["attempts"] == 1
               for row in counted.ledger.list(SUPPORT))


def test_a_row_written_before_received_was_stored_is_still_found(desk, graph):
    graph.add_message(SUPPORT, make_mail(subject="first")[0])
    assert fetch_all(desk)[0].created == 1  # this run marks the partition
    two_hours_ago = datetime.now(timezone.utc) - timedelta(hours=2)
    old = graph.add_message(SUPPORT, make_mail(subject="ingested long ago")[0],
                            received=two_hours_ago)
    # the previous code's row: done, no `received`
    desk.ledger.update(SUPPORT, old, {"state": "done", "outcome": "created"})
    graph.set_read(SUPPORT, old)  # opened in Outlook now: listed again

    summary = fetch_all(desk)[0]

    assert (summary.fetched, summary.created, summary.errors) == (0, 0, [])


def test_the_first_run_of_this_code_reads_the_previous_codes_rows(desk, graph):
    old = graph.add_message(SUPPORT, make_mail(subject="ingested by the previous code")[0])
    desk.ledger.update(SUPPORT, old, {"state": "done", "outcome": "created"})  # no marker yet
    graph.add_message(SUPPORT, make_mail(subject="new")[0])

    summary = fetch_all(desk)[0]

    assert (summary.fetched, summary.created) == (1, 1)
    assert [t["subject"] for t in run_cli("tickets", "list", "--json")[1]] == ["new"]


class _Gate:
    """Checkpoint hook: mail `waiter` waits at "ticket_written" until mail `opener` has passed
    it; records the order in which mails leave that step."""

    def __init__(self, waiter: str, opener: str, fail_waiter: bool = False):
        self.waiter, self.opener, self.fail_waiter = waiter, opener, fail_waiter
        self.opened = threading.Event()
        self.left: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, step: str, mail: str) -> None:
        if step != "ticket_written":
            return
        if mail == self.waiter:
            assert self.opened.wait(GUARD_SECONDS), "the other mail never ran alongside"
        if mail == self.opener:
            self.opened.set()
        with self._lock:
            self.left.append(mail)
        if mail == self.waiter and self.fail_waiter:
            raise RuntimeError("cannot store this mail")


def test_a_reply_chain_stays_in_order_while_other_mail_runs_alongside(desk, graph):
    graph.add_message(SUPPORT, make_mail(subject="first of the run")[0])  # a chunk of its own
    raw_a, a = make_mail(subject="Printer on fire")
    raw_b, b = make_mail(subject="Re: Printer on fire", in_reply_to=f"<{a}>",
                         references=f"<{a}>")
    raw_c, c = make_mail(subject="Re: Re: Printer on fire", in_reply_to=f"<{b}>",
                         references=f"<{b}>")  # names only B: the union links it to A
    raw_d, d = make_mail(subject="Unrelated")
    for raw in (raw_a, raw_b, raw_c, raw_d):
        graph.add_message(SUPPORT, raw)
    gate = _Gate(waiter=a, opener=d)  # A is stored only once D, listed after it, was

    summary = fetch_all(desk, checkpoint=gate)[0]

    assert (summary.created, summary.threaded, summary.errors) == (3, 2, [])
    assert gate.left.index(d) < gate.left.index(a) < gate.left.index(b) < gate.left.index(c)
    tickets = {t["subject"]: t for t in run_cli("tickets", "list", "--json")[1]}
    assert sorted(tickets) == ["Printer on fire", "Unrelated", "first of the run"]
    number = tickets["Printer on fire"]["number"]
    assert [e.message_id for e in desk.tickets.entries(number)] == [a, b, c]


def test_the_watermark_never_passes_an_unfinished_mail(desk, graph):
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=30)
    ids, keys = [], []
    for index in range(5):  # listing order = received order, a minute apart
        raw, key = make_mail(subject=f"mail {index}")
        ids.append(graph.add_message(SUPPORT, raw, received=start + timedelta(minutes=index)))
        keys.append(key)
    # mail 2 fails, but only after mail 4 (listed after it, in flight alongside) was stored
    gate = _Gate(waiter=keys[2], opener=keys[4], fail_waiter=True)

    summary = fetch_all(desk, checkpoint=gate)[0]

    assert summary.created == 4
    [error] = summary.errors
    assert "cannot store this mail" in error  # its own failure, with mail 4 stored meanwhile
    assert gate.left.index(keys[4]) < gate.left.index(keys[2])
    listed = {m["id"]: parse_graph_datetime(m["lastModifiedDateTime"])
              for m in graph.messages(SUPPORT)}
    watermark = desk.accounts.get(SUPPORT).fetch_watermark
    assert watermark < start + timedelta(minutes=2)  # not past mail 2
    assert watermark >= start + timedelta(minutes=1)  # past mail 1
    assert len(listed) == 5
    # the next run finishes mail 2, and only it
    again = fetch_all(desk)[0]
    assert (again.fetched, again.created, again.errors) == (1, 1, [])
