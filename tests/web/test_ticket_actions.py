"""Staff actions from the thread page: reply, note, assign, transfer, close; their mails."""
from __future__ import annotations

import re
from email import message_from_bytes, policy

import pytest

from shared_code.adapters.names import OUTBOUND_MAIL
from shared_code.services.outbound_queue import drain_outbound

from tests.integration.helpers import run_cli

from .conftest import AGENT, form_post
from .ticket_setup import MANAGER, directory, plain_ticket


@pytest.fixture
def ticket(desk, graph):
    directory()
    return plain_ticket(desk, graph)


def _form_token(page: str, form: str) -> str:
    section = page.split(f'id="{form}"', 1)[1].split("</form>", 1)[0]
    return re.search(r'name="request_id" value="([^"]+)"', section).group(1)


def _sent_to(graph, address: str) -> list:
    mails = [message_from_bytes(raw, policy=policy.default) for _, raw in graph.sent]
    return [m for m in mails if address in str(m["To"])]


def _queued(desk, template: str) -> list[dict]:
    return [n for n in desk.queues.peek_notifications(OUTBOUND_MAIL) if n["template"] == template]


def test_a_reply_from_the_page_is_mailed_to_the_client_once_even_when_submitted_twice(as_staff, desk, graph, ticket):
    page = as_staff.get(f"/tickets?number={ticket.number}").text
    token = _form_token(page, "reply-form")
    for _ in range(2):  # a double click sends the same form twice
        answer = form_post(as_staff, f"/tickets/{ticket.number}/reply",
                           {"text": "Please switch it off.", "request_id": token})
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/tickets?number={ticket.number}&done=reply"
    assert [e.type for e in desk.tickets.entries(ticket.number)] == ["message", "response"]
    drain_outbound(desk, release_after=0)
    replies = [m for m in _sent_to(graph, "ann@example.org")
               if "Please switch it off." in m.get_body(("plain",)).get_content()]
    assert len(replies) == 1  # (the other mail to the client is the new ticket's auto-response)
    [mail] = replies
    assert f"[#{ticket.number}]" in mail["Subject"]
    shown = as_staff.get(answer.headers["location"]).text
    assert "Reply added; the mail to the client is queued." in shown
    assert 'class="flash ok"' in shown


def test_a_note_is_stored_for_staff_and_mailed_to_nobody(as_staff, desk, graph, ticket):
    drain_outbound(desk, release_after=0)  # the new ticket's mails
    graph.sent.clear()
    page = as_staff.get(f"/tickets?number={ticket.number}").text
    token = _form_token(page, "note-form")
    for _ in range(2):
        answer = form_post(as_staff, f"/tickets/{ticket.number}/note",
                           {"text": "Customer called <b>twice</b>.", "request_id": token})
        assert answer.status_code == 303
    entries = desk.tickets.entries(ticket.number)
    assert [e.type for e in entries] == ["message", "note"]
    assert entries[1].sender.email == AGENT and entries[1].message_id == ""
    assert "&lt;b&gt;twice&lt;/b&gt;" in entries[1].body_html
    assert desk.tickets.get(ticket.number).status.value == "open"
    drain_outbound(desk, release_after=0)
    assert graph.sent == []
    shown = as_staff.get(f"/tickets?number={ticket.number}").text
    assert 'class="entry note card"' in shown and "Internal note added." not in shown


def test_assign_transfer_and_close_queue_their_notifications(as_staff, desk, ticket):
    assert form_post(as_staff, f"/tickets/{ticket.number}/assign", {"staff": MANAGER}).status_code == 303
    [assigned] = _queued(desk, "assignment_alert")
    assert assigned["recipient"]["email"] == MANAGER and assigned["actor"]["email"] == AGENT
    moved = form_post(as_staff, f"/tickets/{ticket.number}/transfer", {"department": "Billing"})
    assert moved.headers["location"].endswith("&done=transfer")
    assert _queued(desk, "transfer_alert")[0]["previous_department"] == "Support"
    closed = form_post(as_staff, f"/tickets/{ticket.number}/close", {"request_id": "close-request-1"})
    assert closed.status_code == 303
    fresh = desk.tickets.get(ticket.number)
    assert (fresh.assignee, fresh.department, fresh.status.value) == (MANAGER, "Billing", "closed")
    assert len(_queued(desk, "ticket_closed")) == 1
    page = as_staff.get(closed.headers["location"]).text
    assert "Ticket closed; the client is notified." in page and 'id="close-form"' not in page


