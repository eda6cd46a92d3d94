"""`/api/v1/accounts`: the JSON API of email accounts (admin), through the ASGI app."""
from __future__ import annotations

import pytest

from tests.conftest import MAILBOX_APP
from tests.integration.helpers import SUPPORT, make_mail, run_cli

from .conftest import api_post
from .test_emails_mailbox import NEW_SECRET, SECRET_NAME

NEW = {"address": "Alerts@Contoso.example", "name": "Contoso Alerts", "purpose": "alert",
       "department": "Support", "fetch_enabled": False}


def _put(client, path, json):
    return client.put(path, json=json, headers={"X-CSRF-Token": client.csrf})


def _delete(client, path):
    return client.delete(path, headers={"X-CSRF-Token": client.csrf})


def test_accounts_are_listed_and_read_in_the_cli_shape(as_admin, desk):
    listed = as_admin.get("/api/v1/accounts")
    assert listed.status_code == 200
    code, cli = run_cli("emails", "list", "--json")
    assert listed.json() == cli
    one = as_admin.get(f"/api/v1/accounts/{SUPPORT}")
    assert one.status_code == 200 and one.json() == cli[0]
    assert one.json()["client_secret_name"] == "deskmail-graph-secret"
    assert MAILBOX_APP["secret"] not in listed.text + one.text
    missing = as_admin.get("/api/v1/accounts/nobody@contoso.example")
    assert missing.status_code == 404 and missing.json() == {"error": "no email account nobody@contoso.example"}


def test_an_account_is_created_changed_and_deleted(as_admin, desk):
    created = api_post(as_admin, "/api/v1/accounts", NEW)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["address"] == "alerts@contoso.example" and body["purpose"] == "alert"
    assert body["fetch_enabled"] is False and body["warning"] == ""
    assert desk.accounts.get("alerts@contoso.example").name == "Contoso Alerts"

    changed = _put(as_admin, "/api/v1/accounts/alerts@contoso.example",
                   {"priority": "high", "batch_size": 7})
    assert changed.status_code == 200
    assert (changed.json()["priority"], changed.json()["batch_size"], changed.json()["name"]) == (
        "high", 7, "Contoso Alerts")

    assert _delete(as_admin, "/api/v1/accounts/alerts@contoso.example").status_code == 204
    assert as_admin.get("/api/v1/accounts/alerts@contoso.example").status_code == 404
    assert _delete(as_admin, "/api/v1/accounts/alerts@contoso.example").status_code == 404


def test_a_send_only_account_reports_lost_replies(as_admin, desk):
    _put(as_admin, f"/api/v1/accounts/{SUPPORT}", {"fetch_enabled": False})
    answer = api_post(as_admin, "/api/v1/accounts", {**NEW, "purpose": "auto-response"})
    assert answer.status_code == 201
    assert "answers would be lost" in answer.json()["warning"]


@pytest.mark.parametrize("change, status, field, text", [
    ({"address": SUPPORT}, 409, "address", "already exists"),
    ({"address": "nope"}, 422, "address", "invalid email address"),
    ({"name": " "}, 422, "name", "must not be empty"),
    ({"purpose": "spam"}, 422, "purpose", "purpose"),
    ({"batch_size": 0}, 422, "batch_size", "batch_size"),
    ({"batch_size": "many"}, 422, "batch_size", "batch_size"),
    ({"tenant_id": "t"}, 422, "client_id", "must be given together"),
])
def test_errors_are_json_naming_the_field(as_admin, desk, change, status, field, text):
    answer = api_post(as_admin, "/api/v1/accounts", {**NEW, **change})
    assert answer.status_code == status
    assert answer.json()["field"] == field and text in answer.json()["error"]


def test_put_errors_name_the_field_and_change_nothing(as_admin, desk):
    answer = _put(as_admin, f"/api/v1/accounts/{SUPPORT}", {"folder": " ", "priority": "high"})
    assert answer.status_code == 422 and answer.json()["field"] == "folder"
    assert desk.accounts.get(SUPPORT).priority.value == "normal"
    secret = _put(as_admin, f"/api/v1/accounts/{SUPPORT}", {"client_secret": NEW_SECRET})
    assert secret.status_code == 422 and secret.json()["field"] == "client_secret"
    assert "KEY_VAULT_URL" in secret.json()["error"]
    assert _put(as_admin, "/api/v1/accounts/nobody@contoso.example", {}).status_code == 404


