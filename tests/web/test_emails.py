"""Admin → Emails: the accounts table, Last Fetch and the stale warning, add, edit, remove."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from tests.integration.helpers import SUPPORT

from .conftest import ADMIN, _client, form_post, sign_in

NEW = "sales@contoso.example"
NEW_FORM = {"address": NEW, "name": "Contoso Sales", "purpose": "department",
            "department": "Sales", "priority": "high", "auto_response": "on",
            "fetch_enabled": "on", "folder": "Inbox", "batch_size": "15", "mark_as_read": "on"}


def _row(html: str, address: str) -> str:
    found = re.search(rf'<tr data-address="{re.escape(address)}">(.*?)</tr>', html, re.S)
    assert found, f"no row for {address}"
    return found.group(1)


def _field_error(html: str, field: str) -> str:
    found = re.search(rf'<span class="field-error" id="error-{field}">(.*?)</span>', html, re.S)
    assert found, f"no error next to {field}"
    return found.group(1)


def _set_fetch_state(desk, minutes_ago: float | None, failures: int = 0) -> None:
    account = desk.accounts.get(SUPPORT)
    account.last_fetch = (datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)
                          if minutes_ago is not None else None)
    account.consecutive_failures = failures
    if failures:
        account.last_error = "GraphError: HTTP 403 ErrorAccessDenied: Access is denied."
        account.last_error_time = datetime.now(timezone.utc)
    desk.accounts.save_fetch_state(account)


def test_the_emails_page_is_for_admins(web, as_staff, as_admin):
    anonymous = web.get("/admin/emails")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/auth/dev-login?next=%2Fadmin%2Femails")
    refused = as_staff.get("/admin/emails")
    assert refused.status_code == 403 and "for deskmail admins" in refused.text
    for path in ("/admin/emails/new", f"/admin/emails/{SUPPORT}"):
        assert as_staff.get(path).status_code == 403
    page = as_admin.get("/admin/emails")
    assert page.status_code == 200
    assert 'id="accounts"' in page.text and 'href="/admin/emails/new"' in page.text
    row = _row(page.text, SUPPORT)
    for shown in ("Contoso Support", "department", "Support", "normal"):
        assert f"<td>{shown}</td>" in row
    assert '<td class="fetching">on</td>' in row
    assert re.search(r'<td class="last-fetch">never', row)


def test_last_fetch_is_shown_and_a_stale_account_is_flagged(desk, monkeypatch):
    monkeypatch.setenv("FETCH_STALE_MINUTES", "0.5")
    with _client() as client:
        sign_in(client, ADMIN)
        _set_fetch_state(desk, minutes_ago=0)
        fresh = _row(client.get("/admin/emails").text, SUPPORT)
        assert 'class="stale"' not in fresh
        assert re.search(r'<td class="last-fetch">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC', fresh)

        _set_fetch_state(desk, minutes_ago=12)
        stale = _row(client.get("/admin/emails").text, SUPPORT)
        assert '<span class="stale">stale: no successful fetch for 12 min</span>' in stale
        page = client.get(f"/admin/emails/{SUPPORT}").text
        assert "stale: no successful fetch for 12 min" in page

        _set_fetch_state(desk, minutes_ago=12, failures=3)
        failing = _row(client.get("/admin/emails").text, SUPPORT)
        assert "failing: the last 3 fetches failed" in failing
        assert "ErrorAccessDenied" in failing  # the last error


def test_the_default_stale_limit_is_five_minutes(as_admin, desk):
    _set_fetch_state(desk, minutes_ago=3)
    assert 'class="stale"' not in _row(as_admin.get("/admin/emails").text, SUPPORT)
    _set_fetch_state(desk, minutes_ago=6)
    assert "stale: no successful fetch for 6.0 min" in _row(as_admin.get("/admin/emails").text,
                                                             SUPPORT)


def test_an_admin_adds_an_account_with_the_form(as_admin, desk):
    form = as_admin.get("/admin/emails/new").text
    for name in ("address", "name", "purpose", "department", "priority", "auto_response",
                 "fetch_enabled", "folder", "batch_size", "mark_as_read"):
        assert f'name="{name}"' in form
    assert 'id="account-form"' in form and 'id="account-save"' in form
    answer = form_post(as_admin, "/admin/emails/new", NEW_FORM)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/admin/emails/{NEW}?done=added"
    account = desk.accounts.get(NEW)
    assert (account.name, account.priority.value, account.batch_size) == ("Contoso Sales", "high", 15)
    assert account.auto_response and account.fetch_enabled and account.mark_as_read
    page = as_admin.get(answer.headers["location"]).text
    assert "The email account was added." in page
    # not fetched (no app registration yet) and another account is: no lost-replies warning
    assert 'id="replies-warning"' not in page
    assert NEW in as_admin.get("/admin/emails").text


def test_unchecked_boxes_turn_options_off(as_admin, desk):
    form = {k: v for k, v in NEW_FORM.items() if k not in ("auto_response", "mark_as_read")}
    assert form_post(as_admin, "/admin/emails/new", form).status_code == 303
    account = desk.accounts.get(NEW)
    assert not account.auto_response and not account.mark_as_read and account.fetch_enabled


@pytest.mark.parametrize("field, value, status, message", [
    ("address", "not-an-address", 422, "invalid email address"),
    ("address", SUPPORT.upper(), 409, f"an email account {SUPPORT} already exists"),
    ("name", "  ", 422, "email name must not be empty"),
    ("department", "", 422, "department must not be empty"),
    ("batch_size", "lots", 422, "batch size must be a whole number"),
    ("batch_size", "0", 422, "batch size must be between 1 and 1000"),
    ("purpose", "spam", 422, "unknown purpose"),
    ("folder", "   ", 422, "folder must not be empty"),
])
def test_each_validation_message_is_next_to_its_field(as_admin, desk, field, value, status, message):
    answer = form_post(as_admin, "/admin/emails/new", {**NEW_FORM, field: value})
    assert answer.status_code == status
    assert message in _field_error(answer.text, field)
    assert len(re.findall('class="field-error"', answer.text)) == 1
    # what the admin typed is kept, the refused value too
    for name in ("name", "department", "batch_size"):
        assert f'name="{name}" value="{NEW_FORM[name] if name != field else value}"' in answer.text
    if field != "address":
        assert desk.accounts.get(NEW) is None


def test_an_admin_edits_an_account(as_admin, desk):
    page = as_admin.get(f"/admin/emails/{SUPPORT}")
    assert page.status_code == 200
    for section in ('id="account"', 'id="remote"', 'id="sending"', ">Account<",
                    ">Remote mailbox<", ">Sending<", 'readonly'):
        assert section in page.text
    form = {"name": "Support Desk", "purpose": "department", "department": "Support",
            "priority": "emergency", "fetch_enabled": "on", "folder": "Inbox/Support",
            "batch_size": "50"}
    saved = form_post(as_admin, f"/admin/emails/{SUPPORT}", form)
    assert saved.status_code == 303 and saved.headers["location"].endswith("?done=saved")
    account = desk.accounts.get(SUPPORT)
    assert (account.name, account.priority.value, account.folder, account.batch_size) == (
        "Support Desk", "emergency", "Inbox/Support", 50)
    assert not account.auto_response and not account.mark_as_read
    assert account.client_secret_name == "deskmail-graph-secret"  # the remote part is kept

    refused = form_post(as_admin, f"/admin/emails/{SUPPORT}", {**form, "batch_size": "5000"})
    assert refused.status_code == 422
    assert "between 1 and 1000" in _field_error(refused.text, "batch_size")
    assert 'value="5000"' in refused.text
    assert desk.accounts.get(SUPPORT).batch_size == 50


def test_a_send_only_account_without_a_fetched_one_warns_that_replies_are_lost(as_admin, desk):
    form_post(as_admin, f"/admin/emails/{SUPPORT}", {
        "name": "Support", "purpose": "department", "department": "Support", "folder": "Inbox",
        "batch_size": "20"})  # fetching unchecked: the only fetched account is gone
    page = as_admin.get(f"/admin/emails/{SUPPORT}").text
    assert "answers would be lost" in page and 'id="replies-warning"' in page


def test_an_admin_removes_an_account_after_confirming(as_admin, desk):
    page = as_admin.get(f"/admin/emails/{SUPPORT}").text
    assert re.search(r'<form id="account-remove-form" method="post" action="/admin/emails/'
                     r'support%40contoso.example/remove" data-confirm="Remove ', page)
    answer = form_post(as_admin, f"/admin/emails/{SUPPORT}/remove")
    assert answer.status_code == 303 and answer.headers["location"] == "/admin/emails?done=removed"
    assert desk.accounts.get(SUPPORT) is None
    assert "The email account was removed." in as_admin.get("/admin/emails?done=removed").text
    missing = form_post(as_admin, f"/admin/emails/{SUPPORT}/remove")
    assert missing.status_code == 404 and "no email account" in missing.text
    assert as_admin.get(f"/admin/emails/{SUPPORT}").status_code == 404


def test_changes_need_an_admin_and_the_csrf_token(web, as_staff, as_admin, desk):
    for path, data in (("/admin/emails/new", NEW_FORM), (f"/admin/emails/{SUPPORT}", NEW_FORM),
                       (f"/admin/emails/{SUPPORT}/remove", {})):
        assert web.post(path, data=data).status_code == 303  # to sign-in
        assert form_post(as_staff, path, data).status_code == 403
        no_token = as_admin.post(path, data=data)
        assert no_token.status_code == 403 and "CSRF" in no_token.text
        wrong = as_admin.post(path, data={**data, "csrf_token": "forged"})
        assert wrong.status_code == 403
    assert desk.accounts.get(NEW) is None and desk.accounts.get(SUPPORT) is not None
