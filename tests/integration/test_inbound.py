"""Inbound mail end to end: Graph fake → fetch → pipeline → Azurite, checked through the CLI."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from shared_code.adapters.names import ATTACHMENTS, RAW_MAIL
from shared_code.adapters.names import OUTBOUND_MAIL
from shared_code.domain.model import Status
from shared_code.services.fetch import fetch_account, fetch_all
from shared_code.services.mailbox_run import DEADLINE_MARGIN_SECONDS
from shared_code.services.helpdesk import Helpdesk
from tests.fakes.exchange import sent_inside

from .helpers import SUPPORT, add_account, make_mail, run_cli
from .push_helpers import queued_jobs


def _fetch_json():
    code, data = run_cli("fetch", "--json")
    return code, {row["address"]: row for row in data}


def _tickets():
    code, data = run_cli("tickets", "list", "--json")
    assert code == 0
    return data


def _show(number):
    code, data = run_cli("tickets", "show", number, "--json")
    assert code == 0
    return data


def test_new_mail_becomes_a_ticket_and_is_marked_read(desk, graph):
    raw, message_id = make_mail()
    graph_id = graph.add_message(SUPPORT, raw)

    code, summary = _fetch_json()

    assert code == 0
    row = summary[SUPPORT]
    assert (row["fetched"], row["created"], row["threaded"], row["errors"]) == (1, 1, 0, [])
    [ticket] = _tickets()
    assert len(ticket["number"]) == 6 and ticket["number"][0] != "0"
    assert ticket["subject"] == "Printer on fire"
    assert ticket["status"] == "open"
    assert ticket["department"] == "Support"
    assert ticket["priority"] == "normal"
    assert ticket["client"] == {"name": "Ann Client", "email": "ann@example.org"}
    shown = _show(ticket["number"])
    [entry] = shown["entries"]
    assert entry["type"] == "message"
    assert entry["message_id"] == message_id
    assert "printer is on fire" in entry["body_text"]
    assert graph.get_message(SUPPORT, graph_id)["isRead"] is True
    assert len(desk.blobs.names(RAW_MAIL)) == 1
    account = desk.accounts.get(SUPPORT)
    assert account.last_fetch is not None and account.consecutive_failures == 0


def test_new_ticket_enqueues_auto_response_and_alert(desk, graph):
    raw, message_id = make_mail()
    graph.add_message(SUPPORT, raw)
    fetch_all(desk)
    queued = desk.queues.peek_notifications(OUTBOUND_MAIL)
    templates = sorted(n["template"] for n in queued)
    assert templates == ["new_ticket_alert", "new_ticket_auto_response"]
    auto = next(n for n in queued if n["template"] == "new_ticket_auto_response")
    assert auto["recipient"] == {"role": "client", "name": "Ann Client", "email": "ann@example.org"}
    assert auto["in_reply_to"] == message_id
    assert auto["account"] == SUPPORT
    assert auto["schema"] == "deskmail.notification/1"


def test_no_auto_response_when_the_account_has_it_off(desk, graph):
    run_cli("emails", "update", SUPPORT, "--no-auto-response")
    graph.add_message(SUPPORT, make_mail()[0])
    fetch_all(desk)
    assert [n["template"] for n in desk.queues.peek_notifications(OUTBOUND_MAIL)] == ["new_ticket_alert"]


def test_empty_fetch_still_updates_last_fetch(desk):
    fetch_all(desk)
    account = desk.accounts.get(SUPPORT)
    assert account.last_fetch is not None
    account.last_fetch = datetime(2020, 1, 1, tzinfo=timezone.utc)  # an old run, no sleeping
    desk.accounts.save_fetch_state(account)
    fetch_all(desk)
    assert desk.accounts.get(SUPPORT).last_fetch.year > 2020


def test_reply_by_in_reply_to_lands_in_the_same_ticket(desk, graph):
    raw, first_id = make_mail()
    graph.add_message(SUPPORT, raw)
    fetch_all(desk)
    reply, _ = make_mail(subject="Re: Printer on fire", body="It is out now.\n\nOn Mon, 23 Nov 2026 at 10:00, Ann Client <ann@example.org> wrote:\n> fire",
                         in_reply_to=f"<{first_id}>", references=f"<{first_id}>")
    graph.add_message(SUPPORT, reply)
    summary = fetch_all(desk)[0]
    assert (summary.created, summary.threaded) == (0, 1)
    [ticket] = _tickets()
    entries = _show(ticket["number"])["entries"]
    assert len(entries) == 2
    assert entries[1]["body_text"].strip() == "It is out now."
    queued = [n["template"] for n in desk.queues.peek_notifications(OUTBOUND_MAIL)]
    assert queued.count("new_message_alert") == 1


def test_mail_already_read_in_outlook_is_ingested_exactly_once(desk, graph):
    graph.add_message(SUPPORT, make_mail(subject="Opened first")[0], is_read=True)
    graph.add_message(SUPPORT, make_mail(subject="Unread")[0])
    assert fetch_all(desk)[0].created == 2
    assert fetch_all(desk)[0].fetched == 0
    assert sorted(t["subject"] for t in _tickets()) == ["Opened first", "Unread"]


def test_a_mail_read_and_unread_again_is_not_ingested_twice(desk, graph):
    graph_id = graph.add_message(SUPPORT, make_mail()[0])
    fetch_all(desk)
    graph.set_read(SUPPORT, graph_id, False)
    assert fetch_all(desk)[0].fetched == 0
    assert len(_tickets()) == 1


def test_same_message_id_twice_makes_one_ticket(desk, graph):
    raw, _ = make_mail()
    graph.add_message(SUPPORT, raw)
    graph.add_message(SUPPORT, raw)
    summary = fetch_all(desk)[0]
    assert (summary.created, summary.duplicates) == (1, 1)
    assert len(_tickets()) == 1
    assert all(m["isRead"] for m in graph.messages(SUPPORT))


def test_mail_from_our_own_address_is_not_posted(desk, graph):
    graph.add_message(SUPPORT, sent_inside(make_mail(sender=f"Support <{SUPPORT}>")[0]))
    summary = fetch_all(desk)[0]
    assert summary.ignored == 1 and _tickets() == []


def test_subject_tag_threads_only_for_participants(desk, graph):
    graph.add_message(SUPPORT, make_mail()[0])
    fetch_all(desk)
    number = _tickets()[0]["number"]
    graph.add_message(SUPPORT, make_mail(subject=f"[#{number}] more info")[0])
    graph.add_message(SUPPORT, make_mail(subject=f"[#{number}] hijack",
                                         sender="Mallory <mallory@example.net>")[0])
    summary = fetch_all(desk)[0]
    assert (summary.threaded, summary.created) == (1, 1)
    tickets = {t["client"]["email"]: t for t in _tickets()}
    assert len(_show(tickets["ann@example.org"]["number"])["entries"]) == 2
    assert tickets["mallory@example.net"]["number"] != number


def test_reply_reopens_a_closed_ticket(desk, graph):
    raw, first_id = make_mail()
    graph.add_message(SUPPORT, raw)
    fetch_all(desk)
    ticket = desk.tickets.list()[0]
    ticket.status = Status.CLOSED
    assert desk.tickets.update(ticket)
    graph.add_message(SUPPORT, make_mail(subject="Re: again", in_reply_to=f"<{first_id}>")[0])
    fetch_all(desk)
    assert _show(ticket.number)["status"] == "open"


def test_auto_reply_is_kept_logged_and_not_posted(desk, graph):
    ooo, _ = make_mail(subject="Automatic reply: Printer on fire",
                       headers={"X-Auto-Response-Suppress": "All", "Auto-Submitted": "auto-replied"})
    graph.add_message(SUPPORT, ooo)
    summary = fetch_all(desk)[0]
    assert summary.discarded == 1
    assert _tickets() == []
    assert desk.queues.peek_notifications(OUTBOUND_MAIL) == []
    assert len(desk.blobs.names(RAW_MAIL)) == 1
    code, log = run_cli("syslog", "--json")
    assert any(e["title"] == "Mail discarded" and "rule" in e["message"] for e in log)


def test_one_broken_account_does_not_stop_the_others(desk, graph, mailbox_app, identity):
    broken = "broken@contoso.example"
    graph.add_mailbox(broken)
    identity.register_app("other-tenant", "other-app", "right-secret")
    add_account({"tenant_id": "other-tenant", "client_id": "other-app",
                 "client_secret_name": "deskmail-graph-secret"}, broken)
    graph.add_message(SUPPORT, make_mail()[0])
    code, summary = _fetch_json()
    assert code == 1
    assert summary[SUPPORT]["created"] == 1
    assert summary[broken]["errors"]
    account = desk.accounts.get(broken)
    assert account.consecutive_failures == 1 and account.last_error
    assert mailbox_app["secret"] not in account.last_error
    _, log = run_cli("syslog", "--json")
    failure = next(e for e in log if e["title"] == "Mail fetch failed")
    assert broken in failure["message"] and mailbox_app["secret"] not in failure["message"]


def test_graph_throttling_and_outage_are_retried(desk, graph):
    graph.add_message(SUPPORT, make_mail()[0])
    graph.fail_next(429, count=1, retry_after=1)
    graph.fail_next(503, count=1, path_contains="$value")
    summary = fetch_all(desk)[0]
    assert summary.created == 1 and summary.errors == []
    # counted requests, not elapsed time (the waits themselves: tests/adapters/test_graph_client.py)
    statuses = [r.status for r in graph.requests if "/users/" in r.path]
    assert statuses[0] == 429 and statuses[1] != 429
    assert [r.status for r in graph.requests if "$value" in r.path] == [503, 200]


def test_a_held_lease_keeps_a_second_worker_out(desk, graph):
    from shared_code.adapters.table_base import safe_key

    graph.add_message(SUPPORT, make_mail()[0])
    lease = desk.blobs.acquire_lease(safe_key(SUPPORT), 15)
    try:
        summary = fetch_account(desk, SUPPORT)
        assert summary.skipped == "another worker is fetching this account"
        assert summary.fetched == 0
    finally:
        lease.release()
    assert fetch_account(desk, SUPPORT).created == 1


def test_fetch_stops_at_the_deadline_and_leaves_the_rest(desk, graph, monkeypatch):
    # one mail at a time, so the controlled clock's ticks are in step with the starts
    monkeypatch.setenv("FETCH_MAILS_IN_FLIGHT", "1")
    desk = Helpdesk.from_env()
    for index in range(6):
        graph.add_message(SUPPORT, make_mail(subject=f"mail {index}")[0])
    clock = [0.0]  # a controlled clock: each stored mail "takes" one second

    def one_second_per_mail(step, key):
        if step == "ticket_written":
            clock[0] += 1

    first = fetch_account(desk, SUPPORT, deadline=DEADLINE_MARGIN_SECONDS + 2.5,
                          checkpoint=one_second_per_mail, clock=lambda: clock[0])
    assert (first.fetched, first.created, first.errors) == (3, 3, [])
    assert sorted(t["subject"] for t in _tickets()) == ["mail 0", "mail 1", "mail 2"]
    second = fetch_account(desk, SUPPORT)
    assert first.created + second.created == 6
    assert len(_tickets()) == 6


def test_batch_size_limits_one_run_oldest_first(desk, graph):
    run_cli("emails", "update", SUPPORT, "--batch-size", "2")
    for index in range(5):
        graph.add_message(SUPPORT, make_mail(subject=f"mail {index}")[0])
    assert fetch_all(desk)[0].created == 2
    assert sorted(t["subject"] for t in _tickets()) == ["mail 0", "mail 1"]
    fetch_all(desk)
    fetch_all(desk)
    assert len(_tickets()) == 5



def test_a_full_batch_queues_the_next_run_at_once_until_the_backlog_is_gone(desk, graph):
    """A burst of 5 mails with a batch of 2: the worker's runs follow each other through the
    queue (no waiting for the next tick), and the run that finds no more stops the chain."""
    from shared_code.services.fetch import run_fetch_job

    run_cli("emails", "update", SUPPORT, "--batch-size", "2")
    for index in range(5):
        graph.add_message(SUPPORT, make_mail(subject=f"mail {index}")[0])
    job, runs = {"address": SUPPORT, "scheduled": datetime.now(timezone.utc).isoformat()}, []
    while job is not None:
        runs.append(run_fetch_job(desk, job))
        [job] = queued_jobs(desk) or [None]
    assert [run.created for run in runs] == [2, 2, 1]
    assert [run.more_waiting for run in runs] == [True, True, False]
    assert len(_tickets()) == 5


def test_follow_up_runs_stop_at_their_limit_and_the_timer_takes_over(desk, graph):
    from shared_code.services.fetch import MAX_FOLLOW_UPS, run_fetch_job

    run_cli("emails", "update", SUPPORT, "--batch-size", "1")
    for index in range(3):
        graph.add_message(SUPPORT, make_mail(subject=f"mail {index}")[0])
    now = datetime.now(timezone.utc).isoformat()
    first = run_fetch_job(desk, {"address": SUPPORT, "scheduled": now, "follow_up": MAX_FOLLOW_UPS - 1})
    [follow_up] = queued_jobs(desk)
    assert first.more_waiting and follow_up["follow_up"] == MAX_FOLLOW_UPS
    last = run_fetch_job(desk, follow_up)
    assert last.more_waiting and queued_jobs(desk) == []
    assert len(_tickets()) == 2

def test_custom_folder_is_fetched(desk, graph):
    folder_id = graph.add_folder(SUPPORT, "Helpdesk")
    run_cli("emails", "update", SUPPORT, "--folder", "Helpdesk")
    graph.add_message(SUPPORT, make_mail(subject="in inbox")[0])
    graph.add_message(SUPPORT, make_mail(subject="in helpdesk")[0], folder=folder_id)
    fetch_all(desk)
    assert [t["subject"] for t in _tickets()] == ["in helpdesk"]


def test_mark_as_read_off_leaves_mail_unread_but_fetches_once(desk, graph):
    run_cli("emails", "update", SUPPORT, "--no-mark-as-read")
    graph_id = graph.add_message(SUPPORT, make_mail()[0])
    assert fetch_all(desk)[0].created == 1
    assert fetch_all(desk)[0].fetched == 0
    assert graph.get_message(SUPPORT, graph_id)["isRead"] is False


def test_a_failed_mark_as_read_is_retried_without_failing_the_run(desk, graph):
    graph_id = graph.add_message(SUPPORT, make_mail()[0])
    graph.fail_next(403, count=1, method="PATCH", code="ErrorAccessDenied")
    summary = fetch_all(desk)[0]
    assert summary.created == 1 and summary.errors == []
    assert graph.get_message(SUPPORT, graph_id)["isRead"] is False
    _, log = run_cli("syslog", "--json")
    assert any(e["title"] == "Mark as read failed" for e in log)
    again = fetch_all(desk)[0]
    assert again.fetched == 0 and graph.get_message(SUPPORT, graph_id)["isRead"] is True
    assert len(_tickets()) == 1


def test_mail_moved_into_the_inbox_later_is_ingested(desk, graph):
    """Junk → Inbox ("Not junk") hours after it arrived: its received time is older than the
    watermark, it still counts."""
    from datetime import datetime, timedelta, timezone

    graph.add_message(SUPPORT, make_mail(subject="first")[0])
    fetch_all(desk)
    old = datetime.now(timezone.utc) - timedelta(hours=2)
    graph_id = graph.add_message(SUPPORT, make_mail(subject="was junk")[0], folder="junkemail",
                                 received=old)
    assert fetch_all(desk)[0].fetched == 0
    graph.move_message(SUPPORT, graph_id, "inbox")
    assert fetch_all(desk)[0].created == 1
    assert sorted(t["subject"] for t in _tickets()) == ["first", "was junk"]
    graph.move_message(SUPPORT, graph_id, "archive")
    graph.move_message(SUPPORT, graph_id, "inbox")
    assert fetch_all(desk)[0].fetched == 0


def test_no_reply_pattern_is_configurable(desk, graph, monkeypatch):
    from shared_code.services.helpdesk import Helpdesk

    monkeypatch.setenv("NO_REPLY_PATTERN", r"^(?:alerts|robot)\b")
    graph.add_message(SUPPORT, make_mail(sender="Robot <robot@example.org>")[0])
    fetch_all(Helpdesk.from_env())
    assert [n["template"] for n in desk.queues.peek_notifications(OUTBOUND_MAIL)] == ["new_ticket_alert"]
    _, log = run_cli("syslog", "--json")
    assert any(e["title"] == "Auto-response suppressed" and "robot@example.org" in e["message"]
               for e in log)


def test_mail_from_before_the_account_was_added_stays_out_when_touched(desk, graph):
    """Opening or flagging a months-old mail changes it in Exchange: it must not become a ticket."""
    from datetime import datetime, timedelta, timezone

    ancient = datetime.now(timezone.utc) - timedelta(days=60)
    graph_id = graph.add_message(SUPPORT, make_mail(subject="old")[0], is_read=True, received=ancient)
    graph.set_read(SUPPORT, graph_id, False)
    assert fetch_all(desk)[0].fetched == 0
    assert _tickets() == []


def test_the_functions_fan_out_and_fetch_and_drop_stale_jobs(desk, graph):
    """The timer queues one job per account; the queue function fetches it; an old job is dropped."""
    import json
    from datetime import datetime, timedelta, timezone

    import azure.functions as func
    from azure.functions.timer import TimerRequest

    from functions import fetch as fetch_functions
    from shared_code.adapters.names import FETCH_JOBS

    functions = {name: getattr(fetch_functions, name).build().get_user_function()
                 for name in ("fetch_mail", "fetch_mailbox")}
    graph.add_message(SUPPORT, make_mail()[0])
    functions["fetch_mail"](TimerRequest(past_due=False))
    [(job, handle)] = desk.queues.receive(FETCH_JOBS)
    assert job["address"] == SUPPORT
    stale = dict(job, scheduled=(datetime.now(timezone.utc) - timedelta(minutes=5)).isoformat())
    functions["fetch_mailbox"](func.QueueMessage(body=json.dumps(stale).encode()))
    assert _tickets() == []
    functions["fetch_mailbox"](func.QueueMessage(body=json.dumps(job).encode()))
    assert len(_tickets()) == 1
