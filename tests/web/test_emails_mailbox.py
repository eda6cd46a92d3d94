"""An account's Remote mailbox and Sending: the client secret in Key Vault (write-only),
Authorize (admin consent round trip against the identity fake) and the access checks,
Test fetch and Send test email, all through the ASGI app with Azurite and the TLS fakes."""
from __future__ import annotations

import json
import logging
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.conftest import MAILBOX_APP
from tests.integration.helpers import SUPPORT, make_mail, run_cli

from .conftest import ADMIN, _client, form_post, sign_in

NEW_SECRET = "n3w-Cl1ent-S3cret-value~42"
SECRET_NAME = "deskmail-support-contoso-example"



def _checks(html: str) -> dict[str, str]:
    """The access checks shown: name -> "ok" | "failed" | "skipped", with their text."""
    found = re.findall(r'<li class="check (\w+)" data-check="(\w+)">(.*?)</li>', html, re.S)
    return {name: f"{state}: {text}" for state, name, text in found}


def _all_table_text(storage: str) -> str:
    from azure.data.tables import TableServiceClient

    service = TableServiceClient.from_connection_string(storage)
    rows = []
    for table in service.list_tables():
        rows += list(service.get_table_client(table.name).list_entities())
    return json.dumps(rows, default=str)


def test_the_secret_is_refused_without_key_vault(as_admin, desk):
    answer = form_post(as_admin, f"/admin/emails/{SUPPORT}/remote", {
        "tenant_id": "contoso-tenant", "client_id": "deskmail-app", "client_secret": NEW_SECRET})
    assert answer.status_code == 422
    error = re.search(r'id="error-client_secret">(.*?)</span>', answer.text, re.S).group(1)
    assert "KEY_VAULT_URL is not set" in error
    assert NEW_SECRET not in answer.text
    assert desk.accounts.get(SUPPORT).client_secret_name == "deskmail-graph-secret"


def test_locally_the_secret_name_of_an_environment_variable_is_set(as_admin, desk):
    page = as_admin.get(f"/admin/emails/{SUPPORT}").text
    assert 'name="client_secret_name"' in page  # no Key Vault: the name is entered
    saved = form_post(as_admin, f"/admin/emails/{SUPPORT}/remote", {
        "tenant_id": "contoso-tenant", "client_id": "deskmail-app",
        "client_secret_name": "deskmail-other-secret"})
    assert saved.status_code == 303
    assert desk.accounts.get(SUPPORT).client_secret_name == "deskmail-other-secret"
    cleared = form_post(as_admin, f"/admin/emails/{SUPPORT}/remote", {"tenant_id": "", "client_id": ""})
    assert cleared.status_code == 303
    account = desk.accounts.get(SUPPORT)
    assert (account.tenant_id, account.client_id, account.client_secret_name) == ("", "", "")
    missing = form_post(as_admin, f"/admin/emails/{SUPPORT}/remote", {
        "tenant_id": "contoso-tenant", "client_id": "deskmail-app"})
    assert missing.status_code == 422
    assert "a client secret is required" in re.search(
        r'id="error-client_secret">(.*?)</span>', missing.text).group(1)
    assert 'value="contoso-tenant"' in missing.text


