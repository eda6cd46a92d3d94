"""`/api/v1/tickets`: list, get (the shape of `tickets show --json`), and the staff actions."""
from __future__ import annotations

import pytest

from shared_code.adapters.names import OUTBOUND_MAIL

from tests.integration.helpers import run_cli

from .conftest import AGENT, api_post
from .ticket_setup import BLUE_PNG, MANAGER, RED_PNG, directory, fetch, no_role_client, outlook_mail, plain_ticket, sha


@pytest.fixture
def ticket(desk, graph):
    directory()
    return plain_ticket(desk, graph)


def _queued(desk, template: str) -> list[dict]:
    return [n for n in desk.queues.peek_notifications(OUTBOUND_MAIL) if n["template"] == template]


def test_get_has_the_shape_of_tickets_show_json(as_staff, desk, graph):
    ticket = fetch(desk, graph, outlook_mail())
    answer = as_staff.get(f"/api/v1/tickets/{ticket.number}")
    assert answer.status_code == 200
    code, shown = run_cli("tickets", "show", ticket.number, "--json")
    body = answer.json()
    assert body["entries"] == shown["entries"]
    assert {k: v for k, v in body.items() if k not in ("sla",)} == {
        k: v for k, v in shown.items() if k not in ("sla",)}
    assert body["sla"]["state"] == shown["sla"]["state"]
    [entry] = body["entries"]
    assert [a["url"] for a in entry["attachments"]] == [
        f"/attachments/{sha(RED_PNG)}/image001.png", f"/attachments/{sha(BLUE_PNG)}/image002.png"]
    assert as_staff.get(f"/api/v1/tickets/%23{ticket.number}").status_code == 200


def test_list_filters_and_pages(as_staff, desk, graph, ticket):
    plain_ticket(desk, graph, subject="Invoice missing", sender="Bob <bob@example.net>")
    everything = as_staff.get("/api/v1/tickets").json()
    assert (everything["total"], everything["page"], everything["pages"], everything["next"]) == (2, 1, 1, None)
    found = as_staff.get("/api/v1/tickets", params={"q": "invoice"}).json()
    assert [t["client"]["email"] for t in found["items"]] == ["bob@example.net"]
    assert "sla" in found["items"][0] and "entries" not in found["items"][0]
    assert as_staff.get("/api/v1/tickets", params={"status": "closed"}).json()["total"] == 0
    assert as_staff.get("/api/v1/tickets", params={"department": "support"}).json()["total"] == 2


@pytest.mark.parametrize("query, field", [({"status": "pending"}, "status"), ({"page": "0"}, "page"),
                                          ({"page": "x"}, "page")])
def test_bad_list_queries_are_422_naming_the_field(as_staff, desk, query, field):
    answer = as_staff.get("/api/v1/tickets", params=query)
    assert answer.status_code == 422
    assert answer.json()["field"] == field and answer.json()["error"]


def test_unknown_and_malformed_numbers(as_staff, desk):
    missing = as_staff.get("/api/v1/tickets/999999")
    assert missing.status_code == 404 and missing.json() == {"error": "no ticket #999999"}
    bad = as_staff.get("/api/v1/tickets/abc")
    assert bad.status_code == 422 and bad.json()["field"] == "number"


def test_reply_stores_the_response_and_queues_the_mail_once_per_idempotency_key(as_staff, desk, ticket):
    for _ in range(2):
        answer = api_post(as_staff, f"/api/v1/tickets/{ticket.number}/reply",
                          {"text": "Switch it off.", "html": '<p>Switch it <b>off</b>.<script>x()</script>'
                           '<img src="https://tracker.example/p.gif"></p>'},
                          headers={"Idempotency-Key": "reply-1"})
        assert answer.status_code == 201, answer.text
    entry = answer.json()
    assert entry["type"] == "response" and entry["from"]["email"] == AGENT
    assert "<b>off</b>" in entry["body_html"]
    assert "script" not in entry["body_html"] and "tracker" not in entry["body_html"]
    assert [e.type for e in desk.tickets.entries(ticket.number)] == ["message", "response"]
    assert len({n["id"] for n in _queued(desk, "response")}) == 1


def test_note_is_stored_and_not_mailed(as_staff, desk, ticket):
    answer = api_post(as_staff, f"/api/v1/tickets/{ticket.number}/note", {"text": "Called the client."})
    assert answer.status_code == 201
    assert answer.json()["type"] == "note" and answer.json()["body_text"] == "Called the client."
    assert [e.type for e in desk.tickets.entries(ticket.number)] == ["message", "note"]
    assert _queued(desk, "response") == []


