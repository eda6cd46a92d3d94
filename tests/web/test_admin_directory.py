"""Admin → Departments and Staff, the pages and `/api/v1/departments`, `/api/v1/staff`:
add, edit, remove, and each validation message next to (or naming) its field."""
from __future__ import annotations

from .conftest import api_post, form_post


def _csrf(client) -> dict:
    return {"X-CSRF-Token": client.csrf}


# ---------------------------------------------------------------- pages

def test_an_admin_adds_edits_and_removes_a_department_on_the_page(as_admin, desk):
    added = form_post(as_admin, "/admin/departments", {
        "name": "Billing", "email": "billing@contoso.example", "manager": "Lead@Contoso.example",
        "alert_recipients": "a@contoso.example, b@contoso.example", "sla_hours": "8"})
    assert added.status_code == 303 and added.headers["location"].startswith("/admin/departments?")
    page = as_admin.get(added.headers["location"])
    assert "Billing added." in page.text and 'data-name="Billing"' in page.text
    stored = desk.directory.get_department("billing")
    assert (stored.manager, stored.alert_recipients, stored.sla_hours) == (
        "lead@contoso.example", ["a@contoso.example", "b@contoso.example"], 8)

    edit = as_admin.get("/admin/departments/Billing")
    assert edit.status_code == 200 and 'value="a@contoso.example, b@contoso.example"' in edit.text
    saved = form_post(as_admin, "/admin/departments/Billing", {
        "email": "billing@contoso.example", "manager": "", "alert_recipients": "", "sla_hours": "48"})
    assert saved.status_code == 303
    assert desk.directory.get_department("Billing").sla_hours == 48

    removed = form_post(as_admin, "/admin/departments/Billing/remove")
    assert removed.status_code == 303 and desk.directory.get_department("Billing") is None
    assert "Billing removed." in as_admin.get(removed.headers["location"]).text


def test_department_form_errors_show_next_to_their_fields_and_keep_the_values(as_admin, desk):
    answer = form_post(as_admin, "/admin/departments", {
        "name": "Sales", "email": "not-an-address", "manager": "", "alert_recipients": "x@y",
        "sla_hours": "many"})
    assert answer.status_code == 422
    page = answer.text
    assert 'id="error-email"' in page and "not-an-address" in page
    assert 'id="error-alert_recipients"' in page and "invalid email address: &#39;x@y&#39;" in page
    assert 'id="error-sla_hours"' in page and "whole number" in page
    assert 'id="error-name"' not in page and 'value="Sales"' in page  # kept
    assert desk.directory.get_department("Sales") is None

    out_of_range = form_post(as_admin, "/admin/departments", {"name": "Sales", "sla_hours": "0"})
    assert out_of_range.status_code == 422 and "between 1 and 8760" in out_of_range.text
    empty = form_post(as_admin, "/admin/departments", {"name": "  ", "sla_hours": "24"})
    assert empty.status_code == 422 and 'id="error-name"' in empty.text


def test_a_duplicate_or_missing_department_is_refused(as_admin, desk):
    assert form_post(as_admin, "/admin/departments", {"name": "Ops"}).status_code == 303
    twice = form_post(as_admin, "/admin/departments", {"name": "ops"})
    assert twice.status_code == 422 and "already exists" in twice.text and 'id="error-name"' in twice.text
    assert as_admin.get("/admin/departments/Nowhere").status_code == 404
    assert form_post(as_admin, "/admin/departments/Nowhere", {"sla_hours": "3"}).status_code == 404
    assert form_post(as_admin, "/admin/departments/Nowhere/remove").status_code == 404


def test_an_admin_adds_edits_and_removes_staff_on_the_page(as_admin, desk):
    added = form_post(as_admin, "/admin/staff", {"name": "Bob Agent", "email": "Bob@Contoso.example",
                                                 "department": "Support"})
    assert added.status_code == 303
    assert "bob@contoso.example added." in as_admin.get(added.headers["location"]).text
    assert as_admin.get("/admin/staff/bob@contoso.example").status_code == 200

    saved = form_post(as_admin, "/admin/staff/bob@contoso.example",
                      {"name": "Bob B. Agent", "department": "Sales"})  # box unticked: inactive
    assert saved.status_code == 303
    member = desk.directory.get_staff("bob@contoso.example")
    assert (member.name, member.department, member.active) == ("Bob B. Agent", "Sales", False)

    bad = form_post(as_admin, "/admin/staff/bob@contoso.example",
                    {"name": " ", "department": "", "active": "on"})
    assert bad.status_code == 422
    assert 'id="error-name"' in bad.text and 'id="error-department"' in bad.text

    assert form_post(as_admin, "/admin/staff/bob@contoso.example/remove").status_code == 303
    assert desk.directory.get_staff("bob@contoso.example") is None
    assert as_admin.get("/admin/staff/bob@contoso.example").status_code == 404


