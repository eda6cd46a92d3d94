"""Every admin page and admin API route: anonymous → sign-in redirect (pages) or 401 (API),
staff → 403, and a state change without (or with a wrong) CSRF token → 403 with nothing done."""
from __future__ import annotations

import pytest

from shared_code.domain.model import Department, Staff

PAGES_GET = ["/admin/templates", "/admin/templates/response", "/admin/syslog", "/admin/quarantine",
             "/admin/notifications", "/admin/departments", "/admin/departments/Support",
             "/admin/staff", "/admin/staff/bob@contoso.example", "/admin/doctor"]
PAGES_POST = ["/admin/templates/response", "/admin/templates/response/reset",
              "/admin/quarantine/abc/retry", "/admin/quarantine/abc/dismiss",
              "/admin/notifications/abc/requeue", "/admin/departments",
              "/admin/departments/Support", "/admin/departments/Support/remove", "/admin/staff",
              "/admin/staff/bob@contoso.example", "/admin/staff/bob@contoso.example/remove"]
API = [("GET", "/api/v1/templates"), ("GET", "/api/v1/templates/response"),
       ("PUT", "/api/v1/templates/response"), ("DELETE", "/api/v1/templates/response"),
       ("POST", "/api/v1/templates/response/preview"), ("GET", "/api/v1/syslog"),
       ("GET", "/api/v1/quarantine"), ("POST", "/api/v1/quarantine/abc/retry"),
       ("POST", "/api/v1/quarantine/abc/dismiss"), ("GET", "/api/v1/notifications/failed"),
       ("POST", "/api/v1/notifications/abc/requeue"),
       ("GET", "/api/v1/departments"), ("POST", "/api/v1/departments"),
       ("GET", "/api/v1/departments/Support"), ("PUT", "/api/v1/departments/Support"),
       ("DELETE", "/api/v1/departments/Support"), ("GET", "/api/v1/staff"),
       ("POST", "/api/v1/staff"), ("GET", "/api/v1/staff/bob@contoso.example"),
       ("PUT", "/api/v1/staff/bob@contoso.example"),
       ("DELETE", "/api/v1/staff/bob@contoso.example"), ("GET", "/api/v1/doctor")]
API_CHANGES = [(method, path) for method, path in API if method != "GET"]
BODY = {"name": "Sales", "email": "s@contoso.example", "department": "Sales", "subject": "x"}


@pytest.mark.parametrize("method,path", [("GET", p) for p in PAGES_GET] + [("POST", p) for p in PAGES_POST])
def test_anonymous_pages_redirect_to_sign_in(web, method, path):
    answer = web.request(method, path, data={"name": "x"} if method == "POST" else None)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/auth/dev-login?next=%2Fadmin%2F")


@pytest.mark.parametrize("method,path", API)
def test_anonymous_api_calls_get_401(web, method, path):
    answer = web.request(method, path, json=BODY)
    assert answer.status_code == 401 and answer.json() == {"error": "sign-in required"}


@pytest.mark.parametrize("path", PAGES_GET)
def test_staff_get_a_403_page(as_staff, path):
    answer = as_staff.get(path)
    assert answer.status_code == 403 and "this page is for deskmail admins" in answer.text


@pytest.mark.parametrize("path", PAGES_POST)
def test_staff_cannot_change_anything_on_admin_pages(as_staff, desk, path):
    answer = as_staff.post(path, data={"csrf_token": as_staff.csrf, **BODY})
    assert answer.status_code == 403
    assert desk.directory.list_departments() == [] and desk.directory.list_staff() == []


@pytest.mark.parametrize("method,path", API)
def test_staff_get_403_from_the_admin_api(as_staff, desk, method, path):
    answer = as_staff.request(method, path, json=BODY, headers={"X-CSRF-Token": as_staff.csrf})
    assert answer.status_code == 403 and "admins" in answer.json()["error"]
    assert desk.templates.resolve("response")[1] == "built-in"


@pytest.fixture
def directory(desk):
    desk.directory.add_department(Department(name="Support"))
    desk.directory.add_staff(Staff(name="Bob", email="bob@contoso.example", department="Support"))
    return desk


def _unchanged(desk) -> None:
    assert [d.name for d in desk.directory.list_departments()] == ["Support"]
    assert [s.email for s in desk.directory.list_staff()] == ["bob@contoso.example"]
    assert desk.directory.get_staff("bob@contoso.example").name == "Bob"
    assert desk.templates.resolve("response")[1] == "built-in"


@pytest.mark.parametrize("path", PAGES_POST)
@pytest.mark.parametrize("token", [None, "wrong"])
def test_admin_page_changes_need_the_csrf_token(as_admin, directory, path, token):
    data = dict(BODY, name="Renamed", subject="Changed %{ticket.number}")
    if token:
        data["csrf_token"] = token
    answer = as_admin.post(path, data=data)
    assert answer.status_code == 403 and "CSRF" in answer.text
    _unchanged(directory)


@pytest.mark.parametrize("method,path", API_CHANGES)
@pytest.mark.parametrize("token", [None, "wrong"])
def test_admin_api_changes_need_the_csrf_header(as_admin, directory, method, path, token):
    headers = {"X-CSRF-Token": token} if token else {}
    answer = as_admin.request(method, path, json=dict(BODY, name="Renamed"), headers=headers)
    assert answer.status_code == 403 and answer.json()["field"] == "X-CSRF-Token"
    _unchanged(directory)