def test_the_secret_goes_to_key_vault_and_nowhere_else(as_admin, desk, vault, identity, app_env,
                                                         caplog):
    caplog.set_level(logging.DEBUG)
    identity.register_app("contoso-tenant", "deskmail-app", NEW_SECRET)  # the rotated secret
    run_cli(  # an account without an app registration yet
"emails", "update", SUPPORT, "--tenant-id", "", "--client-id", "",
            "--client-secret-name", "")
    assert desk.accounts.get(SUPPORT).client_secret_name == ""
    page = as_admin.get(f"/admin/emails/{SUPPORT}").text
    assert '<input id="f-secret" type="password" name="client_secret" autocomplete="off">' in page
    assert "No secret is set." in page

    saved = form_post(as_admin, f"/admin/emails/{SUPPORT}/remote", {
        "tenant_id": "contoso-tenant", "client_id": "deskmail-app", "client_secret": NEW_SECRET})
    assert saved.status_code == 303 and saved.headers["location"].endswith("?done=remote#remote")
    account = desk.accounts.get(SUPPORT)
    assert (account.tenant_id, account.client_id, account.client_secret_name) == (
        "contoso-tenant", "deskmail-app", SECRET_NAME)
    assert vault._secrets[SECRET_NAME][-1].value == NEW_SECRET

    page = as_admin.get(f"/admin/emails/{SUPPORT}").text
    assert f"A secret is set: Key Vault name <code>{SECRET_NAME}</code>" in page
    checks = _checks(form_post(as_admin, f"/admin/emails/{SUPPORT}/verify").text)
    assert all(state.startswith("ok") for state in checks.values()), checks
    api = as_admin.get(f"/api/v1/accounts/{SUPPORT}").json()
    assert api["client_secret_name"] == SECRET_NAME

    # a second save keeps the name and adds a version
    form_post(as_admin, f"/admin/emails/{SUPPORT}/remote", {
        "tenant_id": "contoso-tenant", "client_id": "deskmail-app", "client_secret": NEW_SECRET + "2"})
    assert desk.accounts.get(SUPPORT).client_secret_name == SECRET_NAME
    assert len(vault._secrets[SECRET_NAME]) == 2

    for text in (page, json.dumps(api), _all_table_text(app_env.storage),
                 json.dumps(desk.syslog.list(), default=str), caplog.text):
        assert NEW_SECRET not in text


def test_a_refused_form_writes_no_secret(as_admin, desk, vault):
    answer = form_post(as_admin, f"/admin/emails/{SUPPORT}/remote", {
        "tenant_id": "bad tenant/x", "client_id": "deskmail-app", "client_secret": NEW_SECRET})
    assert answer.status_code == 422
    assert "tenant id" in re.search(r'id="error-tenant_id">(.*?)</span>', answer.text).group(1)
    assert 'value="bad tenant/x"' in answer.text and NEW_SECRET not in answer.text
    assert SECRET_NAME not in vault._secrets and "deskmail-graph-secret" in vault._secrets
    assert len(vault._secrets["deskmail-graph-secret"]) == 1


def _authorize(client) -> str:
    """Press Authorize, follow Entra's redirect (the TLS fake); the callback path and query."""
    answer = form_post(client, f"/admin/emails/{SUPPORT}/authorize")
    assert answer.status_code == 303
    entra = requests.get(answer.headers["location"], allow_redirects=False, timeout=30)
    assert entra.status_code == 302
    back = urlsplit(entra.headers["location"])
    assert (back.scheme, back.netloc, back.path) == ("http", "testserver", "/admin/emails/consent")
    return f"{back.path}?{back.query}"


def test_authorize_round_trip_grants_consent_and_verifies_access(as_admin, desk, cloud, identity):
    answer = form_post(as_admin, f"/admin/emails/{SUPPORT}/authorize")
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}" == cloud.authority_host
    assert location.path == "/contoso-tenant/adminconsent"
    query = parse_qs(location.query)
    assert query["client_id"] == ["deskmail-app"]
    assert query["redirect_uri"] == ["http://testserver/admin/emails/consent"]
    assert len(query["state"][0]) > 40

    page = as_admin.get(_authorize(as_admin))
    assert page.status_code == 200
    assert identity.consents == [("contoso-tenant", "deskmail-app",
                                  "http://testserver/admin/emails/consent")]
    result = re.search(r'<div id="consent-result" class="ok">(.*?)</div>', page.text, re.S)
    assert result and "Admin consent was granted in tenant contoso-tenant." in result.group(1)
    checks = _checks(page.text)
    assert list(checks) == ["credentials", "secret", "token", "permissions", "folder"]
    assert all(state.startswith("ok") for state in checks.values()), checks
    assert "Mail.ReadWrite, Mail.Send" in checks["permissions"]
    assert "http://testserver/admin/emails/consent" in page.text  # the redirect URI to register


def test_a_forged_or_foreign_state_changes_nothing(as_admin, desk):
    callback = _authorize(as_admin)
    forged = as_admin.get(re.sub(r"state=[^&]+", "state=eyJhIjoieCJ9.forged", callback))
    assert forged.status_code == 400 and "Nothing was changed" in forged.text
    no_state = as_admin.get("/admin/emails/consent?admin_consent=True&tenant=contoso-tenant")
    assert no_state.status_code == 400
    with _client() as other:  # the same admin, another sign-in session
        sign_in(other, ADMIN)
        foreign = other.get(callback)
        assert foreign.status_code == 400 and "another sign-in session" in foreign.text
        assert 'id="access-result"' not in foreign.text


