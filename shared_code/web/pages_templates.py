"""Admin → Emails → Templates: the eight templates, editing with validation next to each
field, reset to default, and a preview against a real or the sample ticket."""
from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from ..domain.model import ValidationError
from ..domain.templates import check_key
from ..services import template_admin
from ..services.field_errors import FieldErrors, field_of
from .auth import Principal
from .deps import admin, get_desk, render

router = APIRouter(include_in_schema=False)

_FLASHES = {"saved": ("ok", "Template saved."), "reset": ("ok", "Template reset: the default is in use again."),
            "nothing": ("error", "Nothing to reset: this template has no stored version here.")}


def _departments(desk) -> list[str]:
    names = {d.name for d in desk.directory.list_departments()}
    names |= {a.department for a in desk.accounts.list() if a.department}
    return sorted(names, key=str.lower)


@router.get("/admin/templates")
def templates_page(request: Request, department: str = "", principal: Principal = Depends(admin),
                   desk=Depends(get_desk)):
    return render(request, "admin_templates.html", department=department,
                  rows=template_admin.list_templates(desk, department or None),
                  departments=_departments(desk))


def _edit(request: Request, desk, key: str, department: str, *, form: dict | None = None,
          errors: dict | None = None, preview: dict | None = None, ticket: str = "",
          flash: str = "", status_code: int = 200):
    shown = template_admin.show(desk, key, department or None)
    if form:
        shown.update(form)
    return render(request, "admin_template_edit.html", status_code=status_code, t=shown,
                  department=department, departments=_departments(desk),
                  variables=template_admin.variables(key), errors=errors or {}, preview=preview,
                  ticket=ticket, flashes=[_FLASHES[flash]] if flash in _FLASHES else [])


def _preview(desk, key: str, department: str, ticket: str, draft: dict | None = None):
    """(rendered, errors): a preview never fails the page; its problems show by their field."""
    try:
        return template_admin.preview(desk, key, department or None, ticket, draft), {}
    except FieldErrors as error:
        return None, error.errors
    except ValidationError as error:
        return None, {field_of(error) or "ticket": str(error)}


@router.get("/admin/templates/{key}")
def template_page(request: Request, key: str, department: str = "", ticket: str = "",
                  preview: str = "", done: str = "", principal: Principal = Depends(admin),
                  desk=Depends(get_desk)):
    check_key(key)
    shown, errors = _preview(desk, key, department, ticket) if preview or ticket else (None, {})
    return _edit(request, desk, key, department, preview=shown, errors=errors, ticket=ticket,
                 flash=done, status_code=422 if errors else 200)


def _back(key: str, department: str, done: str) -> RedirectResponse:
    query = urlencode({k: v for k, v in (("department", department), ("done", done)) if v})
    return RedirectResponse(f"/admin/templates/{key}?{query}", status_code=303)


@router.post("/admin/templates/{key}")
def template_save(request: Request, key: str, subject: str = Form(""), html: str = Form(""),
                  text: str = Form(""), department: str = Form(""), ticket: str = Form(""),
                  action: str = Form("save"), principal: Principal = Depends(admin),
                  desk=Depends(get_desk)):
    """Save, or (action=preview) render the form's values without saving them."""
    check_key(key)
    form = {"subject": subject, "html": html, "text": text}
    if action == "preview":
        shown, errors = _preview(desk, key, department, ticket, form)
        return _edit(request, desk, key, department, form=form, errors=errors, preview=shown,
                     ticket=ticket, status_code=422 if errors else 200)
    try:
        template_admin.save(desk, key, subject, html, text, department or None)
    except FieldErrors as error:
        return _edit(request, desk, key, department, form=form, errors=error.errors,
                     ticket=ticket, status_code=422)
    except ValidationError as error:
        return _edit(request, desk, key, department, form=form, ticket=ticket, status_code=422,
                     errors={field_of(error) or "subject": str(error)})
    return _back(key, department, "saved")


@router.post("/admin/templates/{key}/reset")
def template_reset(request: Request, key: str, department: str = Form(""),
                   principal: Principal = Depends(admin), desk=Depends(get_desk)):
    check_key(key)
    try:
        template_admin.reset(desk, key, department or None)
    except LookupError:
        return _back(key, department, "nothing")
    return _back(key, department, "reset")
