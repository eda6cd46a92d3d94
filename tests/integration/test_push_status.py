"""Push ingestion as admins see it from the command line: `emails show` reports the account's
subscription (never its clientState), `emails resubscribe` replaces it; the renewal timer
records each account's last sync and error. Azurite, the Graph fake and the served webhook."""
from __future__ import annotations

import pytest

from .helpers import SUPPORT, run_cli
from .push_helpers import serving_webhook

DEAD_HOOK = "http://127.0.0.1:9/api/graph/notifications"


@pytest.fixture
def webhook(monkeypatch):
    with serving_webhook(monkeypatch) as hook:
        yield hook


def _push():
    code, shown = run_cli("emails", "show", SUPPORT, "--json")
    assert code == 0
    return shown["push"]


def test_emails_show_reports_push_off_then_missing(desk, monkeypatch):
    assert _push() == {"state": "off", "subscription_id": None, "expires": None,
                       "last_notification": None, "last_sync": None, "last_error": ""}
    monkeypatch.setenv("GRAPH_NOTIFICATION_URL", DEAD_HOOK)
    assert _push()["state"] == "missing"
    code, text = run_cli("emails", "show", SUPPORT)
    assert code == 0 and "push state: missing" in text and f"address: {SUPPORT}" in text


def test_emails_resubscribe_replaces_the_subscription(desk, graph, webhook):
    code, done = run_cli("emails", "resubscribe", SUPPORT, "--json")
    assert code == 0 and done["ok"] is True
    [first] = done["created"]
    assert list(graph.subscriptions) == [first]
    shown = _push()
    assert (shown["state"], shown["subscription_id"], shown["last_error"]) == ("active", first, "")
    assert shown["expires"] and shown["last_sync"]
    secret = graph.subscriptions[first]["clientState"]
    code, text = run_cli("emails", "show", SUPPORT)
    assert f"push subscription_id: {first}" in text and secret not in text
    code, text = run_cli("emails", "resubscribe", SUPPORT)
    [second] = graph.subscriptions
    assert code == 0 and second != first and f"subscribed {SUPPORT}: {second}" in text


def test_emails_resubscribe_fails_with_graphs_error_or_when_push_is_off(desk, graph, monkeypatch,
                                                                       capsys):
    code, _ = run_cli("emails", "resubscribe", SUPPORT)
    assert code != 0 and "GRAPH_NOTIFICATION_URL" in capsys.readouterr().err
    monkeypatch.setenv("GRAPH_NOTIFICATION_URL", DEAD_HOOK)
    code, text = run_cli("emails", "resubscribe", SUPPORT)
    assert code == 1 and text.startswith("error: ") and graph.subscriptions == {}
    assert _push()["last_error"]


def test_the_renewal_timer_records_errors_and_clears_them(desk, graph, webhook, monkeypatch):
    from shared_code.services.helpdesk import Helpdesk
    from shared_code.services.subscriptions import sync_subscriptions

    monkeypatch.setenv("GRAPH_NOTIFICATION_URL", DEAD_HOOK)
    assert sync_subscriptions(Helpdesk.from_env()).errors
    failed = _push()
    assert failed["state"] == "missing" and failed["last_error"] and failed["last_sync"]
    monkeypatch.setenv("GRAPH_NOTIFICATION_URL", webhook.url)
    assert sync_subscriptions(Helpdesk.from_env()).errors == []
    healed = _push()
    assert healed["state"] == "active" and healed["last_error"] == ""
    assert healed["last_sync"] >= failed["last_sync"]