def test_the_state_expires_and_names_one_account():
    from shared_code.web.auth import Principal
    from shared_code.web.consent import BadState, make_state, read_state
    from shared_code.web.settings import AuthMode, WebSettings

    settings = WebSettings(auth=AuthMode.DEV, session_key=b"s" * 40)
    me = Principal("a@contoso.test", "A", None, session="sid-1", via="dev")
    state = make_state(settings, me, SUPPORT, now=1000)
    assert read_state(settings, me, state, now=1000 + 60) == SUPPORT
    with pytest.raises(BadState, match="expired"):
        read_state(settings, me, state, now=1000 + 3600)
    other_key = WebSettings(auth=AuthMode.DEV, session_key=b"t" * 40)
    with pytest.raises(BadState, match="not one this app made"):
        read_state(other_key, me, state, now=1000)


def test_a_declined_consent_is_shown(as_admin, desk, identity):
    identity.deny_consent()
    page = as_admin.get(_authorize(as_admin))
    assert page.status_code == 200
    result = re.search(r'<div id="consent-result" class="error">(.*?)</div>', page.text, re.S)
    assert "Admin consent was not granted: access_denied: AADSTS65004" in result.group(1)
    assert 'id="access-result"' not in page.text
    assert identity.consents == []


def test_missing_graph_permissions_are_named_with_the_fix(as_admin, desk, identity):
    identity.register_app("contoso-tenant", "deskmail-app", MAILBOX_APP["secret"], roles=["Mail.Send"])
    page = as_admin.get(_authorize(as_admin))
    checks = _checks(page.text)
    assert checks["token"].startswith("ok")
    assert checks["permissions"].startswith("failed")
    assert "missing Mail.ReadWrite (granted: Mail.Send)" in checks["permissions"]
    assert "add the Microsoft Graph application permission Mail.ReadWrite" in checks["permissions"]
    assert checks["folder"].startswith("failed") and "ErrorAccessDenied" in checks["folder"]


def test_a_token_without_mail_roles_leaves_the_verdict_to_the_folder_listing(as_admin, desk, identity):
    """Exchange RBAC for Applications grants mailbox access outside Entra ID: the token then has
    no Mail.* roles, so the roles check is not taken as a failure; the folder listing decides
    (here the Graph fake refuses the listing, so that check is the one that fails)."""
    identity.register_app("contoso-tenant", "deskmail-app", MAILBOX_APP["secret"], roles=[])
    checks = _checks(form_post(as_admin, f"/admin/emails/{SUPPORT}/verify").text)
    assert checks["permissions"].startswith("skipped")
    assert "Exchange RBAC for Applications" in checks["permissions"]
    assert checks["folder"].startswith("failed") and "ErrorAccessDenied" in checks["folder"]


def test_verify_access_names_a_wrong_secret(as_admin, desk, monkeypatch):
    monkeypatch.setenv("DESKMAIL_GRAPH_SECRET", "the-secret-id-not-its-value")
    page = form_post(as_admin, f"/admin/emails/{SUPPORT}/verify")
    assert page.status_code == 200
    checks = _checks(page.text)
    assert checks["secret"].startswith("ok")
    assert checks["token"].startswith("failed") and "AADSTS7000215" in checks["token"]
    assert "paste the secret&#39;s Value (not its Secret ID)" in checks["token"]
    assert "permissions" not in checks and "the-secret-id-not-its-value" not in page.text


def test_verify_access_without_a_secret_or_registration(as_admin, desk, monkeypatch):
    monkeypatch.delenv("DESKMAIL_GRAPH_SECRET")
    checks = _checks(form_post(as_admin, f"/admin/emails/{SUPPORT}/verify").text)
    assert checks["secret"].startswith("failed") and "DESKMAIL_GRAPH_SECRET" in checks["secret"]
    run_cli("emails", "update", SUPPORT, "--tenant-id", "", "--client-id", "",
            "--client-secret-name", "")
    checks = _checks(form_post(as_admin, f"/admin/emails/{SUPPORT}/verify").text)
    assert checks == {"credentials": checks["credentials"]} and "failed" in checks["credentials"]
    refused = form_post(as_admin, f"/admin/emails/{SUPPORT}/authorize")
    assert refused.status_code == 422 and "set the tenant id before Authorize" in refused.text


