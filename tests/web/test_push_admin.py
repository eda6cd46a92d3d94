"""Push ingestion on the account page and in `/api/v1/accounts/{address}/push`: the state
(subscription id, expiry, last notification, last renewal and its error; never clientState)
and Re-subscribe, with every access rule. Azurite, the Graph fake (which performs the
validation handshake against the webhook served by uvicorn) and the web app."""
from __future__ import annotations

import pytest

from tests.integration.helpers import SUPPORT
from tests.integration.push_helpers import serving_webhook

from .conftest import api_post, form_post

PAGE = f"/admin/emails/{SUPPORT}"
API = f"/api/v1/accounts/{SUPPORT}/push"
DEAD_HOOK = "http://127.0.0.1:9/api/graph/notifications"


@pytest.fixture
def push(desk, monkeypatch):
    """GRAPH_NOTIFICATION_URL pointing at the served webhook (set before the clients start)."""
    with serving_webhook(monkeypatch) as hook:
        yield hook


def _secrets(graph) -> list[str]:
    return [sub["clientState"] for sub in graph.subscriptions.values()]


def test_page_shows_push_off_without_a_notification_url(as_admin):
    page = as_admin.get(PAGE)
    assert page.status_code == 200
    assert 'id="push-status" class="push-off">off' in page.text
    assert '<code id="push-subscription">none</code>' in page.text
    assert 'id="push-notified">never' in page.text


def test_page_warns_when_push_is_wanted_but_there_is_no_subscription(push, as_admin):
    page = as_admin.get(PAGE)
    assert 'class="push-missing">missing' in page.text
    assert "the minute timer alone fetches this mailbox" in page.text


def test_resubscribe_creates_a_subscription_the_page_shows_without_its_secret(
        push, as_admin, desk, graph):
    answer = form_post(as_admin, f"{PAGE}/resubscribe")
    assert answer.status_code == 200, answer.text
    [sub_id] = graph.subscriptions
    assert 'id="resubscribe-result" class="ok"' in answer.text and sub_id in answer.text
    assert 'class="push-active">active' in answer.text
    assert f'<code id="push-subscription">{sub_id}</code>' in answer.text
    assert 'id="push-synced">never' not in answer.text
    desk.subscriptions.request_fetch(SUPPORT)  # a notification queued a fetch
    page = as_admin.get(PAGE)
    assert 'id="push-notified">never' not in page.text and "UTC" in page.text
    assert not any(secret in page.text for secret in _secrets(graph))
    again = form_post(as_admin, f"{PAGE}/resubscribe")
    [new_id] = graph.subscriptions
    assert again.status_code == 200 and new_id != sub_id and new_id in again.text
    assert [row["subscription_id"] for row in desk.subscriptions.all()] == [new_id]


def test_graph_refusing_the_subscription_is_shown_not_a_500(desk, as_admin, graph, monkeypatch):
    monkeypatch.setenv("GRAPH_NOTIFICATION_URL", DEAD_HOOK)  # the handshake cannot succeed
    answer = form_post(as_admin, f"{PAGE}/resubscribe")
    assert answer.status_code == 200
    assert 'id="resubscribe-result" class="error"' in answer.text
    assert 'id="push-error"' in answer.text and graph.subscriptions == {}
    assert 'class="push-missing">missing' in answer.text


def test_resubscribe_is_refused_when_push_is_off(as_admin, graph):
    answer = form_post(as_admin, f"{PAGE}/resubscribe")
    assert answer.status_code == 422 and "GRAPH_NOTIFICATION_URL" in answer.text
    assert graph.subscriptions == {}


def test_resubscribe_is_refused_for_an_account_that_does_not_fetch(push, as_admin, graph):
    from tests.integration.helpers import run_cli

    assert run_cli("emails", "update", SUPPORT, "--no-fetch-enabled")[0] == 0
    answer = form_post(as_admin, f"{PAGE}/resubscribe")
    assert answer.status_code == 422 and "turn fetching on first" in answer.text
    assert graph.subscriptions == {}


