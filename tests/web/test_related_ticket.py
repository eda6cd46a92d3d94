"""A ticket that follows up an old closed one (issue 10 §5, the reopen window) links to it on
the ticket page and in `/api/v1/tickets/{number}` (the shape of `tickets show --json`)."""
from __future__ import annotations

from datetime import datetime, timezone

from shared_code.domain.model import Party, Priority, Status, Ticket

from tests.integration.helpers import run_cli


def _ticket(desk, number: str, status=Status.OPEN, related: str = "") -> Ticket:
    ticket = Ticket(number=number, subject="A new laptop please", status=status,
                    priority=Priority.NORMAL, department="Support",
                    client=Party("Ann", "ann@example.org"),
                    created=datetime(2026, 11, 27, tzinfo=timezone.utc), related_ticket=related)
    assert desk.tickets.create(ticket)
    return ticket


def test_the_page_and_the_api_link_the_follow_up_to_the_old_ticket(as_staff, desk):
    _ticket(desk, "108749", Status.CLOSED)
    _ticket(desk, "200001", related="108749")

    page = as_staff.get("/tickets?number=200001")
    assert page.status_code == 200
    assert '<a id="ticket-related" href="/tickets?number=108749">#108749</a>' in page.text
    answer = as_staff.get("/api/v1/tickets/200001")
    assert answer.status_code == 200 and answer.json()["related_ticket"] == "108749"
    code, shown = run_cli("tickets", "show", "200001", "--json")
    assert code == 0 and shown["related_ticket"] == "108749"


def test_a_ticket_without_a_link_shows_none(as_staff, desk):
    _ticket(desk, "108749")

    page = as_staff.get("/tickets?number=108749")
    assert page.status_code == 200 and 'id="ticket-related"' not in page.text
    assert as_staff.get("/api/v1/tickets/108749").json()["related_ticket"] == ""


def test_anonymous_gets_no_link(web, desk):
    _ticket(desk, "200001", related="108749")

    assert web.get("/api/v1/tickets/200001").status_code == 401
    page = web.get("/tickets?number=200001", follow_redirects=False)
    assert page.status_code == 303 and "108749" not in page.text
