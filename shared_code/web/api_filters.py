"""`/api/v1/filters` (admin): the inbound filters, through the same service operations as
`python -m shared_code.cli filters ...` (services/filters.py), and `POST /filters/test`, which
shows what the filters would do with a mail and changes nothing."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from ..domain.filters import (
    MAX_ACTIONS, MAX_CONDITIONS, MAX_POSITION, MAX_VALUE_CHARS, FilterAction, FilterField,
    FilterOperator,
)
from ..services import filters as service
from .api_common import ERRORS
from .auth import Principal
from .deps import admin, get_desk

router = APIRouter(prefix="/api/v1", tags=["filters"], responses=ERRORS)

MAX_TEST_MAIL_CHARS = 5_000_000


class ConditionBody(BaseModel):
    field: FilterField
    operator: FilterOperator
    value: str = Field(max_length=MAX_VALUE_CHARS)
    header: str = Field("", max_length=100, description="the header's name, for field `header`")


class ActionBody(BaseModel):
    kind: FilterAction
    value: str = Field("", max_length=320, description="the reason, department, priority, "
                                                        "assignee or tag, by kind")


class FilterOut(BaseModel):
    name: str
    conditions: list[ConditionBody]
    actions: list[ActionBody]
    position: int
    enabled: bool = True


class FilterIn(BaseModel):
    """A new filter; position 0 (the default) puts it last."""
    name: str = Field(max_length=100)
    conditions: list[ConditionBody] = Field(max_length=MAX_CONDITIONS)
    actions: list[ActionBody] = Field(max_length=MAX_ACTIONS)
    position: int = Field(0, ge=0, le=MAX_POSITION)
    enabled: bool = True


class FilterChange(BaseModel):
    """Fields to change; a field left out (or null) keeps its value. The name is the key."""
    conditions: list[ConditionBody] | None = Field(None, max_length=MAX_CONDITIONS)
    actions: list[ActionBody] | None = Field(None, max_length=MAX_ACTIONS)
    position: int | None = Field(None, ge=0, le=MAX_POSITION)
    enabled: bool | None = None


class TestMail(BaseModel):
    mime: str = Field(min_length=1, max_length=MAX_TEST_MAIL_CHARS, description="the raw mail")


class FilterMatch(BaseModel):
    name: str
    position: int
    enabled: bool
    matches: bool


class TestResult(BaseModel):
    subject: str
    sender: str = Field(alias="from")
    filters: list[FilterMatch]
    matched: list[str]
    effects: list[str]
    auto_generated: str = Field(description="the auto-reply rule that would discard it, if any")
    outcome: str


def _body(model: BaseModel) -> dict:
    return model.model_dump(mode="json")


@router.get("/filters", response_model=list[FilterOut])
def list_filters(principal: Principal = Depends(admin), desk=Depends(get_desk)):
    return [service.filter_json(rule) for rule in desk.filters.list()]


@router.post("/filters", response_model=FilterOut, status_code=201)
def add_filter(body: FilterIn, principal: Principal = Depends(admin), desk=Depends(get_desk)):
    return service.filter_json(service.add_filter(desk, _body(body)))


@router.post("/filters/test", response_model=TestResult, response_model_by_alias=True)
def test_filters(body: TestMail, principal: Principal = Depends(admin), desk=Depends(get_desk)):
    return service.try_filters(desk, body.mime.encode("utf-8", "replace"), field="mime")


@router.get("/filters/{name}", response_model=FilterOut)
def get_filter(name: str, principal: Principal = Depends(admin), desk=Depends(get_desk)):
    rule = desk.filters.get(name)
    if rule is None:
        raise LookupError(f"no filter named {name!r}")
    return service.filter_json(rule)


@router.put("/filters/{name}", response_model=FilterOut)
def change_filter(name: str, body: FilterChange, principal: Principal = Depends(admin),
                  desk=Depends(get_desk)):
    return service.filter_json(service.update_filter(desk, name, _body(body)))


@router.delete("/filters/{name}", status_code=204, response_class=Response)
def remove_filter(name: str, principal: Principal = Depends(admin), desk=Depends(get_desk)):
    service.remove_filter(desk, name)
    return Response(status_code=204)