def test_unknown_account_is_a_404(push, as_admin):
    assert form_post(as_admin, "/admin/emails/nobody@contoso.example/resubscribe").status_code == 404
    assert as_admin.get("/api/v1/accounts/nobody@contoso.example/push").status_code == 404
    assert api_post(as_admin, "/api/v1/accounts/nobody@contoso.example/push/resubscribe"
                    ).status_code == 404


def test_api_reports_push_state_and_resubscribes(push, as_admin, graph):
    before = as_admin.get(API)
    assert before.status_code == 200
    assert before.json() == {"state": "missing", "subscription_id": None, "expires": None,
                             "last_notification": None, "last_sync": None, "last_error": ""}
    answer = api_post(as_admin, f"{API}/resubscribe")
    assert answer.status_code == 200, answer.text
    [sub_id] = graph.subscriptions
    body = answer.json()
    assert (body["ok"], body["created"], body["errors"]) == (True, [sub_id], [])
    assert body["push"]["state"] == "active" and body["push"]["subscription_id"] == sub_id
    state = as_admin.get(API).json()
    assert state["expires"] and state["last_sync"] and state["last_error"] == ""
    assert "clientState" not in str(state) and not any(s in answer.text for s in _secrets(graph))


def test_api_reports_graph_refusal_and_refuses_when_push_is_off(desk, as_admin, graph,
                                                               monkeypatch):
    refused = api_post(as_admin, f"{API}/resubscribe")
    assert refused.status_code == 422 and refused.json()["field"] == "GRAPH_NOTIFICATION_URL"
    assert as_admin.get(API).json()["state"] == "off"
    monkeypatch.setenv("GRAPH_NOTIFICATION_URL", DEAD_HOOK)
    failed = api_post(as_admin, f"{API}/resubscribe")
    assert failed.status_code == 200 and failed.json()["ok"] is False
    assert failed.json()["errors"] and failed.json()["push"]["last_error"]
    assert graph.subscriptions == {}


def test_health_warns_of_a_missing_subscription_without_turning_unhealthy(push, web, as_admin,
                                                                         desk):
    from tests.web.test_health import _set_fetch_state

    _set_fetch_state(desk, SUPPORT, minutes_ago=1)
    missing = web.get("/health")
    assert missing.status_code == 200 and missing.json()["healthy"] is True
    [account] = missing.json()["accounts"]
    assert account["push"] == "missing"
    assert missing.json()["warnings"] == [
        f"account {account['id']}: no live push subscription (expired or refused); "
        "the minute timer alone fetches it"]
    assert SUPPORT not in missing.text
    assert api_post(as_admin, f"{API}/resubscribe").json()["ok"] is True
    active = web.get("/health").json()
    assert active["accounts"][0]["push"] == "active" and active["warnings"] == []


def test_health_reports_push_off_without_a_notification_url(web, desk):
    from tests.web.test_health import _set_fetch_state

    _set_fetch_state(desk, SUPPORT, minutes_ago=1)
    body = web.get("/health").json()
    assert body["accounts"][0]["push"] == "off" and body["warnings"] == []


# -- access rules --------------------------------------------------------------------------------
def test_anonymous_is_sent_to_sign_in_or_gets_401(push, web, graph):
    answer = web.post(f"{PAGE}/resubscribe")
    assert answer.status_code == 303 and "/auth/" in answer.headers["location"]
    for method, path in (("GET", API), ("POST", f"{API}/resubscribe")):
        assert web.request(method, path).status_code == 401
    assert graph.subscriptions == {}


def test_staff_get_403(push, as_staff, graph):
    assert form_post(as_staff, f"{PAGE}/resubscribe").status_code == 403
    assert as_staff.get(API).status_code == 403
    assert api_post(as_staff, f"{API}/resubscribe").status_code == 403
    assert graph.subscriptions == {}


@pytest.mark.parametrize("token", [None, "wrong"])
def test_resubscribe_needs_the_csrf_token(push, as_admin, graph, token):
    data = {"csrf_token": token} if token else {}
    page = as_admin.post(f"{PAGE}/resubscribe", data=data)
    assert page.status_code == 403 and "CSRF" in page.text
    headers = {"X-CSRF-Token": token} if token else {}
    api = as_admin.post(f"{API}/resubscribe", headers=headers)
    assert api.status_code == 403 and api.json()["field"] == "X-CSRF-Token"
    assert graph.subscriptions == {}
