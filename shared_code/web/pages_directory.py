"""Admin pages for departments and staff: list, add, edit and remove, each validation
message next to its field (services/directory_edit.py checks field by field)."""
from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from ..services import directory_edit as edit
from ..services.field_errors import FieldErrors
from .auth import Principal
from .deps import admin, get_desk, render

router = APIRouter(include_in_schema=False)

_DONE = {"added": "{} added.", "saved": "{} saved.", "removed": "{} removed."}


def _flashes(done: str, item: str) -> list[tuple[str, str]]:
    return [("ok", _DONE[done].format(item))] if done in _DONE and item else []


def _back(path: str, done: str, item: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?{urlencode({'done': done, 'item': item})}", status_code=303)


# ---------------------------------------------------------------- departments

def _departments_page(request: Request, desk, form: dict | None = None, errors: dict | None = None,
                      done: str = "", item: str = "", status_code: int = 200):
    return render(request, "admin_departments.html", status_code=status_code,
                  departments=[edit.department_json(d) for d in desk.directory.list_departments()],
                  form=form or {"sla_hours": 24}, errors=errors or {}, flashes=_flashes(done, item))


@router.get("/admin/departments")
def departments_page(request: Request, done: str = "", item: str = "",
                     principal: Principal = Depends(admin), desk=Depends(get_desk)):
    return _departments_page(request, desk, done=done, item=item)


def _department_form(name: str, email: str, manager: str, alert_recipients: str,
                     sla_hours: str) -> dict:
    return {"name": name, "email": email, "manager": manager,
            "alert_recipients": alert_recipients, "sla_hours": sla_hours}


@router.post("/admin/departments")
def department_add(request: Request, name: str = Form(""), email: str = Form(""),
                   manager: str = Form(""), alert_recipients: str = Form(""),
                   sla_hours: str = Form("24"), principal: Principal = Depends(admin),
                   desk=Depends(get_desk)):
    form = _department_form(name, email, manager, alert_recipients, sla_hours)
    try:
        department = edit.add_department(desk, form)
    except FieldErrors as error:
        return _departments_page(request, desk, form, error.errors, status_code=422)
    return _back("/admin/departments", "added", department.name)


def _department_edit(request: Request, name: str, form: dict, errors: dict | None = None,
                     status_code: int = 200):
    return render(request, "admin_department_edit.html", status_code=status_code, name=name,
                  form=form, errors=errors or {})


@router.get("/admin/departments/{name}")
def department_page(request: Request, name: str, principal: Principal = Depends(admin),
                    desk=Depends(get_desk)):
    department = desk.directory.get_department(name)
    if department is None:
        raise LookupError(f"no department {name}")
    form = edit.department_json(department)
    form["alert_recipients"] = ", ".join(form["alert_recipients"])
    return _department_edit(request, department.name, form)


@router.post("/admin/departments/{name}")
def department_save(request: Request, name: str, email: str = Form(""), manager: str = Form(""),
                    alert_recipients: str = Form(""), sla_hours: str = Form("24"),
                    principal: Principal = Depends(admin), desk=Depends(get_desk)):
    form = _department_form(name, email, manager, alert_recipients, sla_hours)
    try:
        department = edit.update_department(desk, name, form)
    except FieldErrors as error:
        return _department_edit(request, name, form, error.errors, status_code=422)
    return _back("/admin/departments", "saved", department.name)


@router.post("/admin/departments/{name}/remove")
def department_remove(name: str, principal: Principal = Depends(admin), desk=Depends(get_desk)):
    edit.remove_department(desk, name)
    return _back("/admin/departments", "removed", name)


# ---------------------------------------------------------------- staff

def _staff_page(request: Request, desk, form: dict | None = None, errors: dict | None = None,
                done: str = "", item: str = "", status_code: int = 200):
    return render(request, "admin_staff.html", status_code=status_code,
                  staff=[edit.staff_json(s) for s in desk.directory.list_staff()],
                  departments=[d.name for d in desk.directory.list_departments()],
                  form=form or {}, errors=errors or {}, flashes=_flashes(done, item))


@router.get("/admin/staff")
def staff_page(request: Request, done: str = "", item: str = "",
               principal: Principal = Depends(admin), desk=Depends(get_desk)):
    return _staff_page(request, desk, done=done, item=item)


@router.post("/admin/staff")
def staff_add(request: Request, name: str = Form(""), email: str = Form(""),
              department: str = Form(""), principal: Principal = Depends(admin),
              desk=Depends(get_desk)):
    form = {"name": name, "email": email, "department": department}
    try:
        member = edit.add_staff(desk, form)
    except FieldErrors as error:
        return _staff_page(request, desk, form, error.errors, status_code=422)
    return _back("/admin/staff", "added", member.email)


def _staff_edit(request: Request, desk, email: str, form: dict, errors: dict | None = None,
                status_code: int = 200):
    return render(request, "admin_staff_edit.html", status_code=status_code, email=email,
                  form=form, errors=errors or {},
                  departments=[d.name for d in desk.directory.list_departments()])


@router.get("/admin/staff/{email}")
def staff_member_page(request: Request, email: str, principal: Principal = Depends(admin),
                      desk=Depends(get_desk)):
    member = desk.directory.get_staff(email)
    if member is None:
        raise LookupError(f"no staff member {email}")
    return _staff_edit(request, desk, member.email, edit.staff_json(member))


@router.post("/admin/staff/{email}")
def staff_save(request: Request, email: str, name: str = Form(""), department: str = Form(""),
               active: str = Form(""), principal: Principal = Depends(admin),
               desk=Depends(get_desk)):
    form = {"name": name, "department": department, "active": active == "on"}
    try:
        member = edit.update_staff(desk, email, form)
    except FieldErrors as error:
        return _staff_edit(request, desk, email, {**form, "email": email}, error.errors,
                           status_code=422)
    return _back("/admin/staff", "saved", member.email)


@router.post("/admin/staff/{email}/remove")
def staff_remove(email: str, principal: Principal = Depends(admin), desk=Depends(get_desk)):
    edit.remove_staff(desk, email)
    return _back("/admin/staff", "removed", email)

