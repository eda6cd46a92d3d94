"""Admin → System log, Quarantine and Failed notifications, the pages and their API: search,
level filter and pages; retry and dismiss of mail quarantined by a real fetch run; requeue of a
notification that failed for good against the Graph fake."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from shared_code.services.fetch import fetch_all
from shared_code.services.helpdesk import Helpdesk
from shared_code.services.outbound_queue import drain_outbound, failed_notifications
from tests.integration.helpers import SUPPORT, make_mail

from .conftest import ADMIN, api_post, form_post

# ---------------------------------------------------------------- system log


def _log_lines(desk):
    """65 lines, oldest first: every 5th an error about mail, the rest info about other things."""
    for n in range(65):
        if n % 5 == 0:
            desk.syslog.write("error", f"Mail fetch failed {n}", f"line {n}: timeout", account=SUPPORT)
        else:
            desk.syslog.write("info", f"Queue drained {n}", f"line {n}: nothing to do")


def test_syslog_page_is_newest_first_paged_and_searchable(as_admin, desk):
    _log_lines(desk)
    first = as_admin.get("/admin/syslog")
    assert first.status_code == 200
    body = first.text
    assert body.index("Queue drained 64") < body.index("Queue drained 63")  # newest first
    assert body.count('<tr class="level-') == 50 and "Mail fetch failed 15" in body
    assert 'href="/admin/syslog?page=2" rel="next"' in body and 'rel="prev"' not in body
    second = as_admin.get("/admin/syslog?page=2").text
    assert "Queue drained 14" in second and "Mail fetch failed 15" not in second
    assert 'rel="next"' not in second and 'href="/admin/syslog" rel="prev"' not in second

    found = as_admin.get("/admin/syslog?q=MAIL").text  # the guide's title like '%mail%'
    assert found.count('<tr class="level-') == 13 and "Queue drained" not in found
    by_message = as_admin.get("/admin/syslog?q=line 7:").text
    assert by_message.count('<tr class="level-') == 1 and "Queue drained 7" in by_message
    errors = as_admin.get("/admin/syslog?level=error").text
    assert errors.count('<tr class="level-error"') == 13 and 'value="error" selected' in errors
    none = as_admin.get("/admin/syslog?q=nothing+like+this&level=warning").text
    assert "No log lines match" in none
    assert as_admin.get("/admin/syslog?level=loud").status_code == 422


def test_syslog_api_searches_filters_and_pages(as_admin, desk):
    _log_lines(desk)
    page = as_admin.get("/api/v1/syslog").json()
    assert (len(page["entries"]), page["page"], page["per_page"], page["has_more"]) == (50, 1, 50, True)
    assert page["entries"][0]["title"] == "Queue drained 64"
    assert page["entries"][0]["time"] >= page["entries"][1]["time"]
    rest = as_admin.get("/api/v1/syslog?page=2").json()
    assert len(rest["entries"]) == 15 and rest["has_more"] is False
    mail = as_admin.get("/api/v1/syslog?q=mail&level=error").json()["entries"]
    assert len(mail) == 13 and {e["account"] for e in mail} == {SUPPORT}
    assert as_admin.get("/api/v1/syslog?q=mail&level=info").json()["entries"] == []
    for bad, field in (("page=0", "page"), ("level=loud", "level"), ("page=x", "page")):
        answer = as_admin.get(f"/api/v1/syslog?{bad}")
        assert answer.status_code == 422 and answer.json()["field"] == field


# ---------------------------------------------------------------- quarantine


@pytest.fixture
def quarantined(desk, graph, monkeypatch):
    """A mail whose download always fails, quarantined by real fetch runs; returns its id."""
    monkeypatch.setenv("GRAPH_MAX_RETRIES", "0")
    monkeypatch.setenv("MAX_PROCESSING_ATTEMPTS", "2")
    own = Helpdesk.from_env()
    poison = graph.add_message(SUPPORT, make_mail(subject="poison <i>mail</i>")[0],
                               received=datetime.now(timezone.utc) - timedelta(minutes=1))
    graph.break_message(SUPPORT, poison, 404, "ErrorItemNotFound")
    fetch_all(own)
    fetch_all(own)
    [row] = own.quarantine.list()
    return row["RowKey"]


def test_quarantine_page_lists_retries_and_dismisses(as_admin, desk, quarantined):
    page = as_admin.get("/admin/quarantine")
    assert page.status_code == 200 and f'data-id="{quarantined}"' in page.text
    assert "poison &lt;i&gt;mail&lt;/i&gt;" in page.text and "ErrorItemNotFound" in page.text

    retried = form_post(as_admin, f"/admin/quarantine/{quarantined}/retry")
    assert retried.status_code == 303
    shown = as_admin.get(retried.headers["location"]).text
    assert f"{quarantined} will get one more attempt" in shown
    row = desk.quarantine.get(quarantined)
    assert (row["state"], row["retry_requested_by"]) == ("retry", ADMIN)

    dismissed = form_post(as_admin, f"/admin/quarantine/{quarantined}/dismiss")
    assert dismissed.status_code == 303
    assert f"{quarantined} dismissed." in as_admin.get(dismissed.headers["location"]).text
    assert desk.quarantine.get(quarantined)["dismissed_by"] == ADMIN
    assert f'data-id="{quarantined}"' not in as_admin.get("/admin/quarantine").text  # closed
    assert f'data-id="{quarantined}"' in as_admin.get("/admin/quarantine?all=1").text

    assert form_post(as_admin, "/admin/quarantine/nosuchid/retry").status_code == 404
    assert form_post(as_admin, "/admin/quarantine/nosuchid/dismiss").status_code == 404


def test_quarantine_api_lists_retries_and_dismisses(as_admin, desk, quarantined):
    [row] = as_admin.get("/api/v1/quarantine").json()
    assert row["id"] == quarantined and row["state"] == "quarantined"
    assert row["from"] == {"name": "Ann Client", "email": "ann@example.org"}
    retried = api_post(as_admin, f"/api/v1/quarantine/{quarantined}/retry")
    assert retried.status_code == 200
    assert (retried.json()["state"], retried.json()["retry_requested_by"]) == ("retry", ADMIN)
    dismissed = api_post(as_admin, f"/api/v1/quarantine/{quarantined}/dismiss")
    assert dismissed.json()["state"] == "dismissed" and dismissed.json()["dismissed_by"] == ADMIN
    assert as_admin.get("/api/v1/quarantine").json() == []
    assert [r["id"] for r in as_admin.get("/api/v1/quarantine?all=true").json()] == [quarantined]
    missing = api_post(as_admin, "/api/v1/quarantine/nosuchid/retry")
    assert missing.status_code == 404 and "no quarantined mail" in missing.json()["error"]
    assert api_post(as_admin, "/api/v1/quarantine/nosuchid/dismiss").status_code == 404


def test_retry_of_mail_processed_on_retry_is_refused(as_admin, desk, quarantined):
    from shared_code.services.quarantine import release

    release(desk, SUPPORT, quarantined, "ticket", "123456")
    answer = api_post(as_admin, f"/api/v1/quarantine/{quarantined}/retry")
    assert answer.status_code == 422 and "already processed" in answer.json()["error"]
    page = form_post(as_admin, f"/admin/quarantine/{quarantined}/retry")
    assert page.status_code == 422 and "already processed" in page.text


# ---------------------------------------------------------------- failed notifications


@pytest.fixture
def failed(desk, graph, monkeypatch):
    """The auto-response of a fetched ticket, failed for good: sendMail answered 500 five times."""
    monkeypatch.setenv("GRAPH_MAX_RETRIES", "0")
    own = Helpdesk.from_env()
    graph.add_message(SUPPORT, make_mail(subject="Where is my order?")[0])
    fetch_all(own)
    graph.fail_next(500, count=5, path_contains="sendMail")
    results = drain_outbound(own, release_after=0)
    assert [r.outcome for r in results][-1] == "failed" and graph.sent == []
    # the new-ticket alert fails too (no system account can send it): two rows
    [row] = [r for r in failed_notifications(own) if r["template"] == "new_ticket_auto_response"]
    return row


def _failed_ids(desk) -> set[str]:
    return {r["id"] for r in failed_notifications(desk)}


def test_failed_notifications_page_lists_and_requeues(as_admin, desk, graph, failed):
    page = as_admin.get("/admin/notifications")
    assert page.status_code == 200 and f'data-id="{failed["id"]}"' in page.text
    assert "new_ticket_auto_response" in page.text and "outbound-mail-poison" in page.text

    requeued = form_post(as_admin, f"/admin/notifications/{failed['id']}/requeue")
    assert requeued.status_code == 303
    assert f"Notification {failed['id']} is queued again." in as_admin.get(requeued.headers["location"]).text
    assert failed["id"] not in _failed_ids(desk)
    assert [r.outcome for r in drain_outbound(desk)] == ["sent"] and len(graph.sent) == 1
    assert f'data-id="{failed["id"]}"' not in as_admin.get("/admin/notifications").text
    assert form_post(as_admin, "/admin/notifications/feedface/requeue").status_code == 404


def test_failed_notifications_api_lists_and_requeues(as_admin, desk, graph, failed):
    listed = as_admin.get("/api/v1/notifications/failed").json()
    [row] = [r for r in listed if r["id"] == failed["id"]]
    assert row["attempts"] == 5 and row["updated"] and row["recipients"] == "ann@example.org"
    assert {r["template"] for r in listed} == {"new_ticket_auto_response", "new_ticket_alert"}
    answer = api_post(as_admin, f"/api/v1/notifications/{failed['id']}/requeue")
    assert answer.json() == {"id": failed["id"], "state": "queued"}
    assert failed["id"] not in {r["id"] for r in as_admin.get("/api/v1/notifications/failed").json()}
    assert [r.outcome for r in drain_outbound(desk)] == ["sent"]
    sent_twice = api_post(as_admin, f"/api/v1/notifications/{failed['id']}/requeue")
    assert sent_twice.status_code == 422 and "is sent; not re-queued" in sent_twice.json()["error"]
    missing = api_post(as_admin, "/api/v1/notifications/feedface/requeue")
    assert missing.status_code == 404 and missing.json() == {"error": "no notification feedface"}
