"""`/api/v1/templates` (admin): list, get, change, reset and preview the email templates,
through the same service operations as `templates ...`."""
from __future__ import annotations

from enum import Enum

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from ..domain.templates import TEMPLATE_KEYS
from ..services import template_admin
from .auth import Principal
from .deps import admin, get_desk
from .api_common import ERRORS

router = APIRouter(prefix="/api/v1", tags=["templates"], responses=ERRORS)

TemplateKey = Enum("TemplateKey", {key: key for key in TEMPLATE_KEYS}, type=str)


class TemplateSummary(BaseModel):
    key: str
    title: str
    audience: str
    sent_when: str
    source: str  # "built-in", "default" (customised for all) or a department's name


class Variable(BaseModel):
    name: str
    meaning: str


class TemplateOut(BaseModel):
    key: str
    title: str
    audience: str
    sent_when: str
    department: str
    source: str
    subject: str
    html: str
    text: str
    variables: list[Variable] = []


class TemplateChange(BaseModel):
    """Parts to change (a part left out keeps its value); `department` stores that
    department's own version instead of the one for all departments."""
    subject: str | None = None
    html: str | None = None
    text: str | None = None
    department: str | None = None


class ResetOut(BaseModel):
    key: str
    department: str
    source: str


class PreviewIn(BaseModel):
    """`ticket`: a ticket number (default: the sample ticket). subject/html/text: preview
    unsaved text instead of the stored template."""
    ticket: str | None = None
    department: str | None = None
    subject: str | None = None
    html: str | None = None
    text: str | None = None


class PreviewOut(BaseModel):
    key: str
    department: str
    source: str
    ticket: str
    sample: bool
    subject: str
    html: str
    text: str


@router.get("/templates", response_model=list[TemplateSummary])
def list_templates(department: str = "", principal: Principal = Depends(admin),
                   desk=Depends(get_desk)):
    return template_admin.list_templates(desk, department or None)


@router.get("/templates/{key}", response_model=TemplateOut)
def get_template(key: TemplateKey, department: str = "", principal: Principal = Depends(admin),
                 desk=Depends(get_desk)):
    return {**template_admin.show(desk, key.value, department or None),
            "variables": template_admin.variables(key.value)}


@router.put("/templates/{key}", response_model=TemplateOut)
def change_template(key: TemplateKey, body: TemplateChange, principal: Principal = Depends(admin),
                    desk=Depends(get_desk)):
    saved = template_admin.save(desk, key.value, body.subject, body.html, body.text,
                                body.department or None)
    return {**saved, "variables": template_admin.variables(key.value)}


@router.delete("/templates/{key}", response_model=ResetOut)
def reset_template(key: TemplateKey, department: str = "", principal: Principal = Depends(admin),
                   desk=Depends(get_desk)):
    return template_admin.reset(desk, key.value, department or None)


@router.post("/templates/{key}/preview", response_model=PreviewOut)
def preview_template(key: TemplateKey, body: PreviewIn | None = None,
                     principal: Principal = Depends(admin), desk=Depends(get_desk)):
    body = body or PreviewIn()
    return template_admin.preview(desk, key.value, body.department or None, body.ticket,
                                  draft=body.model_dump(include={"subject", "html", "text"}))
