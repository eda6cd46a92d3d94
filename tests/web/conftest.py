"""The web app through its ASGI interface (Starlette's TestClient), Azurite and the fakes behind.

`web` is an anonymous client; `as_admin` / `as_staff` are signed in through the development
sign-in and carry their CSRF token in `client.csrf` (sent as `X-CSRF-Token` by `api_post`).
"""
from __future__ import annotations

import pytest

from tests.integration.helpers import SUPPORT, add_account

ADMIN = "admin@contoso.test"
AGENT = "agent@contoso.example"
OUTSIDER = "visitor@contoso.test"
DEV_USERS = f"{ADMIN}:admin,{AGENT}:staff"


@pytest.fixture
def web_env(app_env, monkeypatch):
    monkeypatch.setenv("DESKMAIL_AUTH", "dev")
    monkeypatch.setenv("DESKMAIL_DEV_USERS", DEV_USERS)
    monkeypatch.setenv("DESKMAIL_SESSION_KEY", "k" * 40)
    return app_env


@pytest.fixture
def desk(web_env, mailbox_app, graph):
    """A helpdesk on Azurite with one department account, support@contoso.example."""
    from shared_code.services.helpdesk import Helpdesk

    graph.add_mailbox(SUPPORT)
    add_account(mailbox_app)
    return Helpdesk.from_env()


def _client():
    from fastapi.testclient import TestClient

    from shared_code.web.app import create_app

    return TestClient(create_app(), base_url="http://testserver", follow_redirects=False)


def sign_in(client, email: str):
    """Sign `client` in as `email` (dev sign-in); sets `client.csrf`."""
    answer = client.post("/auth/dev-login", data={"email": email, "next": "/tickets"})
    assert answer.status_code == 303, answer.text
    session = client.get("/api/v1/session")
    assert session.status_code == 200, session.text
    client.csrf = session.json()["csrf_token"]
    return client


@pytest.fixture
def web(web_env):
    with _client() as client:
        yield client


@pytest.fixture
def as_admin(desk):
    with _client() as client:
        yield sign_in(client, ADMIN)


@pytest.fixture
def as_staff(desk):
    with _client() as client:
        yield sign_in(client, AGENT)


def api_post(client, path: str, json=None, **kwargs):
    headers = {"X-CSRF-Token": getattr(client, "csrf", "")}
    headers.update(kwargs.pop("headers", {}))
    return client.post(path, json=json, headers=headers, **kwargs)


def form_post(client, path: str, data: dict | None = None, **kwargs):
    body = {"csrf_token": getattr(client, "csrf", "")}
    body.update(data or {})
    return client.post(path, data=body, **kwargs)
