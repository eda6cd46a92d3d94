"""Collaborators on the web (issue 10 §3): the ticket page's Remove buttons,
`DELETE /api/v1/tickets/{n}/collaborators/{address}`, and the account settings."""
from __future__ import annotations

import re

import pytest

from tests.integration.helpers import SUPPORT, make_mail

from .conftest import form_post
from .ticket_setup import directory, fetch

BOB, CAROL = "bob@example.org", "carol@example.org"


@pytest.fixture
def ticket(desk, graph):
    directory()
    raw, _ = make_mail(to=f"{SUPPORT}, {BOB}", headers={"Cc": f"Carol <{CAROL}>"})
    return fetch(desk, graph, raw)


def _csrf(client) -> dict:
    return {"X-CSRF-Token": client.csrf}


def _api(number: str, address: str) -> str:
    return f"/api/v1/tickets/{number}/collaborators/{address}"


def test_the_page_lists_collaborators_and_removes_one(as_staff, desk, ticket):
    page = as_staff.get(f"/tickets?number={ticket.number}").text
    listed = re.search(r'<ul id="ticket-collaborators".*?</ul>', page, re.S).group(0)
    assert BOB in listed and CAROL in listed and listed.count(">Remove</button>") == 2
    answer = form_post(as_staff, f"/tickets/{ticket.number}/collaborators/remove", {"address": BOB})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/tickets?number={ticket.number}&done=collaborator"
    assert "they get no further mail" in as_staff.get(answer.headers["location"]).text
    fresh = desk.tickets.get(ticket.number)
    assert fresh.collaborators == [CAROL] and fresh.removed_collaborators == [BOB]


def test_the_page_shows_why_a_removal_is_refused(as_staff, desk, ticket):
    answer = form_post(as_staff, f"/tickets/{ticket.number}/collaborators/remove",
                       {"address": "nobody@example.org"})
    assert answer.status_code == 422 and "is not a collaborator" in answer.text
    answer = form_post(as_staff, f"/tickets/{ticket.number}/collaborators/remove", {"address": ""})
    assert answer.status_code == 422 and "invalid email address" in answer.text
    assert form_post(as_staff, "/tickets/999999/collaborators/remove",
                     {"address": BOB}).status_code == 404
    assert desk.tickets.get(ticket.number).collaborators == [BOB, CAROL]


def test_the_page_action_needs_sign_in_a_role_and_the_csrf_token(web, as_staff, desk, ticket):
    from .ticket_setup import no_role_client

    path = f"/tickets/{ticket.number}/collaborators/remove"
    assert web.post(path, data={"address": BOB}).status_code == 303  # to sign-in
    assert as_staff.post(path, data={"address": BOB}).status_code == 403
    assert as_staff.post(path, data={"address": BOB, "csrf_token": "wrong"}).status_code == 403
    with no_role_client() as client:
        assert client.post(path, data={"address": BOB}).status_code == 403
    assert desk.tickets.get(ticket.number).collaborators == [BOB, CAROL]


def test_the_api_removes_a_collaborator(as_staff, desk, ticket):
    answer = as_staff.delete(_api(ticket.number, BOB), headers=_csrf(as_staff))
    assert answer.status_code == 200, answer.text
    assert answer.json()["collaborators"] == [CAROL]
    shown = as_staff.get(f"/api/v1/tickets/{ticket.number}").json()
    assert shown["collaborators"] == [CAROL]


@pytest.mark.parametrize("address, status, text", [
    ("nobody@example.org", 422, "is not a collaborator"),
    ("not-an-address", 422, "invalid email address"),
])
def test_api_errors_name_the_field(as_staff, desk, ticket, address, status, text):
    answer = as_staff.delete(_api(ticket.number, address), headers=_csrf(as_staff))
    assert answer.status_code == status
    assert answer.json()["field"] == "address" and text in answer.json()["error"]
    assert as_staff.delete(_api("999999", BOB), headers=_csrf(as_staff)).status_code == 404


def test_the_api_needs_sign_in_a_role_and_the_csrf_token(web, as_staff, desk, ticket):
    from .ticket_setup import no_role_client

    anonymous = web.delete(_api(ticket.number, BOB))
    assert anonymous.status_code == 401 and "error" in anonymous.json()
    assert as_staff.delete(_api(ticket.number, BOB)).status_code == 403
    assert as_staff.delete(_api(ticket.number, BOB), headers={"X-CSRF-Token": "x"}).status_code == 403
    with no_role_client() as client:
        assert client.delete(_api(ticket.number, BOB)).status_code == 403
    assert desk.tickets.get(ticket.number).collaborators == [BOB, CAROL]


def test_the_account_form_sets_the_collaborator_settings(as_admin, desk):
    page = as_admin.get(f"/admin/emails/{SUPPORT}").text
    assert 'name="collaborators_from_cc" checked' in page
    assert 'name="collaborator_delivery"' in page
    form = {"name": "Contoso Support", "purpose": "department", "department": "Support",
            "priority": "normal", "folder": "Inbox", "batch_size": "20",
            "collaborator_delivery": "separate"}  # collaborators_from_cc unticked
    assert form_post(as_admin, f"/admin/emails/{SUPPORT}", form).status_code == 303
    account = desk.accounts.get(SUPPORT)
    assert (account.collaborators_from_cc, account.collaborator_delivery.value) == (False, "separate")
    refused = form_post(as_admin, f"/admin/emails/{SUPPORT}", {**form, "collaborator_delivery": "bcc"})
    assert refused.status_code == 422
    assert re.search(r'id="error-collaborator_delivery">[^<]*collaborator delivery', refused.text)


def test_the_accounts_api_shows_and_sets_the_collaborator_settings(as_admin, desk):
    assert as_admin.get(f"/api/v1/accounts/{SUPPORT}").json()["collaborator_delivery"] == "cc"
    answer = as_admin.put(f"/api/v1/accounts/{SUPPORT}", headers=_csrf(as_admin),
                          json={"collaborator_delivery": "separate", "collaborators_from_cc": False})
    assert answer.status_code == 200, answer.text
    assert (answer.json()["collaborator_delivery"], answer.json()["collaborators_from_cc"]) == (
        "separate", False)
    bad = as_admin.put(f"/api/v1/accounts/{SUPPORT}", headers=_csrf(as_admin),
                       json={"collaborator_delivery": "bcc"})
    assert bad.status_code == 422 and "collaborator_delivery" in bad.text
