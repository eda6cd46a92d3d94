"""Sign-in, roles, CSRF and the security headers, through the ASGI app."""
from __future__ import annotations

import base64
import json

import pytest

from shared_code.config import SettingError

from .conftest import ADMIN, AGENT, OUTSIDER, api_post, sign_in


def test_pages_redirect_to_sign_in_and_api_answers_401(web):
    page = web.get("/tickets?number=108749")
    assert page.status_code == 303
    assert page.headers["location"] == "/auth/dev-login?next=%2Ftickets%3Fnumber%3D108749"
    api = web.get("/api/v1/session")
    assert api.status_code == 401
    assert api.json() == {"error": "sign-in required"}


def test_dev_sign_in_sets_a_strict_cookie_and_session_reports_role(web):
    answer = web.post("/auth/dev-login", data={"email": ADMIN.upper(), "next": "/admin/emails"})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/admin/emails"
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    session = web.get("/api/v1/session").json()
    assert session["email"] == ADMIN and session["role"] == "admin" and len(session["csrf_token"]) > 20


def test_dev_sign_in_refuses_unlisted_users_and_foreign_redirects(web):
    refused = web.post("/auth/dev-login", data={"email": OUTSIDER})
    assert refused.status_code == 401
    assert web.get("/api/v1/session").status_code == 401
    away = web.post("/auth/dev-login", data={"email": AGENT, "next": "//evil.example/x"})
    assert away.headers["location"] == "/tickets"


def test_a_forged_cookie_is_not_a_session(web):
    web.cookies.set("deskmail_session", "eyJlbWFpbCI6ImFkbWluQGNvbnRvc28udGVzdCJ9.forged")
    assert web.get("/api/v1/session").status_code == 401


def test_state_changing_requests_need_the_csrf_token(web):
    sign_in(web, AGENT)
    no_token = web.post("/auth/sign-out")
    assert no_token.status_code == 403
    wrong = api_post(web, "/auth/sign-out", headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403
    right = web.post("/auth/sign-out", data={"csrf_token": web.csrf})
    assert right.status_code == 303
    assert web.get("/api/v1/session").status_code == 401


def test_every_response_carries_the_security_headers(web):
    answer = web.get("/auth/dev-login")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert web.get("/api/v1/session").headers["x-content-type-options"] == "nosniff"


def _principal(email: str, roles: list[str]) -> str:
    claims = [{"typ": "preferred_username", "val": email}, {"typ": "name", "val": "Someone"}]
    claims += [{"typ": "roles", "val": role} for role in roles]
    return base64.b64encode(json.dumps({"auth_typ": "aad", "claims": claims, "name_typ": "name",
                                        "role_typ": "roles"}).encode()).decode()


def test_easy_auth_headers_are_trusted_only_when_the_platform_feature_is_on(app_env, monkeypatch):
    from shared_code.web.settings import WebSettings

    monkeypatch.setenv("DESKMAIL_AUTH", "easyauth")
    monkeypatch.delenv("WEBSITE_AUTH_ENABLED", raising=False)
    with pytest.raises(SettingError, match="WEBSITE_AUTH_ENABLED"):
        WebSettings.from_env()


def test_dev_sign_in_is_refused_in_azure(monkeypatch):
    from shared_code.web.settings import WebSettings

    monkeypatch.setenv("DESKMAIL_AUTH", "dev")
    monkeypatch.setenv("DESKMAIL_DEV_USERS", f"{ADMIN}:admin")
    monkeypatch.setenv("WEBSITE_INSTANCE_ID", "abc")
    with pytest.raises(SettingError, match="DESKMAIL_AUTH=dev"):
        WebSettings.from_env()


def test_easy_auth_roles_decide_access(app_env, monkeypatch):
    from fastapi.testclient import TestClient

    from shared_code.web.app import create_app

    monkeypatch.setenv("DESKMAIL_AUTH", "easyauth")
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "True")
    with TestClient(create_app(), follow_redirects=False) as client:
        admin = client.get("/api/v1/session", headers={"X-MS-CLIENT-PRINCIPAL": _principal(ADMIN, ["Deskmail.Admin"])})
        assert admin.json()["role"] == "admin"
        nobody = client.get("/api/v1/session", headers={"X-MS-CLIENT-PRINCIPAL": _principal(OUTSIDER, [])})
        assert nobody.status_code == 200 and nobody.json()["role"] is None
        page = client.get("/auth/dev-login")
        assert page.status_code == 404
        anonymous = client.get("/tickets")
        assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/.auth/login/aad")
