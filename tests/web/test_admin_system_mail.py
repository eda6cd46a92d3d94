"""Admin → Failed notifications and `/api/v1/notifications/failed` with a system mail that failed
for good (issue 10): a real monitor alert refused by the Graph fake five times is listed,
marked system mail with when it was created, requeued once (page button with CSRF, API), sent
once; anonymous, staff and CSRF-less requests neither see nor requeue it."""
from __future__ import annotations

import pytest

from shared_code.services.outbound_queue import drain_outbound
from tests.integration.failed_system_mail import ALERT, ONCALL, poison_a_monitor_alert

from .conftest import api_post, form_post


@pytest.fixture
def poisoned(desk, mailbox_app, graph) -> dict:
    return poison_a_monitor_alert(desk, mailbox_app, graph)


def _state(desk, poisoned) -> str:
    return desk.system_mail.get(poisoned["id"])["state"]


def test_the_page_marks_system_mail_and_requeues_it_once(as_admin, desk, graph, poisoned):
    page = as_admin.get("/admin/notifications")
    assert page.status_code == 200 and f'data-id="{poisoned["id"]}"' in page.text
    row = page.text[page.text.index(f'data-id="{poisoned["id"]}"'):]
    row = row[:row.index("</tr>")]
    assert '<strong class="system-mail">System mail</strong> fetch_alert' in row
    assert f"created {poisoned['created']}" in row and ONCALL in row and ALERT in row
    assert "ErrorInvalidRecipients" in row and "(5 attempts)" in row
    assert f'action="/admin/notifications/{poisoned["id"]}/requeue"' in row

    requeued = form_post(as_admin, f"/admin/notifications/{poisoned['id']}/requeue")
    assert requeued.status_code == 303
    flash = as_admin.get(requeued.headers["location"]).text
    assert f"System mail {poisoned['id']} is queued again" in flash and "may be stale" in flash
    again = form_post(as_admin, f"/admin/notifications/{poisoned['id']}/requeue")
    assert again.status_code == 409 and "is queued, not failed" in again.text
    assert [r.outcome for r in drain_outbound(desk, release_after=0)] == ["sent"]
    assert [box for box, _ in graph.sent] == [ALERT]
    assert f'data-id="{poisoned["id"]}"' not in as_admin.get("/admin/notifications").text


def test_the_api_lists_system_mail_and_requeues_it_once(as_admin, desk, graph, poisoned):
    listed = as_admin.get("/api/v1/notifications/failed")
    assert listed.status_code == 200
    [row] = [r for r in listed.json() if r["id"] == poisoned["id"]]
    assert row["type"] == "system_mail" and row["template"] == "fetch_alert"
    assert row["ticket"] == "" and row["recipients"] == ONCALL and row["sender"] == ALERT
    assert row["created"] == poisoned["created"] and row["attempts"] == 5 and row["updated"]
    assert "ErrorInvalidRecipients" in row["error"]
    answer = api_post(as_admin, f"/api/v1/notifications/{poisoned['id']}/requeue")
    assert answer.status_code == 200 and answer.json() == {"id": poisoned["id"], "state": "queued"}
    twice = api_post(as_admin, f"/api/v1/notifications/{poisoned['id']}/requeue")
    assert twice.status_code == 409 and "is queued, not failed" in twice.json()["error"]
    assert [r.outcome for r in drain_outbound(desk, release_after=0)] == ["sent"]
    assert len(graph.sent) == 1
    after = api_post(as_admin, f"/api/v1/notifications/{poisoned['id']}/requeue")
    assert after.status_code == 409 and "is sent, not failed" in after.json()["error"]
    assert poisoned["id"] not in {r["id"] for r in as_admin.get("/api/v1/notifications/failed").json()}


def test_anonymous_callers_neither_see_nor_requeue_it(web, desk, poisoned):
    assert web.get("/api/v1/notifications/failed").status_code == 401
    answer = web.post(f"/api/v1/notifications/{poisoned['id']}/requeue")
    assert answer.status_code == 401 and answer.json() == {"error": "sign-in required"}
    page = web.post(f"/admin/notifications/{poisoned['id']}/requeue")
    assert page.status_code == 303 and page.headers["location"].startswith("/auth/dev-login")
    assert web.get("/admin/notifications").status_code == 303
    assert _state(desk, poisoned) == "failed"


def test_staff_get_403_and_it_stays_failed(as_staff, desk, poisoned):
    assert as_staff.get("/admin/notifications").status_code == 403
    assert as_staff.get("/api/v1/notifications/failed").status_code == 403
    assert form_post(as_staff, f"/admin/notifications/{poisoned['id']}/requeue").status_code == 403
    assert api_post(as_staff, f"/api/v1/notifications/{poisoned['id']}/requeue").status_code == 403
    assert _state(desk, poisoned) == "failed"


@pytest.mark.parametrize("token", [None, "wrong"])
def test_a_requeue_without_the_csrf_token_is_refused(as_admin, desk, graph, poisoned, token):
    page = as_admin.post(f"/admin/notifications/{poisoned['id']}/requeue",
                         data={"csrf_token": token} if token else {})
    assert page.status_code == 403 and "CSRF" in page.text
    headers = {"X-CSRF-Token": token} if token else {}
    api = as_admin.post(f"/api/v1/notifications/{poisoned['id']}/requeue", headers=headers)
    assert api.status_code == 403 and api.json()["field"] == "X-CSRF-Token"
    assert _state(desk, poisoned) == "failed"
    assert drain_outbound(desk, release_after=0) == [] and graph.sent == []