def test_put_writes_the_client_secret_to_key_vault_only(as_admin, desk, vault, identity):
    identity.register_app("contoso-tenant", "deskmail-app", NEW_SECRET)
    run_cli("emails", "update", SUPPORT, "--tenant-id", "", "--client-id", "",
            "--client-secret-name", "")
    answer = _put(as_admin, f"/api/v1/accounts/{SUPPORT}", {
        "tenant_id": "contoso-tenant", "client_id": "deskmail-app", "client_secret": NEW_SECRET,
        "priority": "high"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["client_secret_name"] == SECRET_NAME and answer.json()["priority"] == "high"
    assert NEW_SECRET not in answer.text
    assert vault._secrets[SECRET_NAME][-1].value == NEW_SECRET
    report = api_post(as_admin, f"/api/v1/accounts/{SUPPORT}/verify")
    assert report.status_code == 200 and report.json()["ok"] is True
    # a refused field writes no new version
    refused = _put(as_admin, f"/api/v1/accounts/{SUPPORT}", {"client_secret": "other", "folder": " "})
    assert refused.status_code == 422 and refused.json()["field"] == "folder"
    assert len(vault._secrets[SECRET_NAME]) == 1


def test_test_fetch_verify_and_test_send(as_admin, desk, graph, identity):
    graph.add_message(SUPPORT, make_mail()[0])
    fetched = api_post(as_admin, f"/api/v1/accounts/{SUPPORT}/test-fetch")
    assert fetched.status_code == 200
    assert (fetched.json()["fetched"], fetched.json()["created"], fetched.json()["errors"]) == (1, 1, [])
    assert fetched.json()["last_fetch"] is not None

    report = api_post(as_admin, f"/api/v1/accounts/{SUPPORT}/verify").json()
    assert report["ok"] is True
    assert [c["name"] for c in report["checks"]] == ["credentials", "secret", "token",
                                                     "permissions", "folder"]

    sent = api_post(as_admin, f"/api/v1/accounts/{SUPPORT}/test-send", {"to": "it@contoso.example"})
    assert sent.status_code == 200 and sent.json()["ok"] is True
    assert sent.json()["message_id"].encode() in graph.sent[0].raw

    graph.fail_next(403, path_contains="sendMail", code="ErrorAccessDenied", message="Access is denied.")
    refused = api_post(as_admin, f"/api/v1/accounts/{SUPPORT}/test-send", {"to": "it@contoso.example"})
    assert refused.json()["ok"] is False and refused.json()["code"] == "ErrorAccessDenied"
    bad = api_post(as_admin, f"/api/v1/accounts/{SUPPORT}/test-send", {"to": "nope"})
    assert bad.status_code == 422 and bad.json()["field"] == "to"
    assert api_post(as_admin, f"/api/v1/accounts/{SUPPORT}/test-send", {}).status_code == 422

    identity.register_app("contoso-tenant", "deskmail-app", MAILBOX_APP["secret"], roles=["User.Read.All"])
    from shared_code.services.helpdesk import reset_process_caches

    reset_process_caches()
    report = api_post(as_admin, f"/api/v1/accounts/{SUPPORT}/verify").json()
    assert report["ok"] is False
    permissions = next(c for c in report["checks"] if c["name"] == "permissions")
    assert permissions["ok"] is False and "Mail.ReadWrite, Mail.Send" in permissions["detail"]


def test_the_accounts_api_needs_an_admin_and_the_csrf_token(web, as_staff, as_admin, desk, graph):
    paths = [("GET", "/api/v1/accounts", None), ("POST", "/api/v1/accounts", NEW),
             ("GET", f"/api/v1/accounts/{SUPPORT}", None),
             ("PUT", f"/api/v1/accounts/{SUPPORT}", {"priority": "high"}),
             ("DELETE", f"/api/v1/accounts/{SUPPORT}", None),
             ("POST", f"/api/v1/accounts/{SUPPORT}/test-fetch", None),
             ("POST", f"/api/v1/accounts/{SUPPORT}/verify", None),
             ("POST", f"/api/v1/accounts/{SUPPORT}/test-send", {"to": "it@contoso.example"})]
    for method, path, body in paths:
        anonymous = web.request(method, path, json=body)
        assert anonymous.status_code == 401 and anonymous.json() == {"error": "sign-in required"}
        staff = as_staff.request(method, path, json=body, headers={"X-CSRF-Token": as_staff.csrf})
        assert staff.status_code == 403 and "admins" in staff.json()["error"]
        if method != "GET":
            no_token = as_admin.request(method, path, json=body)
            assert no_token.status_code == 403 and no_token.json()["field"] == "X-CSRF-Token"
            wrong = as_admin.request(method, path, json=body, headers={"X-CSRF-Token": "x"})
            assert wrong.status_code == 403
    assert desk.accounts.get(SUPPORT).priority.value == "normal" and graph.sent == []


def test_the_openapi_document_describes_the_accounts_api(web):
    document = web.get("/api/v1/openapi.json").json()
    paths = document["paths"]
    assert set(paths["/api/v1/accounts"]) == {"get", "post"}
    assert set(paths["/api/v1/accounts/{address}"]) == {"get", "put", "delete"}
    for action in ("test-fetch", "verify", "test-send"):
        assert "post" in paths[f"/api/v1/accounts/{{address}}/{action}"]
    changes = document["components"]["schemas"]["AccountChanges"]["properties"]
    assert "client_secret" in changes
    assert "client_secret" not in document["components"]["schemas"]["Account"]["properties"]
    assert not any(path.startswith("/admin/emails") for path in paths)
