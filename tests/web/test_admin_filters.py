"""Admin → Filters (`/admin/filters`) and `/api/v1/filters`: access rules, add, edit, remove,
validation naming the field, and "test a mail" changing nothing."""
from __future__ import annotations

import pytest

from shared_code.domain.filters import Action, Condition, Filter, FilterAction, FilterField, FilterOperator
from shared_code.domain.model import Department, Staff
from tests.integration.helpers import make_mail

from .conftest import api_post, form_post

PAGES_GET = ["/admin/filters", "/admin/filters/Spam"]
PAGES_POST = ["/admin/filters", "/admin/filters/Spam", "/admin/filters/Spam/remove",
              "/admin/filters/test"]
API = [("GET", "/api/v1/filters"), ("POST", "/api/v1/filters"), ("GET", "/api/v1/filters/Spam"),
       ("PUT", "/api/v1/filters/Spam"), ("DELETE", "/api/v1/filters/Spam"),
       ("POST", "/api/v1/filters/test")]
SPAM = {"name": "Spam", "conditions": [{"field": "subject", "operator": "contains",
                                        "value": "viagra"}],
        "actions": [{"kind": "discard", "value": "spam"}]}
FORM = {"name": "Renamed", "conditions": "subject contains x", "discard": "1", "enabled": "1",
        "mime": "Subject: x\r\n\r\nx"}


@pytest.fixture
def spam(desk):
    desk.filters.add(Filter("Spam", [Condition(FilterField.SUBJECT, FilterOperator.CONTAINS, "viagra")],
                            [Action(FilterAction.DISCARD, "spam")]))
    return desk


def _unchanged(desk) -> None:
    [rule] = desk.filters.list()
    assert (rule.name, rule.conditions[0].value, rule.actions[0].kind) == (
        "Spam", "viagra", FilterAction.DISCARD)


@pytest.mark.parametrize("method,path", [("GET", p) for p in PAGES_GET] +
                         [("POST", p) for p in PAGES_POST])
def test_anonymous_pages_redirect_to_sign_in(web, method, path):
    answer = web.request(method, path, data=FORM if method == "POST" else None)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/auth/dev-login?next=%2Fadmin%2Ffilters")


@pytest.mark.parametrize("method,path", API)
def test_anonymous_api_calls_get_401(web, method, path):
    answer = web.request(method, path, json=SPAM)
    assert answer.status_code == 401 and answer.json() == {"error": "sign-in required"}


@pytest.mark.parametrize("path", PAGES_GET)
def test_staff_get_a_403_page(as_staff, spam, path):
    answer = as_staff.get(path)
    assert answer.status_code == 403 and "this page is for deskmail admins" in answer.text


@pytest.mark.parametrize("path", PAGES_POST)
def test_staff_cannot_change_filters_on_the_pages(as_staff, spam, path):
    answer = as_staff.post(path, data={"csrf_token": as_staff.csrf, **FORM})
    assert answer.status_code == 403
    _unchanged(spam)


@pytest.mark.parametrize("method,path", API)
def test_staff_get_403_from_the_filters_api(as_staff, spam, method, path):
    answer = as_staff.request(method, path, json={**SPAM, "mime": "Subject: x\r\n\r\nx"},
                              headers={"X-CSRF-Token": as_staff.csrf})
    assert answer.status_code == 403 and "admins" in answer.json()["error"]
    _unchanged(spam)


@pytest.mark.parametrize("path", PAGES_POST)
@pytest.mark.parametrize("token", [None, "wrong"])
def test_page_changes_need_the_csrf_token(as_admin, spam, path, token):
    data = dict(FORM, **({"csrf_token": token} if token else {}))
    answer = as_admin.post(path, data=data)
    assert answer.status_code == 403 and "CSRF" in answer.text
    _unchanged(spam)


@pytest.mark.parametrize("method,path", [(m, p) for m, p in API if m != "GET"])
@pytest.mark.parametrize("token", [None, "wrong"])
def test_api_changes_need_the_csrf_header(as_admin, spam, method, path, token):
    headers = {"X-CSRF-Token": token} if token else {}
    answer = as_admin.request(method, path, json=dict(SPAM, name="Renamed"), headers=headers)
    assert answer.status_code == 403 and answer.json()["field"] == "X-CSRF-Token"
    _unchanged(spam)