def test_test_fetch_turns_a_mail_into_a_ticket_and_updates_last_fetch(as_admin, desk, graph):
    page = as_admin.get(f"/admin/emails/{SUPPORT}").text
    assert '<span class="last-fetch" id="last-fetch">never</span>' in page
    assert 'id="test-fetch-form"' in page and 'id="test-fetch"' in page
    raw, _ = make_mail(subject="Printer on fire")
    graph.add_message(SUPPORT, raw)
    answer = form_post(as_admin, f"/admin/emails/{SUPPORT}/test-fetch")
    assert answer.status_code == 200
    result = re.search(r'<div id="test-fetch-result" class="ok">(.*?)</div>', answer.text, re.S).group(1)
    assert "Fetched 1, created 1, threaded 0, discarded 0" in result and "errors 0" in result
    last = re.search(r'<span class="last-fetch">(.*?)</span>', result).group(1)
    assert last != "never" and last.endswith("UTC")
    assert desk.accounts.get(SUPPORT).last_fetch is not None
    [ticket] = run_cli("tickets", "list", "--json")[1]
    assert ticket["subject"] == "Printer on fire"


def test_a_failing_test_fetch_shows_the_error(as_admin, desk, graph):
    graph.fail_next(403, code="ErrorAccessDenied", message="Access is denied.")
    answer = form_post(as_admin, f"/admin/emails/{SUPPORT}/test-fetch")
    assert answer.status_code == 200
    result = re.search(r'<div id="test-fetch-result" class="error">(.*?)</div>', answer.text, re.S)
    assert "ErrorAccessDenied" in result.group(1)
    assert desk.accounts.get(SUPPORT).consecutive_failures == 1


def test_send_test_email_shows_the_message_id_or_graphs_error(as_admin, desk, graph, identity):
    answer = form_post(as_admin, f"/admin/emails/{SUPPORT}/test-send", {"to": "it@contoso.example"})
    assert answer.status_code == 200
    result = re.search(r'<p id="test-send-result" class="ok">(.*?)</p>', answer.text, re.S).group(1)
    message_id = re.search(r"<code>(.*?)</code>", result).group(1)
    [sent] = graph.sent
    assert sent.mailbox == SUPPORT and message_id.encode() in sent.raw
    assert b"it@contoso.example" in sent.raw

    identity.register_app("contoso-tenant", "deskmail-app", MAILBOX_APP["secret"],
                          roles=["Mail.ReadWrite"])
    from shared_code.services.helpdesk import reset_process_caches

    reset_process_caches()  # the cached token still has Mail.Send
    failed = form_post(as_admin, f"/admin/emails/{SUPPORT}/test-send", {"to": "it@contoso.example"})
    assert failed.status_code == 200
    result = re.search(r'<p id="test-send-result" class="error">(.*?)</p>', failed.text, re.S).group(1)
    assert "Not sent: ErrorAccessDenied" in result and len(graph.sent) == 1

    bad = form_post(as_admin, f"/admin/emails/{SUPPORT}/test-send", {"to": "not an address"})
    assert bad.status_code == 422 and "invalid email address" in bad.text


def test_mailbox_actions_need_an_admin_and_the_csrf_token(web, as_staff, as_admin, desk, graph):
    graph.add_message(SUPPORT, make_mail()[0])
    for action, data in (("remote", {"tenant_id": "t"}), ("authorize", {}), ("verify", {}),
                         ("test-fetch", {}), ("test-send", {"to": "it@contoso.example"})):
        path = f"/admin/emails/{SUPPORT}/{action}"
        assert web.post(path, data=data).status_code == 303
        assert form_post(as_staff, path, data).status_code == 403
        assert as_admin.post(path, data=data).status_code == 403
        assert as_admin.post(path, data={**data, "csrf_token": "forged"}).status_code == 403
        assert form_post(as_admin, f"/admin/emails/nobody@contoso.example/{action}",
                         data).status_code == 404
    assert as_staff.get("/admin/emails/consent?state=x").status_code == 403
    assert web.get("/admin/emails/consent?state=x").status_code == 303
    assert graph.sent == [] and desk.accounts.get(SUPPORT).last_fetch is None
