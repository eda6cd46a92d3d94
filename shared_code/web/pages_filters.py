"""Admin → Filters: the ordered list, add, edit, remove, and "test a mail", which shows what
the filters would do and changes nothing (services/filters.py, as the CLI `filters`)."""
from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from ..domain.filters import Filter, FilterAction
from ..domain.model import Priority, ValidationError
from ..services import filters as service
from .auth import Principal
from .deps import admin, get_desk, render

router = APIRouter(include_in_schema=False)


def _conditions_text(rule: dict) -> str:
    return "\n".join(f"{c['field']}{':' + c['header'] if c['header'] else ''} {c['operator']} "
                     f"{c['value']}" for c in rule["conditions"])


def _form_of(rule: Filter) -> dict:
    data = service.filter_json(rule)
    form = {"name": rule.name, "position": str(rule.position), "enabled": rule.enabled,
            "conditions": _conditions_text(data), "tags": ""}
    tags = []
    for action in rule.actions:
        if action.kind == FilterAction.ADD_TAG:
            tags.append(action.value)
        elif action.kind == FilterAction.DISCARD:
            form["discard"], form["discard_reason"] = True, action.value
        else:
            form[action.kind.value] = action.value or True
    form["tags"] = ", ".join(tags)
    return form


def _parse_conditions(text: str) -> list[dict]:
    conditions = []
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = line.strip().split(None, 2)
        if len(parts) != 3:
            raise ValidationError("each condition line is FIELD OPERATOR VALUE, e.g. "
                                  "`subject contains invoice`", "conditions")
        field, _, header = parts[0].partition(":")
        conditions.append({"field": field, "operator": parts[1], "value": parts[2],
                           "header": header})
    return conditions


def _data(form: dict) -> dict:
    actions = []
    if form.get("discard"):
        actions.append({"kind": "discard", "value": form.get("discard_reason", "")})
    for kind in (FilterAction.ALLOW_AUTO_GENERATED, FilterAction.SKIP_AUTO_RESPONSE):
        if form.get(kind.value):
            actions.append({"kind": kind.value})
    for kind in (FilterAction.SET_DEPARTMENT, FilterAction.SET_PRIORITY, FilterAction.SET_ASSIGNEE):
        if form.get(kind.value):
            actions.append({"kind": kind.value, "value": form[kind.value]})
    actions += [{"kind": "add_tag", "value": tag.strip()}
                for tag in form.get("tags", "").split(",") if tag.strip()]
    return {"name": form.get("name", ""), "conditions": _parse_conditions(form["conditions"]),
            "actions": actions, "position": form.get("position") or 0,
            "enabled": bool(form.get("enabled"))}


def _page(request: Request, desk, form: dict | None = None, error: ValidationError | None = None,
          editing: str = "", result: dict | None = None, mime: str = "", done: str = ""):
    errors = {}
    if error is not None:
        errors[(error.field or "name").split(".")[0]] = str(error)
    return render(request, "admin_filters.html", status_code=422 if error else 200,
                  filters=[service.filter_json(rule) for rule in desk.filters.list()],
                  form=form or {"enabled": True}, errors=errors, editing=editing,
                  departments=[d.name for d in desk.directory.list_departments()],
                  priorities=[p.value for p in Priority], result=result, mime=mime,
                  conditions_text=_conditions_text, done=done)


def _form(name: str, position: str, conditions: str, discard: str, discard_reason: str,
          allow_auto_generated: str, set_department: str, set_priority: str, set_assignee: str,
          tags: str, skip_auto_response: str, enabled: str) -> dict:
    return {"name": name, "position": position.strip(), "conditions": conditions,
            "discard": bool(discard), "discard_reason": discard_reason,
            "allow_auto_generated": bool(allow_auto_generated), "set_department": set_department,
            "set_priority": set_priority, "set_assignee": set_assignee.strip(), "tags": tags,
            "skip_auto_response": bool(skip_auto_response), "enabled": bool(enabled)}


@router.get("/admin/filters")
def filters_page(request: Request, done: str = "", principal: Principal = Depends(admin),
                 desk=Depends(get_desk)):
    return _page(request, desk, done=done[:120])


@router.post("/admin/filters")
def filter_add(request: Request, name: str = Form(""), position: str = Form(""),
               conditions: str = Form(""), discard: str = Form(""), discard_reason: str = Form(""),
               allow_auto_generated: str = Form(""), set_department: str = Form(""),
               set_priority: str = Form(""), set_assignee: str = Form(""), tags: str = Form(""),
               skip_auto_response: str = Form(""), enabled: str = Form(""),
               principal: Principal = Depends(admin), desk=Depends(get_desk)):
    form = _form(name, position, conditions, discard, discard_reason, allow_auto_generated,
                 set_department, set_priority, set_assignee, tags, skip_auto_response, enabled)
    try:
        rule = service.add_filter(desk, _data(form))
    except ValidationError as error:
        return _page(request, desk, form, error)
    return RedirectResponse(f"/admin/filters?done={quote('added ' + rule.name)}", status_code=303)


@router.post("/admin/filters/test")
def filter_test(request: Request, mime: str = Form(""), principal: Principal = Depends(admin),
                desk=Depends(get_desk)):
    try:
        result = service.try_filters(desk, mime.encode("utf-8", "replace"), field="mime")
    except ValidationError as error:
        return _page(request, desk, error=error, mime=mime)
    return _page(request, desk, result=result, mime=mime)


@router.get("/admin/filters/{name}")
def filter_page(request: Request, name: str, principal: Principal = Depends(admin),
                desk=Depends(get_desk)):
    rule = desk.filters.get(name)
    if rule is None:
        raise LookupError(f"no filter named {name!r}")
    return _page(request, desk, _form_of(rule), editing=rule.name)


@router.post("/admin/filters/{name}")
def filter_save(request: Request, name: str, position: str = Form(""),
                conditions: str = Form(""), discard: str = Form(""),
                discard_reason: str = Form(""), allow_auto_generated: str = Form(""),
                set_department: str = Form(""), set_priority: str = Form(""),
                set_assignee: str = Form(""), tags: str = Form(""),
                skip_auto_response: str = Form(""), enabled: str = Form(""),
                principal: Principal = Depends(admin), desk=Depends(get_desk)):
    form = _form(name, position, conditions, discard, discard_reason, allow_auto_generated,
                 set_department, set_priority, set_assignee, tags, skip_auto_response, enabled)
    try:
        data = _data(form)
        changes = {key: data[key] for key in ("conditions", "actions", "enabled")}
        rule = service.update_filter(desk, name, {**changes, "position": form["position"] or None})
    except ValidationError as error:
        return _page(request, desk, form, error, editing=name)
    return RedirectResponse(f"/admin/filters?done={quote('saved ' + rule.name)}", status_code=303)


@router.post("/admin/filters/{name}/remove")
def filter_remove(request: Request, name: str, principal: Principal = Depends(admin),
                  desk=Depends(get_desk)):
    service.remove_filter(desk, name)
    return RedirectResponse(f"/admin/filters?done={quote('removed ' + name)}", status_code=303)