def test_an_admin_adds_edits_tests_and_removes_a_filter_on_the_page(as_admin, desk):
    desk.directory.add_department(Department(name="Ops"))
    assert "/admin/filters" in as_admin.get("/tickets").text  # the nav link
    added = form_post(as_admin, "/admin/filters", {
        "name": "Monitoring", "position": "", "enabled": "1",
        "conditions": "header:X-Mailer contains nagios\nsubject regex ^PROBLEM",
        "allow_auto_generated": "1", "set_department": "Ops", "set_priority": "high",
        "tags": "monitoring, alerts", "skip_auto_response": "1"})
    assert added.status_code == 303, added.text
    page = as_admin.get(added.headers["location"])
    assert "Filter added Monitoring." in page.text and 'data-name="Monitoring"' in page.text
    rule = desk.filters.get("Monitoring")
    assert [(c.field, c.header, c.operator) for c in rule.conditions] == [
        (FilterField.HEADER, "x-mailer", FilterOperator.CONTAINS),
        (FilterField.SUBJECT, "", FilterOperator.REGEX)]
    assert {(a.kind.value, a.value) for a in rule.actions} == {
        ("allow_auto_generated", ""), ("skip_auto_response", ""), ("set_department", "Ops"),
        ("set_priority", "high"), ("add_tag", "monitoring"), ("add_tag", "alerts")}

    edit = as_admin.get("/admin/filters/Monitoring")
    assert edit.status_code == 200 and "header:x-mailer contains nagios" in edit.text
    saved = form_post(as_admin, "/admin/filters/Monitoring", {
        "conditions": "sender equals nagios@mon.example", "tags": "mon", "position": "3"})
    assert saved.status_code == 303
    rule = desk.filters.get("Monitoring")
    assert (rule.position, rule.enabled, [a.value for a in rule.actions]) == (3, False, ["mon"])

    raw = make_mail(sender="nagios@mon.example", subject="PROBLEM <b>")[0].decode()
    tested = form_post(as_admin, "/admin/filters/test", {"mime": raw})
    assert tested.status_code == 200
    assert 'data-matches="no"' in tested.text  # disabled now
    assert "PROBLEM &lt;b&gt;" in tested.text and "PROBLEM <b>" not in tested.text  # escaped
    assert desk.tickets.list() == []

    removed = form_post(as_admin, "/admin/filters/Monitoring/remove")
    assert removed.status_code == 303 and desk.filters.list() == []
    assert form_post(as_admin, "/admin/filters/Monitoring/remove").status_code == 404
    assert as_admin.get("/admin/filters/Monitoring").status_code == 404


@pytest.mark.parametrize("form,field,message", [
    ({"name": "X", "conditions": "subject regex (a+)+$", "tags": "x"}, "conditions", "nests a repeat"),
    ({"name": "X", "conditions": "subject", "tags": "x"}, "conditions", "FIELD OPERATOR VALUE"),
    ({"name": "X", "conditions": "subject contains x", "set_assignee": "ghost@contoso.example"},
     "actions", "unknown staff member"),
    ({"name": "X", "conditions": "subject contains x"}, "actions", "at least one action"),
    ({"name": "", "conditions": "subject contains x", "tags": "x"}, "name", "filter name"),
    ({"name": "X", "conditions": "subject contains x", "tags": "x", "position": "first"},
     "position", "whole number"),
])
def test_page_errors_show_next_to_their_field_and_keep_the_values(as_admin, desk, form, field, message):
    answer = form_post(as_admin, "/admin/filters", form)
    assert answer.status_code == 422
    assert f'id="error-{field}"' in answer.text and message in answer.text
    assert desk.filters.list() == []


def test_the_api_adds_lists_changes_tests_and_removes(as_admin, desk):
    desk.directory.add_department(Department(name="Ops"))
    desk.directory.add_staff(Staff(name="Bob", email="bob@contoso.example", department="Ops"))
    created = api_post(as_admin, "/api/v1/filters", {**SPAM, "position": 2})
    assert created.status_code == 201 and created.json()["position"] == 2
    assert api_post(as_admin, "/api/v1/filters", SPAM).status_code == 409
    assert [f["name"] for f in as_admin.get("/api/v1/filters").json()] == ["Spam"]
    headers = {"X-CSRF-Token": as_admin.csrf}
    changed = as_admin.put("/api/v1/filters/spam", headers=headers, json={
        "actions": [{"kind": "set_assignee", "value": "Bob@contoso.example"},
                    {"kind": "set_department", "value": "Ops"}]})
    assert changed.status_code == 200
    assert changed.json()["actions"][0] == {"kind": "set_assignee", "value": "bob@contoso.example"}
    assert changed.json()["conditions"][0]["value"] == "viagra"  # left out: kept
    assert as_admin.get("/api/v1/filters/Spam").json()["conditions"][0]["value"] == "viagra"

    result = api_post(as_admin, "/api/v1/filters/test", {
        "mime": make_mail(subject="Cheap VIAGRA")[0].decode()})
    assert result.status_code == 200
    assert (result.json()["matched"], result.json()["from"]) == (["Spam"], "ann@example.org")
    assert "department: Ops" in result.json()["effects"]
    assert desk.tickets.list() == []

    assert as_admin.delete("/api/v1/filters/Spam", headers=headers).status_code == 204
    assert as_admin.delete("/api/v1/filters/Spam", headers=headers).status_code == 404
    assert as_admin.get("/api/v1/filters/Spam").status_code == 404


@pytest.mark.parametrize("body,field", [
    ({**SPAM, "conditions": [{"field": "subject", "operator": "regex", "value": "(x+)*y"}]},
     "conditions.value"),
    ({**SPAM, "conditions": [{"field": "colour", "operator": "contains", "value": "x"}]},
     "conditions.0.field"),
    ({**SPAM, "actions": [{"kind": "set_department", "value": "Nowhere"}]}, "actions.value"),
    ({**SPAM, "actions": [{"kind": "set_priority", "value": "urgent"}]}, "actions.value"),
    ({**SPAM, "position": -1}, "position"),
])
def test_api_validation_errors_are_422_naming_the_field(as_admin, desk, body, field):
    answer = api_post(as_admin, "/api/v1/filters", body)
    assert answer.status_code == 422 and answer.json()["field"] == field, answer.json()
    assert desk.filters.list() == []
    empty = api_post(as_admin, "/api/v1/filters/test", {"mime": "  "})
    assert empty.status_code == 422 and empty.json()["field"] == "mime"
