"""Signing in, in the browser: anonymous pages end on the sign-in form, the form signs in."""
from __future__ import annotations

from .conftest import AGENT, quiet, sign_in


def test_anonymous_tickets_ends_on_the_sign_in_form(page):
    page.goto("/tickets")
    assert page.url.endswith("/auth/dev-login?next=%2Ftickets")
    assert page.locator("#email").is_visible()
    assert page.locator("form[action='/auth/dev-login'] input[name=next]").input_value() == "/tickets"


def test_staff_sign_in_through_the_form_lands_on_the_tickets(page):
    sign_in(page, AGENT)
    assert page.url.endswith("/tickets")
    assert page.locator("h1").inner_text() == "Tickets"
    assert AGENT in page.locator("header form.who").inner_text()
    assert quiet(page) == [] and page.failed == []
