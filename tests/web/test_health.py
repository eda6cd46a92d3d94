"""`GET /health`: no sign-in, an opaque id per fetching account, queue depths, 503 when stale
or failing. Fetch state is written through the account repository, as the fetch does."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from shared_code.adapters.names import OUTBOUND_MAIL, OUTBOUND_POISON
from tests.integration.helpers import SUPPORT, add_account

OTHER = "sales@contoso.example"


def _set_fetch_state(desk, address: str, *, minutes_ago: float | None = None, failures: int = 0,
                     error: str = ""):
    account = desk.accounts.get(address)
    if minutes_ago is not None:
        account.last_fetch = datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)
    account.consecutive_failures = failures
    account.last_error = error
    desk.accounts.save_fetch_state(account)


def test_a_fresh_account_is_healthy_without_sign_in(web, desk):
    _set_fetch_state(desk, SUPPORT, minutes_ago=1)

    answer = web.get("/health")

    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["healthy"] is True
    [account] = body["accounts"]
    assert account["healthy"] is True and account["state"] == "healthy"
    assert len(account["id"]) == 12 and 0.9 < account["minutes_since_fetch"] < 5
    assert body["queues"] == {"outbound": 0, "outbound_poison": 0, "fetch_jobs": 0}
    # the same answer under the API prefix, and the id is stable between requests
    again = web.get("/api/v1/health")
    assert again.status_code == 200 and again.json()["accounts"][0]["id"] == account["id"]


def test_a_stale_account_makes_it_503_with_decimal_minutes(desk, monkeypatch):
    monkeypatch.setenv("FETCH_STALE_MINUTES", "2.5")
    _set_fetch_state(desk, SUPPORT, minutes_ago=2)
    from fastapi.testclient import TestClient

    from shared_code.web.app import create_app

    with TestClient(create_app()) as client:
        assert client.get("/health").status_code == 200
        _set_fetch_state(desk, SUPPORT, minutes_ago=3)
        answer = client.get("/health")

    assert answer.status_code == 503
    body = answer.json()
    assert body["healthy"] is False
    assert [a["state"] for a in body["accounts"]] == ["stale"]


def test_repeated_failures_make_it_failing(web, desk):
    _set_fetch_state(desk, SUPPORT, minutes_ago=0.5, failures=2, error="AADSTS7000215 invalid secret")
    assert web.get("/health").status_code == 200

    _set_fetch_state(desk, SUPPORT, minutes_ago=0.5, failures=3, error="AADSTS7000215 invalid secret")
    answer = web.get("/health")

    assert answer.status_code == 503
    [account] = answer.json()["accounts"]
    assert account == {**account, "healthy": False, "state": "failing"}
    assert "AADSTS" not in answer.text


def test_an_account_with_fetching_off_is_ignored(web, desk, mailbox_app):
    add_account(mailbox_app, OTHER, "--no-fetch-enabled")
    _set_fetch_state(desk, OTHER, minutes_ago=600, failures=9)
    _set_fetch_state(desk, SUPPORT, minutes_ago=1)

    answer = web.get("/health")

    assert answer.status_code == 200
    assert len(answer.json()["accounts"]) == 1


def test_no_account_is_healthy_and_queue_depths_are_counted(web, desk):
    desk.accounts.remove(SUPPORT)
    desk.queues.send(OUTBOUND_MAIL, {"id": "n1"})
    desk.queues.send(OUTBOUND_MAIL, {"id": "n2"}, visibility_timeout=3600)
    desk.queues.send(OUTBOUND_POISON, {"id": "n0"})

    answer = web.get("/health")

    assert answer.status_code == 200
    assert answer.json() == {"healthy": True, "accounts": [],
                             "queues": {"outbound": 2, "outbound_poison": 1, "fetch_jobs": 0},
                             "warnings": []}


@pytest.mark.parametrize("path", ["/health", "/api/v1/health"])
def test_the_body_reveals_no_address_or_secret(web, desk, mailbox_app, path):
    add_account(mailbox_app, OTHER)
    _set_fetch_state(desk, OTHER, minutes_ago=90, failures=4, error=f"token for {OTHER} refused")

    text = web.get(path).text.lower()

    for secret in (SUPPORT, OTHER, "contoso", "@", mailbox_app["secret"], mailbox_app["tenant_id"],
                   mailbox_app["client_id"], mailbox_app["client_secret_name"], "k" * 40):
        assert secret.lower() not in text


def test_health_is_in_the_openapi_document(web):
    document = web.get("/api/v1/openapi.json").json()
    operation = document["paths"]["/health"]["get"]
    assert set(operation["responses"]) >= {"200", "503"}
    assert "security" not in operation
