"""`/admin/doctor` and `GET /api/v1/doctor`: admin only, the same report as the CLI, escaped."""
from __future__ import annotations

import html
import re
from datetime import datetime, timezone

import pytest

from tests.fakes.nameserver import FakeNameServer
from tests.integration.helpers import SUPPORT

DOMAIN = "contoso.example"


@pytest.fixture
def nameserver(monkeypatch):
    server = FakeNameServer()
    server.publish_mail_records(DOMAIN)
    monkeypatch.setenv("DOCTOR_DNS_SERVER", server.address)
    yield server
    server.stop()


@pytest.fixture
def healthy(desk, nameserver):
    account = desk.accounts.get(SUPPORT)
    account.last_fetch = datetime.now(timezone.utc)
    desk.accounts.save_fetch_state(account)
    return desk


def _rows(page: str) -> dict[tuple[str, str], str]:
    return {(check, html.unescape(target)): result for check, target, result in re.findall(
        r'<tr data-check="([^"]+)" data-target="([^"]*)" data-result="([^"]+)">', page)}


def test_admin_sees_the_report_as_a_table(as_admin, healthy):
    page = as_admin.get("/admin/doctor")

    assert page.status_code == 200
    rows = _rows(page.text)
    assert rows[("token", SUPPORT)] == "pass" and rows[("spf", DOMAIN)] == "pass"
    assert set(rows.values()) == {"pass"}
    assert "Nothing failed" in page.text and '<a href="/admin/doctor">Doctor</a>' in page.text
    assert f'<option value="{SUPPORT}">' in page.text


def test_the_page_shows_failures_with_the_fix_escaped(as_admin, healthy):
    from shared_code.adapters.names import TEMPLATES
    from shared_code.adapters.table_base import _Table

    _Table(healthy.connection, TEMPLATES).upsert({
        "PartitionKey": "default", "RowKey": "response", "department": "",
        "subject": "Re: %{<b>subject</b>}", "html": "<p>%{response}</p>", "text": "%{response}"})

    page = as_admin.get(f"/admin/doctor?account={SUPPORT}")

    assert page.status_code == 200
    assert _rows(page.text)[("templates", "")] == "fail"
    assert "A check failed" in page.text
    assert "unknown variable %{&lt;b&gt;subject&lt;/b&gt;} in subject" in page.text
    assert "<b>subject</b>" not in page.text
    assert "templates reset KEY" in page.text
    assert f'<option value="{SUPPORT}" selected>' in page.text


def test_the_api_gives_the_cli_json_shape(as_admin, healthy, nameserver):
    nameserver.records.clear()  # the domain publishes nothing now

    answer = as_admin.get("/api/v1/doctor", params={"account": SUPPORT})

    assert answer.status_code == 200
    body = answer.json()
    assert body["ok"] is False and body["exit_code"] == 1
    assert body["counts"] == {"pass": len(body["checks"]) - 3, "warn": 0, "fail": 3}
    spf = next(c for c in body["checks"] if c["check"] == "spf")
    assert spf == {"check": "spf", "title": "SPF", "row": "Emails going to spam", "result": "fail",
                   "detail": f"no TXT record starting v=spf1 at {DOMAIN}", "target": DOMAIN,
                   "fix": spf["fix"]}
    assert spf["fix"].startswith(f"publish TXT at {DOMAIN}: v=spf1")


def test_the_api_refuses_an_unknown_account_and_a_too_long_one(as_admin, healthy):
    unknown = as_admin.get("/api/v1/doctor", params={"account": "nobody@contoso.example"})
    assert unknown.status_code == 404
    assert unknown.json() == {"error": "no email account nobody@contoso.example"}

    too_long = as_admin.get("/api/v1/doctor", params={"account": "a" * 255})
    assert too_long.status_code == 422 and too_long.json()["field"] == "account"

    page = as_admin.get("/admin/doctor", params={"account": "nobody@contoso.example"})
    assert page.status_code == 404 and "no email account nobody@contoso.example" in page.text


def test_anonymous_callers_are_sent_to_sign_in_or_refused(web):
    page = web.get("/admin/doctor")
    assert page.status_code == 303 and page.headers["location"].startswith("/auth/dev-login")
    api = web.get("/api/v1/doctor")
    assert api.status_code == 401 and api.json() == {"error": "sign-in required"}


def test_staff_are_forbidden(as_staff, healthy):
    page = as_staff.get("/admin/doctor")
    assert page.status_code == 403 and "for deskmail admins" in page.text
    api = as_staff.get("/api/v1/doctor")
    assert api.status_code == 403 and api.json() == {"error": "this page is for deskmail admins"}
    assert '<a href="/admin/doctor">' not in as_staff.get("/tickets").text


def test_the_operation_is_in_the_openapi_document(as_admin):
    operation = as_admin.get("/api/v1/openapi.json").json()["paths"]["/api/v1/doctor"]["get"]
    assert {"200", "401", "403", "422"} <= set(operation["responses"])
    assert operation["parameters"][0]["name"] == "account"