@pytest.mark.parametrize("action, data, message", [
    ("reply", {"text": "   "}, "a reply needs some text"),
    ("note", {"text": ""}, "a note needs some text"),
    ("assign", {"staff": "nobody@contoso.example"}, "nobody@contoso.example is not an active staff member"),
    ("transfer", {"department": "Nowhere"}, "no department Nowhere"),
])
def test_refused_actions_show_the_error_on_the_thread(as_staff, desk, ticket, action, data, message):
    answer = form_post(as_staff, f"/tickets/{ticket.number}/{action}", data)
    assert answer.status_code == 422
    assert 'class="flash error"' in answer.text and message in answer.text
    assert 'id="reply-form"' in answer.text  # the thread, not an error page


def test_closing_a_closed_ticket_is_refused_but_a_retry_of_the_close_is_not(as_staff, desk, ticket):
    assert form_post(as_staff, f"/tickets/{ticket.number}/close", {"request_id": "close-request-1"}).status_code == 303
    again = form_post(as_staff, f"/tickets/{ticket.number}/close", {"request_id": "close-request-1"})
    assert again.status_code == 303  # the same form sent twice: done once
    other = form_post(as_staff, f"/tickets/{ticket.number}/close", {"request_id": "close-request-2"})
    assert other.status_code == 422 and "already closed" in other.text
    assert len({n["id"] for n in _queued(desk, "ticket_closed")}) == 1


def test_an_admin_outside_the_staff_directory_gets_a_clear_error(as_admin, desk, ticket):
    answer = form_post(as_admin, f"/tickets/{ticket.number}/reply", {"text": "Hello"})
    assert answer.status_code == 422
    assert "not an active member of the staff directory" in answer.text
    # assigning needs no actor: the admin may do it
    assert form_post(as_admin, f"/tickets/{ticket.number}/assign", {"staff": AGENT}).status_code == 303
    assert not _queued(desk, "assignment_alert")[0]["actor"]["email"]  # no staff actor


def test_actions_need_sign_in_a_role_and_the_csrf_token(web, as_staff, desk, ticket):
    from .ticket_setup import no_role_client

    path = f"/tickets/{ticket.number}/reply"
    assert web.post(path, data={"text": "x"}).status_code == 303  # to sign-in
    assert as_staff.post(path, data={"text": "x"}).status_code == 403
    assert as_staff.post(path, data={"text": "x", "csrf_token": "wrong"}).status_code == 403
    with no_role_client() as client:
        assert client.post(path, data={"text": "x"}).status_code == 403
    assert [e.type for e in desk.tickets.entries(ticket.number)] == ["message"]


def test_an_action_on_an_unknown_ticket_is_a_404_page(as_staff, desk, ticket):
    answer = form_post(as_staff, "/tickets/999999/reply", {"text": "x"})
    assert answer.status_code == 404 and "no ticket #999999" in answer.text


def test_the_cli_adds_notes_too(desk, ticket):
    code, out = run_cli("tickets", "note", ticket.number, "--staff", AGENT, "--text", "Called back.",
                        "--request-id", "n-1", "--json")
    assert code == 0
    assert run_cli("tickets", "note", ticket.number, "--staff", AGENT, "--text", "Called back.",
                   "--request-id", "n-1")[0] == 0
    notes = [e for e in desk.tickets.entries(ticket.number) if e.type == "note"]
    assert [n.entry_id for n in notes] == [out["entry_id"]]
    assert run_cli("tickets", "note", ticket.number, "--staff", "who@example.net", "--text", "x")[0] == 1