def test_staff_form_errors_show_next_to_their_fields(as_admin, desk):
    answer = form_post(as_admin, "/admin/staff", {"name": "", "email": "bob", "department": ""})
    assert answer.status_code == 422
    for field in ("name", "email", "department"):
        assert f'id="error-{field}"' in answer.text
    assert desk.directory.list_staff() == []
    assert form_post(as_admin, "/admin/staff", {"name": "B", "email": "b@contoso.example",
                                                "department": "Support"}).status_code == 303
    twice = form_post(as_admin, "/admin/staff", {"name": "B", "email": "B@contoso.example",
                                                 "department": "Support"})
    assert twice.status_code == 422 and "already exists" in twice.text


# ---------------------------------------------------------------- API

def test_department_api_round_trip_and_errors_name_the_field(as_admin, desk):
    created = api_post(as_admin, "/api/v1/departments", {"name": "Billing", "sla_hours": 12,
                                                         "alert_recipients": ["A@contoso.example"]})
    assert created.status_code == 201, created.text
    assert created.json() == {"name": "Billing", "email": "", "manager": "",
                              "alert_recipients": ["a@contoso.example"], "sla_hours": 12}
    assert [d["name"] for d in as_admin.get("/api/v1/departments").json()] == ["Billing"]
    assert as_admin.get("/api/v1/departments/billing").json()["sla_hours"] == 12

    changed = as_admin.put("/api/v1/departments/Billing", json={"manager": "lead@contoso.example"},
                           headers=_csrf(as_admin))
    assert changed.status_code == 200
    assert changed.json()["manager"] == "lead@contoso.example" and changed.json()["sla_hours"] == 12

    bad = as_admin.put("/api/v1/departments/Billing", json={"sla_hours": 9999},
                       headers=_csrf(as_admin))
    assert bad.status_code == 422 and bad.json()["field"] == "sla_hours"
    assert "8760" in bad.json()["error"]
    wrong_type = api_post(as_admin, "/api/v1/departments", {"name": "X", "sla_hours": "soon"})
    assert wrong_type.status_code == 422 and wrong_type.json()["field"] == "sla_hours"
    bad_mail = api_post(as_admin, "/api/v1/departments", {"name": "X", "email": "nope"})
    assert bad_mail.status_code == 422 and bad_mail.json()["field"] == "email"
    missing = api_post(as_admin, "/api/v1/departments", {})
    assert missing.status_code == 422 and missing.json()["field"] == "name"

    assert as_admin.delete("/api/v1/departments/Billing", headers=_csrf(as_admin)).status_code == 204
    gone = as_admin.delete("/api/v1/departments/Billing", headers=_csrf(as_admin))
    assert gone.status_code == 404 and "no department Billing" in gone.json()["error"]
    assert as_admin.get("/api/v1/departments/Billing").status_code == 404
    assert as_admin.put("/api/v1/departments/Billing", json={},
                        headers=_csrf(as_admin)).status_code == 404


def test_staff_api_round_trip_and_errors_name_the_field(as_admin, desk):
    created = api_post(as_admin, "/api/v1/staff", {"name": "Bob", "email": "BOB@contoso.example",
                                                   "department": "Support"})
    assert created.status_code == 201
    assert created.json() == {"name": "Bob", "email": "bob@contoso.example",
                              "department": "Support", "active": True}
    again = api_post(as_admin, "/api/v1/staff", {"name": "Bob", "email": "bob@contoso.example",
                                                 "department": "Support"})
    assert again.status_code == 422 and again.json()["field"] == "email"
    bad = api_post(as_admin, "/api/v1/staff", {"name": "Bob", "email": "bob", "department": "S"})
    assert bad.status_code == 422 and bad.json()["field"] == "email"

    changed = as_admin.put("/api/v1/staff/bob@contoso.example", json={"active": False},
                           headers=_csrf(as_admin))
    assert changed.json()["active"] is False and changed.json()["name"] == "Bob"
    empty = as_admin.put("/api/v1/staff/bob@contoso.example", json={"department": " "},
                         headers=_csrf(as_admin))
    assert empty.status_code == 422 and empty.json()["field"] == "department"
    assert [s["email"] for s in as_admin.get("/api/v1/staff").json()] == ["bob@contoso.example"]
    assert as_admin.get("/api/v1/staff/bob@contoso.example").json()["active"] is False

    assert as_admin.delete("/api/v1/staff/bob@contoso.example",
                           headers=_csrf(as_admin)).status_code == 204
    assert as_admin.get("/api/v1/staff/bob@contoso.example").status_code == 404
    assert as_admin.delete("/api/v1/staff/bob@contoso.example",
                           headers=_csrf(as_admin)).status_code == 404
