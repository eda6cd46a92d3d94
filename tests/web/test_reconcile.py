"""Admin → Reconciliation and `GET /api/v1/reconcile`: access rules, the report of a day with
a mail no fetch run took (escaped, logged once however often the page is loaded), validation."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from shared_code.services.fetch import fetch_all
from shared_code.services.reconcile import ALERT_TITLE
from tests.integration.helpers import SUPPORT, make_mail


@pytest.fixture
def lost_day(desk, graph):
    """A ticket fetched by a real run, then a mail received before the watermark (no run will
    take it); returns (day, the lost mail's Graph id)."""
    base = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=1)
    if (base - timedelta(minutes=15)).date() != base.date():
        base -= timedelta(minutes=20)
    graph.add_message(SUPPORT, make_mail(subject="Printer on fire")[0], received=base)
    assert fetch_all(desk)[0].created == 1
    lost = graph.add_message(SUPPORT, make_mail(subject="Lost <script>x</script>")[0],
                             received=base - timedelta(minutes=10))
    return base.date().isoformat(), lost


def _alerts(desk) -> list[dict]:
    return [e for e in desk.syslog.list(limit=100) if e.get("title") == ALERT_TITLE]


def test_anonymous_page_redirects_and_api_answers_401(web):
    page = web.get("/admin/reconcile")
    assert page.status_code == 303
    assert page.headers["location"].startswith("/auth/dev-login?next=%2Fadmin%2Freconcile")
    api = web.get("/api/v1/reconcile")
    assert api.status_code == 401 and api.json() == {"error": "sign-in required"}


def test_staff_get_403_from_page_and_api(as_staff, desk):
    page = as_staff.get("/admin/reconcile")
    assert page.status_code == 403 and "this page is for deskmail admins" in page.text
    api = as_staff.get(f"/api/v1/reconcile?account={SUPPORT}")
    assert api.status_code == 403 and "admins" in api.json()["error"]
    assert _alerts(desk) == []


def test_page_shows_the_day_and_its_unaccounted_mail_escaped(as_admin, desk, lost_day):
    day, lost = lost_day
    answer = as_admin.get(f"/admin/reconcile?account={SUPPORT}&day={day}")

    assert answer.status_code == 200
    body = answer.text
    assert f'<option value="{SUPPORT}" selected>' in body and f'value="{day}"' in body
    assert body.count('<section class="reconcile"') == 1
    assert '<td class="count-ingested">1</td>' in body
    assert '<td class="count-unaccounted">1</td>' in body
    assert "Lost &lt;script&gt;x&lt;/script&gt;" in body and "<script>x" not in body
    assert f"<code>{lost}</code>" in body
    assert as_admin.get(f"/admin/reconcile?account={SUPPORT}&day={day}").status_code == 200
    assert len(_alerts(desk)) == 1  # loading the page again logs nothing new
    assert 'href="/admin/reconcile"' in body  # in the admin navigation


def test_page_defaults_to_every_account_yesterday_and_today(as_admin, desk):
    body = as_admin.get("/admin/reconcile").text
    assert body.count('<section class="reconcile"') == 2
    assert " selected>" not in body  # no account chosen: the first option, "every fetched account"


def test_page_refuses_a_bad_day_and_an_unknown_account(as_admin, desk):
    bad = as_admin.get("/admin/reconcile?day=27.11.2026")
    assert bad.status_code == 422 and "day must be YYYY-MM-DD" in bad.text
    late = as_admin.get("/admin/reconcile?day=2999-01-01")
    assert late.status_code == 422 and "day must be between" in late.text
    unknown = as_admin.get("/admin/reconcile?account=nobody@contoso.example")
    assert unknown.status_code == 404 and "no email account" in unknown.text


def test_api_reports_counts_and_unaccounted_mail(as_admin, desk, lost_day):
    day, lost = lost_day
    answer = as_admin.get(f"/api/v1/reconcile?account={SUPPORT}&day={day}")

    assert answer.status_code == 200
    [result] = answer.json()
    assert (result["account"], result["day"], result["error"], result["total"]) == (
        SUPPORT, day, "", 2)
    assert result["counts"]["ingested"] == 1 and result["counts"]["unaccounted"] == 1
    assert set(result["counts"]) >= {"discarded", "duplicate", "ignored", "quarantined",
                                     "in_progress", "waiting"}
    [mail] = result["unaccounted"]
    assert (mail["graph_id"], mail["subject"], mail["from"], mail["category"]) == (
        lost, "Lost <script>x</script>", "ann@example.org", "unaccounted")
    assert result["new_alerts"] == 1
    again = as_admin.get(f"/api/v1/reconcile?account={SUPPORT}&day={day}").json()
    assert again[0]["new_alerts"] == 0 and len(_alerts(desk)) == 1


@pytest.mark.parametrize("query,status,field", [
    ("day=2026-02-30", 422, "day"), ("day=1999-12-31", 422, "day"),
    ("day=9999-12-31", 422, "day"), ("account=nobody@contoso.example", 404, None)])
def test_api_validation(as_admin, desk, query, status, field):
    answer = as_admin.get(f"/api/v1/reconcile?{query}")
    assert answer.status_code == status
    assert answer.json().get("field") == field and answer.json()["error"]
