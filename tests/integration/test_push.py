"""Push ingestion (issue 10 §1) against Azurite, the Graph fake's subscriptions and the webhook
served by uvicorn: handshake, clientState, notification → ticket through the queue worker,
coalescing, renewal, deletion, lifecycle events, and push racing the timer."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest

from .helpers import SUPPORT, make_mail, run_cli
from .push_helpers import Webhook, drain, queued_jobs


def _tickets():
    code, data = run_cli("tickets", "list", "--json")
    assert code == 0
    return data


@pytest.fixture
def webhook():
    hook = Webhook()
    yield hook
    hook.stop()


@pytest.fixture
def push(desk, webhook, monkeypatch):
    """The helpdesk with GRAPH_NOTIFICATION_URL pointing at the served webhook."""
    from shared_code.services.helpdesk import Helpdesk

    monkeypatch.setenv("GRAPH_NOTIFICATION_URL", webhook.url)
    return Helpdesk.from_env()


def _subscribe(push):
    from shared_code.services.subscriptions import sync_subscriptions

    report = sync_subscriptions(push)
    assert report.errors == []
    return report


def test_subscribing_performs_the_handshake_and_stores_no_client_state(push, graph):
    report = _subscribe(push)
    [sub_id] = report.created
    [sub] = graph.subscriptions.values()
    assert sub["id"] == sub_id and sub["changeType"] == "created"
    assert sub["resource"].startswith(f"users/{SUPPORT}/mailFolders(")
    [row] = push.subscriptions.all()
    assert row["address"] == SUPPORT and row["state_digest"]
    assert sub["clientState"] not in str(row)  # only its digest is kept without a vault
    assert _subscribe(push).created == []  # idempotent: one subscription per account


def test_webhook_echoes_the_validation_token_as_plain_text(push, webhook):
    import requests

    answer = requests.post(f"{webhook.url}?validationToken=abc%20123", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    assert answer.text == "abc 123"
    too_long = requests.post(f"{webhook.url}?validationToken={'x' * 2000}", timeout=10)
    assert too_long.status_code == 400 and too_long.json()["field"] == "validationToken"


def test_webhook_refuses_bodies_that_are_not_notifications(push, webhook):
    import requests

    for body, field in ((b"not json", "body"), (b'{"x": 1}', "value")):
        answer = requests.post(webhook.url, data=body, timeout=10)
        assert answer.status_code == 400 and answer.json()["field"] == field
    assert requests.get(webhook.url, timeout=10).status_code == 405  # POST only
    assert queued_jobs(push) == []


def test_handshake_failure_is_refused_by_graph(desk, graph, monkeypatch):
    from shared_code.services.helpdesk import Helpdesk
    from shared_code.services.subscriptions import sync_subscriptions

    monkeypatch.setenv("GRAPH_NOTIFICATION_URL", "http://127.0.0.1:9/api/graph/notifications")
    report = sync_subscriptions(Helpdesk.from_env())
    assert report.created == [] and "ValidationError" in report.errors[0]
    assert graph.subscriptions == {}


def test_notification_becomes_a_ticket_through_the_queue_worker(push, graph):
    _subscribe(push)
    graph.add_message(SUPPORT, make_mail(subject="Pushed")[0])
    assert graph.wait_for_push(1) and graph.push_failures == []
    [job] = queued = queued_jobs(push)
    assert job["address"] == SUPPORT and job["push"] is True
    push.queues.send("fetch-jobs", queued[0])
    [summary] = drain(push)
    assert summary.created == 1
    assert [t["subject"] for t in _tickets()] == ["Pushed"]


def test_wrong_client_state_is_dropped_and_logged(push, graph, webhook, caplog):
    import requests

    _subscribe(push)
    [sub_id] = graph.subscriptions
    caplog.set_level(logging.WARNING, logger="deskmail.push")
    body = {"value": [{"subscriptionId": sub_id, "clientState": "guess", "changeType": "created",
                       "resource": f"Users/{SUPPORT}/Messages/x"}]}
    assert requests.post(webhook.url, json=body, timeout=10).status_code == 202
    unknown = {"value": [{"subscriptionId": "nope", "clientState": "x"}]}
    assert requests.post(webhook.url, json=unknown, timeout=10).status_code == 202
    assert queued_jobs(push) == []
    dropped = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert len(dropped) == 2
    assert all("guess" not in r.getMessage() for r in caplog.records)


def test_many_notifications_for_one_mailbox_cause_one_fetch(push, graph):
    _subscribe(push)
    for n in range(8):
        graph.add_message(SUPPORT, make_mail(subject=f"Burst {n}")[0])
    assert graph.wait_for_push(8) and graph.push_failures == []
    before = len(graph.requests)
    summaries = drain(push)
    assert len(summaries) == 1 and summaries[0].created == 8
    listings = [r for r in graph.requests[before:] if r.path.split("?")[0].endswith("/messages")
                and r.method == "GET"]
    assert len(listings) == 1
    # once the job has started, the next notification queues a job again
    graph.add_message(SUPPORT, make_mail(subject="After")[0])
    assert graph.wait_for_push(9)
    assert len(queued_jobs(push)) == 1


def test_renewal_extends_subscriptions_expiring_within_a_day(push, graph):
    from shared_code.services.subscriptions import sync_subscriptions

    [sub_id] = _subscribe(push).created
    [row] = push.subscriptions.all()
    soon = datetime.now(timezone.utc) + timedelta(hours=12)
    push.subscriptions.save(sub_id, SUPPORT, soon, state_digest=row["state_digest"])
    graph.subscriptions[sub_id]["expirationDateTime"] = soon.strftime("%Y-%m-%dT%H:%M:%SZ")
    report = sync_subscriptions(push)
    assert report.renewed == [sub_id] and report.created == []
    week = (datetime.now(timezone.utc) + timedelta(days=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert graph.subscriptions[sub_id]["expirationDateTime"] > week
    [row] = push.subscriptions.all()
    assert row["expires"] > datetime.now(timezone.utc) + timedelta(days=6)
    assert sync_subscriptions(push).renewed == []  # not yet due


def test_removing_the_account_deletes_its_subscription(push, graph):
    _subscribe(push)
    assert len(graph.subscriptions) == 1
    code, _ = run_cli("emails", "remove", SUPPORT)
    assert code == 0
    assert graph.subscriptions == {} and push.subscriptions.all() == []


def test_stopping_fetch_deletes_the_subscription(push, graph):
    _subscribe(push)
    code, _ = run_cli("emails", "update", SUPPORT, "--no-fetch-enabled")
    assert code == 0
    assert graph.subscriptions == {} and push.subscriptions.all() == []


def test_push_off_deletes_subscriptions_on_the_next_timer(push, graph, monkeypatch):
    from shared_code.services.helpdesk import Helpdesk
    from shared_code.services.subscriptions import sync_subscriptions

    _subscribe(push)
    monkeypatch.delenv("GRAPH_NOTIFICATION_URL")
    report = sync_subscriptions(Helpdesk.from_env())
    assert len(report.deleted) == 1 and graph.subscriptions == {}


@pytest.mark.parametrize("event", ["subscriptionRemoved", "reauthorizationRequired", "missed"])
def test_lifecycle_notification_resubscribes_and_catches_up(push, graph, event):
    [old] = _subscribe(push).created
    graph.add_message(SUPPORT, make_mail(subject="Missed while away")[0])
    assert graph.wait_for_push(1)
    queued_jobs(push)  # the notification's job was lost
    graph.notify_lifecycle(old, event)
    [summary] = drain(push)
    assert summary.created == 1
    assert [t["subject"] for t in _tickets()] == ["Missed while away"]
    [row] = push.subscriptions.all()
    if event == "missed":
        assert row["subscription_id"] == old
    else:
        assert row["subscription_id"] != old and list(graph.subscriptions) == [row["subscription_id"]]


def test_push_and_timer_racing_make_exactly_one_ticket(push, graph):
    from shared_code.services.fetch import enqueue_fetch_jobs

    _subscribe(push)
    graph.add_message(SUPPORT, make_mail(subject="Once")[0])
    assert graph.wait_for_push(1)
    assert enqueue_fetch_jobs(push) == 1  # the minute timer queues its own job too
    import concurrent.futures

    jobs = queued_jobs(push)
    assert len(jobs) == 2
    from shared_code.services.fetch import run_fetch_job
    from shared_code.services.helpdesk import Helpdesk

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        summaries = list(pool.map(lambda job: run_fetch_job(Helpdesk.from_env(), job), jobs))
    assert sum(s.created for s in summaries) == 1
    drain(push)  # a push job that met the lease comes back (later) and finds nothing new
    assert [t["subject"] for t in _tickets()] == ["Once"]


def test_with_key_vault_the_client_state_is_a_vault_secret(desk, webhook, graph, vault,
                                                            monkeypatch):
    import requests

    from shared_code.services.helpdesk import Helpdesk
    from shared_code.services.subscriptions import secret_name, sync_subscriptions

    monkeypatch.setenv("GRAPH_NOTIFICATION_URL", webhook.url)
    push = Helpdesk.from_env()
    assert sync_subscriptions(push).errors == []
    [sub] = graph.subscriptions.values()
    [row] = push.subscriptions.all()
    assert row["secret_name"] == secret_name(SUPPORT) and row["state_digest"] == ""
    assert push.secrets.get(secret_name(SUPPORT)) == sub["clientState"]  # read from the vault
    wrong = {"value": [{"subscriptionId": sub["id"], "clientState": sub["clientState"] + "x"}]}
    assert requests.post(webhook.url, json=wrong, timeout=10).status_code == 202
    assert queued_jobs(push) == []
    graph.add_message(SUPPORT, make_mail(subject="Vaulted")[0])
    assert graph.wait_for_push(1) and graph.push_failures == []
    assert [j["address"] for j in queued_jobs(push)] == [SUPPORT]


def test_coalescing_marker_pending_started_and_lost(desk):
    from shared_code.adapters.subscriptions import PUSH
    from shared_code.adapters.table_base import safe_key

    marks = desk.subscriptions
    assert marks.request_fetch(SUPPORT) is True  # first: queue a job
    assert marks.request_fetch(SUPPORT) is False  # that job has not started: nothing more
    marks.mark_served(SUPPORT)
    assert marks.request_fetch(SUPPORT) is True  # started: a new mail needs a new job
    # a job that never started (poison, stale) stops suppressing after PENDING_SECONDS
    table = marks._table
    row = table.get(PUSH, safe_key(SUPPORT))
    row["requested_at"] = datetime.now(timezone.utc) - timedelta(minutes=2)
    assert table.update_if_unchanged(row)
    assert marks.request_fetch(SUPPORT) is True
