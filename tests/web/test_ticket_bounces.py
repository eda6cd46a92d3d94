"""A notification held for an undeliverable address (issue 10 §2) on the web pages: the
thread page names it for staff, Admin → Failed notifications marks it held; anonymous
visitors are sent to sign in, as for every ticket page."""
from __future__ import annotations

import pytest

from shared_code.services.outbound_queue import drain_outbound

from .conftest import form_post
from .ticket_setup import directory, plain_ticket

CLIENT = "ann@example.org"


@pytest.fixture
def held(desk, graph):
    """A ticket whose client was marked undeliverable, and a staff reply to it, held."""
    directory()
    ticket = plain_ticket(desk, graph)
    drain_outbound(desk)
    desk.undeliverable.mark(CLIENT, "5.1.1", ticket.number, "550 5.1.1 user unknown")
    from shared_code.services.actions import reply

    reply(desk, ticket.number, "agent@contoso.example", "Switch it off <now>")
    before = len(graph.sent)
    [result] = [r for r in drain_outbound(desk) if r.template == "response"]
    assert result.outcome == "held" and len(graph.sent) == before
    return ticket, result


def test_the_thread_page_shows_what_is_held_and_why(as_staff, desk, held):
    ticket, result = held
    page = as_staff.get(f"/tickets?number={ticket.number}")
    assert page.status_code == 200
    section = page.text.split('id="held-notifications"', 1)[1].split("</section>", 1)[0]
    assert f'data-id="{result.id}"' in section
    assert f"response to {CLIENT}: held: {CLIENT} undeliverable since " in section
    assert "status 5.1.1" in section


def test_a_thread_with_nothing_held_shows_no_held_box(as_staff, desk, graph):
    directory()
    ticket = plain_ticket(desk, graph)
    assert 'id="held-notifications"' not in as_staff.get(f"/tickets?number={ticket.number}").text


def test_failed_notifications_page_marks_held_ones_and_requeues_after_clearing(as_admin, desk, graph, held):
    _, result = held
    page = as_admin.get("/admin/notifications").text
    row = page.split(f'data-id="{result.id}"', 1)[1].split("</tr>", 1)[0]
    assert '<strong class="held">held</strong> Undeliverable held:' in row
    desk.undeliverable.clear(CLIENT)
    assert form_post(as_admin, f"/admin/notifications/{result.id}/requeue").status_code == 303
    assert [r.outcome for r in drain_outbound(desk)] == ["sent"]


def test_anonymous_visitors_are_sent_to_sign_in(desk, held):
    from .conftest import _client

    ticket, _ = held
    with _client() as client:
        answer = client.get(f"/tickets?number={ticket.number}", follow_redirects=False)
    assert answer.status_code == 303 and "held-notifications" not in answer.text
