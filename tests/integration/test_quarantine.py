"""One bad mail never stalls a mailbox: a mail whose download keeps failing, or whose
processing ends the process, is quarantined once after MAX_PROCESSING_ATTEMPTS attempts while
the mails behind it become tickets; an outage quarantines nothing; retry and dismiss."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from shared_code.adapters.graph import parse_graph_datetime
from shared_code.adapters.table_base import safe_key
from shared_code.services.fetch import fetch_all
from shared_code.services.helpdesk import Helpdesk

from .fetch_child import KILLED
from .helpers import SUPPORT, make_mail, run_cli

MAX = 3
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def desk(desk, monkeypatch):
    """No client-side retries, so a 5xx costs no back-off wait; the attempt limit pinned."""
    monkeypatch.setenv("GRAPH_MAX_RETRIES", "0")
    monkeypatch.setenv("MAX_PROCESSING_ATTEMPTS", str(MAX))
    return Helpdesk.from_env()


def _mails(graph, *subjects: str) -> list[str]:
    """One mail per subject, received a whole second apart (so the watermark checks do not
    depend on whether the test happened to run within one second)."""
    first = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=1)
    return [graph.add_message(SUPPORT, make_mail(subject=subject)[0],
                              received=first + timedelta(seconds=index))
            for index, subject in enumerate(subjects)]


def _subjects() -> list[str]:
    return sorted(t["subject"] for t in run_cli("tickets", "list", "--json")[1])


def _quarantined(*flags: str) -> list[dict]:
    code, rows = run_cli("quarantine", "list", "--json", *flags)
    assert code == 0
    return rows or []


def _log(title: str) -> list[dict]:
    return [e for e in run_cli("syslog", "--json", "--limit", "500")[1] if e["title"] == title]


def _assert_quarantined_once(graph, desk, poison: str, error_part: str, raw: bool) -> dict:
    [row] = _quarantined()
    assert row["graph_id"] == poison and row["state"] == "quarantined"
    assert row["attempts"] == MAX and error_part in row["error"]
    assert row["subject"] == "poison" and row["from"] == {"name": "Ann Client",
                                                          "email": "ann@example.org"}
    assert bool(row["raw_blob"]) is raw
    [entry] = _log("Mail quarantined")
    assert row["id"] in entry["message"]
    text = run_cli("quarantine", "list")[1]
    assert row["id"] in text and "poison" in text
    # the watermark moved past it and the next run finds nothing left
    last = max(parse_graph_datetime(m["receivedDateTime"]) for m in graph.messages(SUPPORT))
    assert desk.accounts.get(SUPPORT).fetch_watermark >= last
    again = fetch_all(desk)[0]
    assert (again.fetched, again.quarantined, again.errors) == (0, 0, [])
    assert len(_quarantined()) == 1 and len(_log("Mail quarantined")) == 1
    return row


@pytest.mark.parametrize("status,code", [(500, None), (503, None), (404, "ErrorItemNotFound"),
                                         (404, None), (403, "ErrorAccessDenied")],
                         ids=["500", "503", "404-item-not-found", "404", "403"])
def test_a_mail_whose_download_always_fails_is_quarantined_once(desk, graph, status, code):
    poison, *_ = _mails(graph, "poison", "later 1", "later 2")
    graph.break_message(SUPPORT, poison, status, code)

    runs = [fetch_all(desk)[0] for _ in range(MAX)]

    assert runs[0].created == 2 and _subjects() == ["later 1", "later 2"]
    assert [r.quarantined for r in runs] == [0] * (MAX - 1) + [1]
    assert graph.get_message(SUPPORT, poison)["isRead"] is True
    _assert_quarantined_once(graph, desk, poison, str(status), raw=False)


@pytest.mark.parametrize("step", ["raw_saved", "parsed"])
def test_a_mail_whose_processing_ends_the_process_is_quarantined_once(desk, graph, app_env,
                                                                      step):
    """The fetch runs in a child process that `os._exit`s when the poison mail has been
    downloaded and saved (its download kills the process), or parsed (its processing does)."""
    from azure.storage.blob import BlobClient, BlobLeaseClient

    poison, *_ = _mails(graph, "poison", "later 1", "later 2")
    lease = BlobClient.from_connection_string(app_env.storage, "fetch-leases", safe_key(SUPPORT))
    codes, subjects = [], []
    for _ in range(MAX + 1):
        child = subprocess.run([sys.executable, "-m", "tests.integration.fetch_child", poison,
                                step], cwd=ROOT, env=dict(os.environ), capture_output=True,
                               text=True, timeout=120)
        codes.append(child.returncode)
        if child.returncode == KILLED:  # a killed worker's lease lapses; here: at once
            BlobLeaseClient(lease).break_lease(lease_break_period=0)
        subjects.append(_subjects())

    assert codes == [KILLED] * MAX + [0], [codes, child.stderr[-2000:]]
    # killed while the poison mail was first; the later mails went first in the next run
    assert subjects[1] == ["later 1", "later 2"]
    assert subjects[-1] == ["later 1", "later 2"]
    row = _assert_quarantined_once(graph, desk, poison, "ended the fetch run", raw=True)
    assert row["raw_blob"] in desk.blobs.names("raw-mail")


def test_a_mail_that_fails_in_the_pipeline_is_quarantined_with_its_raw_copy(desk, graph):
    poison, *_ = _mails(graph, "poison", "later")

    def fail(step: str, mail: str) -> None:
        if step == "parsed" and mail == poison:
            raise RuntimeError("cannot process this mail")

    runs = [fetch_all(desk, checkpoint=fail)[0] for _ in range(MAX)]

    assert runs[0].created == 1 and [r.quarantined for r in runs] == [0, 0, 1]
    _assert_quarantined_once(graph, desk, poison, "cannot process this mail", raw=True)


def test_an_outage_of_every_download_quarantines_nothing(desk, graph):
    ids = _mails(graph, "one", "two", "three")
    for graph_id in ids:
        graph.break_message(SUPPORT, graph_id, 503)

    runs = [fetch_all(desk)[0] for _ in range(MAX + 2)]

    assert all(r.errors and r.quarantined == 0 and r.created == 0 for r in runs)
    assert "outage" in runs[-1].errors[0]
    assert _quarantined("--all") == [] and _log("Mail quarantined") == []
    assert desk.accounts.get(SUPPORT).consecutive_failures == MAX + 2
    assert all(int((desk.ledger.get(SUPPORT, i) or {}).get("attempts") or 0) == 0 for i in ids)
    for graph_id in ids:
        graph.repair_message(SUPPORT, graph_id)
    assert fetch_all(desk)[0].created == 3


def test_a_whole_graph_outage_quarantines_nothing(desk, graph):
    _mails(graph, "only")
    graph.fail_next(503, count=MAX + 1)  # every run stops at its first request, the listing
    runs = [fetch_all(desk)[0] for _ in range(MAX + 1)]
    assert all(r.errors and r.quarantined == 0 for r in runs)
    assert fetch_all(desk)[0].created == 1
    assert _quarantined("--all") == []


def test_a_mail_deleted_before_its_download_vanishes_and_is_not_quarantined(desk, graph):
    gone, *_ = _mails(graph, "deleted", "later")
    graph.delete_on_download(SUPPORT, gone)
    summary = fetch_all(desk)[0]
    assert summary.created == 1 and summary.errors == []
    assert (desk.ledger.get(SUPPORT, gone) or {}).get("outcome") == "vanished"
    assert len(_log("Mail vanished")) == 1 and _quarantined("--all") == []


def _quarantine_poison(desk, graph) -> tuple[str, str]:
    poison, *_ = _mails(graph, "poison", "later")
    graph.break_message(SUPPORT, poison, 500)
    for _ in range(MAX):
        fetch_all(desk)
    [row] = _quarantined()
    return poison, row["id"]


def test_retry_gives_a_quarantined_mail_one_more_attempt(desk, graph):
    poison, qid = _quarantine_poison(desk, graph)
    graph.repair_message(SUPPORT, poison)
    assert fetch_all(desk)[0].fetched == 0  # quarantined mail stays put until sent back

    code, row = run_cli("quarantine", "retry", qid.upper(), "--by", "alice", "--json")
    assert code == 0 and (row["state"], row["retry_requested_by"]) == ("retry", "alice")
    assert [r["state"] for r in _quarantined()] == ["retry"]
    summary = fetch_all(desk)[0]

    assert (summary.created, summary.quarantined) == (1, 0)
    assert _subjects() == ["later", "poison"]
    assert _quarantined() == []
    [released] = _quarantined("--all")
    assert released["state"] == "released" and released["outcome"] == "created"
    assert len(_log("Quarantined mail processed")) == 1
    assert fetch_all(desk)[0].fetched == 0 and _subjects() == ["later", "poison"]


def test_a_retry_that_crashed_after_storing_the_mail_is_released_not_quarantined(desk, graph):
    from tests.pipeline import SimulatedCrash, crash_at

    poison, qid = _quarantine_poison(desk, graph)
    graph.repair_message(SUPPORT, poison)
    run_cli("quarantine", "retry", qid)
    with pytest.raises(SimulatedCrash):
        fetch_all(desk, checkpoint=crash_at("processed"))  # stored, not yet released

    summary = fetch_all(desk)[0]

    assert (summary.quarantined, summary.fetched) == (0, 0)
    assert _subjects() == ["later", "poison"]
    [row] = _quarantined("--all")
    assert (row["state"], row["outcome"]) == ("released", "created")
    assert _log("Mail quarantined again") == []


def test_a_retry_that_fails_again_quarantines_it_again_once(desk, graph):
    poison, qid = _quarantine_poison(desk, graph)
    assert run_cli("quarantine", "retry", qid)[0] == 0

    summary = fetch_all(desk)[0]

    assert summary.quarantined == 1 and summary.created == 0
    [row] = _quarantined()
    assert (row["id"], row["state"], row["attempts"]) == (qid, "quarantined", MAX)
    assert len(_log("Mail quarantined")) == 1 and len(_log("Mail quarantined again")) == 1
    assert fetch_all(desk)[0].fetched == 0
    assert len(_log("Mail quarantined again")) == 1


def test_dismiss_records_who_and_leaves_the_default_list(desk, graph):
    _, qid = _quarantine_poison(desk, graph)

    code, row = run_cli("quarantine", "dismiss", qid, "--by", "alice@contoso.example", "--json")

    assert code == 0 and row["state"] == "dismissed"
    assert _quarantined() == []
    [shown] = _quarantined("--all")
    assert (shown["id"], shown["dismissed_by"]) == (qid, "alice@contoso.example")
    assert shown["dismissed_at"]
    assert fetch_all(desk)[0].fetched == 0


@pytest.mark.parametrize("action", ["retry", "dismiss"])
def test_an_unknown_id_is_named_in_the_error(desk, capsys, action):
    code, _ = run_cli("quarantine", action, "nope42")
    assert code == 1
    assert "no quarantined mail with id 'nope42'" in capsys.readouterr().err


def test_counting_attempts_adds_no_ledger_write_for_a_healthy_mail(desk, graph):
    """A healthy mail's ledger row is written twice, each time in its chunk's transaction:
    the attempt before the work, the final state (processed and marked read: done) after."""
    from collections import Counter

    writes: Counter = Counter()
    single: list[str] = []
    apply, update = desk.ledger.apply, desk.ledger.update

    def counting(account: str, changes: dict) -> int:
        writes.update(list(changes))
        return apply(account, changes)

    desk.ledger.apply = counting
    desk.ledger.update = lambda account, graph_id, fields: (single.append(graph_id),
                                                           update(account, graph_id, fields))
    ids = _mails(graph, "one", "two")
    assert fetch_all(desk)[0].created == 2
    assert [writes[i] for i in ids] == [2, 2] and single == []
    assert all(desk.ledger.get(SUPPORT, i)["attempts"] == 1 for i in ids)
    assert all(desk.ledger.get(SUPPORT, i)["state"] == "done" for i in ids)


def test_an_outage_answering_404_for_every_download_quarantines_nothing(desk, graph):
    ids = _mails(graph, "one", "two")
    for graph_id in ids:
        graph.break_message(SUPPORT, graph_id, 404)
    runs = [fetch_all(desk)[0] for _ in range(MAX + 1)]
    assert all(r.quarantined == 0 and "outage" in r.errors[0] for r in runs)
    assert _quarantined("--all") == [] and _log("Mail vanished") == []