def test_assign_transfer_close(as_staff, desk, ticket):
    assigned = api_post(as_staff, f"/api/v1/tickets/{ticket.number}/assign", {"staff": MANAGER})
    assert assigned.status_code == 200 and assigned.json()["assignee"] == MANAGER
    moved = api_post(as_staff, f"/api/v1/tickets/{ticket.number}/transfer", {"department": "Billing"})
    assert moved.status_code == 200 and moved.json()["department"] == "Billing"
    closed = api_post(as_staff, f"/api/v1/tickets/{ticket.number}/close", {})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    again = api_post(as_staff, f"/api/v1/tickets/{ticket.number}/close", {})
    assert again.status_code == 422 and "already closed" in again.json()["error"]
    assert again.json()["field"] == "status"
    assert [len(_queued(desk, t)) for t in ("assignment_alert", "transfer_alert", "ticket_closed")] == [1, 1, 1]


@pytest.mark.parametrize("action, body, field", [
    ("reply", {}, "text"),
    ("reply", {"text": ""}, "text"),
    ("reply", {"text": "   "}, "text"),
    ("reply", {"text": 5}, "text"),
    ("reply", {"text": "x", "extra": 1}, "extra"),
    ("note", {"text": " "}, "text"),
    ("assign", {"staff": "nobody@contoso.example"}, "staff"),
    ("assign", {}, "staff"),
    ("transfer", {"department": "Nowhere"}, "department"),
    ("close", {"why": "x"}, "why"),
])
def test_bad_bodies_are_422_naming_the_field(as_staff, desk, ticket, action, body, field):
    answer = api_post(as_staff, f"/api/v1/tickets/{ticket.number}/{action}", body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field and answer.json()["error"]


def test_malformed_json_is_4xx(as_staff, desk, ticket):
    answer = as_staff.post(f"/api/v1/tickets/{ticket.number}/reply", content=b"{not json",
                           headers={"X-CSRF-Token": as_staff.csrf, "Content-Type": "application/json"})
    assert answer.status_code == 422 and "error" in answer.json()


def test_an_admin_outside_the_directory_cannot_reply(as_admin, desk, ticket):
    answer = api_post(as_admin, f"/api/v1/tickets/{ticket.number}/reply", {"text": "Hi"})
    assert answer.status_code == 422 and answer.json()["field"] == "staff"
    assert "staff directory" in answer.json()["error"]


def test_an_action_on_an_unknown_ticket_is_404(as_staff, desk, ticket):
    answer = api_post(as_staff, "/api/v1/tickets/999999/assign", {"staff": "nobody@x.example"})
    assert answer.status_code == 404


def test_access_rules(web, as_staff, desk, ticket):
    path = f"/api/v1/tickets/{ticket.number}"
    assert web.get(path).status_code == 401
    assert web.get("/api/v1/tickets").status_code == 401
    assert api_post(web, f"{path}/note", {"text": "x"}).status_code == 401
    no_csrf = as_staff.post(f"{path}/note", json={"text": "x"})
    assert no_csrf.status_code == 403 and no_csrf.json()["field"] == "X-CSRF-Token"
    wrong = api_post(as_staff, f"{path}/note", {"text": "x"}, headers={"X-CSRF-Token": "wrong"})
    assert wrong.status_code == 403
    with no_role_client() as client:
        assert client.get(path).status_code == 403
        assert client.post(f"{path}/note", json={"text": "x"}).status_code == 403
    assert [e.type for e in desk.tickets.entries(ticket.number)] == ["message"]


def test_the_openapi_document_describes_the_ticket_api(web):
    document = web.get("/api/v1/openapi.json").json()
    paths = document["paths"]
    for path in ("/api/v1/tickets", "/api/v1/tickets/{number}", "/api/v1/tickets/{number}/reply",
                 "/api/v1/tickets/{number}/note", "/api/v1/tickets/{number}/assign",
                 "/api/v1/tickets/{number}/transfer", "/api/v1/tickets/{number}/close"):
        assert path in paths
    reply = paths["/api/v1/tickets/{number}/reply"]["post"]
    assert "Idempotency-Key" in [p["name"] for p in reply["parameters"]]
    assert set(reply["responses"]) >= {"201", "401", "403", "404", "422"}
    entry = document["components"]["schemas"]["EntryOut"]
    assert "from" in entry["properties"]
    assert "/attachments/" not in str(paths)  # files are not part of the JSON API


def test_close_needs_no_body_and_a_note_may_carry_sanitized_html(as_staff, desk, ticket):
    note = api_post(as_staff, f"/api/v1/tickets/{ticket.number}/note",
                    {"text": "see log", "html": '<p onclick="x()">see <a href="javascript:x()">log</a></p>'})
    assert note.status_code == 201
    assert "onclick" not in note.json()["body_html"] and "javascript" not in note.json()["body_html"]
    closed = as_staff.post(f"/api/v1/tickets/{ticket.number}/close", headers={"X-CSRF-Token": as_staff.csrf})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
