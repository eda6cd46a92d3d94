"""`/api/v1/departments` and `/api/v1/staff` (admin): the directory, through the same service
operations as `departments ...` and `staff ...`."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from ..services import directory_edit as edit
from .auth import Principal
from .deps import admin, get_desk
from .api_common import ERRORS

router = APIRouter(prefix="/api/v1", tags=["directory"], responses=ERRORS)


class DepartmentOut(BaseModel):
    name: str
    email: str = ""
    manager: str = ""
    alert_recipients: list[str] = Field(default_factory=list)
    sla_hours: int = 24


class DepartmentIn(DepartmentOut):
    """A new department: only `name` is required."""


class DepartmentChange(BaseModel):
    """Fields to change; a field left out (or null) keeps its value. The name is the key."""
    email: str | None = None
    manager: str | None = None
    alert_recipients: list[str] | None = None
    sla_hours: int | None = None


class StaffOut(BaseModel):
    name: str
    email: str
    department: str
    active: bool = True


class StaffIn(StaffOut):
    """A new staff member."""


class StaffChange(BaseModel):
    """Fields to change; a field left out (or null) keeps its value. The address is the key."""
    name: str | None = None
    department: str | None = None
    active: bool | None = None


def _department(desk, name: str) -> dict:
    department = desk.directory.get_department(name)
    if department is None:
        raise LookupError(f"no department {name}")
    return edit.department_json(department)


@router.get("/departments", response_model=list[DepartmentOut])
def list_departments(principal: Principal = Depends(admin), desk=Depends(get_desk)):
    return [edit.department_json(d) for d in desk.directory.list_departments()]


@router.post("/departments", response_model=DepartmentOut, status_code=201)
def add_department(body: DepartmentIn, principal: Principal = Depends(admin),
                   desk=Depends(get_desk)):
    return edit.department_json(edit.add_department(desk, body.model_dump()))


@router.get("/departments/{name}", response_model=DepartmentOut)
def get_department(name: str, principal: Principal = Depends(admin), desk=Depends(get_desk)):
    return _department(desk, name)


@router.put("/departments/{name}", response_model=DepartmentOut)
def change_department(name: str, body: DepartmentChange, principal: Principal = Depends(admin),
                      desk=Depends(get_desk)):
    return edit.department_json(edit.update_department(desk, name, body.model_dump()))


@router.delete("/departments/{name}", status_code=204, response_class=Response)
def remove_department(name: str, principal: Principal = Depends(admin), desk=Depends(get_desk)):
    edit.remove_department(desk, name)
    return Response(status_code=204)


@router.get("/staff", response_model=list[StaffOut])
def list_staff(principal: Principal = Depends(admin), desk=Depends(get_desk)):
    return [edit.staff_json(s) for s in desk.directory.list_staff()]


@router.post("/staff", response_model=StaffOut, status_code=201)
def add_staff(body: StaffIn, principal: Principal = Depends(admin), desk=Depends(get_desk)):
    return edit.staff_json(edit.add_staff(desk, body.model_dump()))


@router.get("/staff/{email}", response_model=StaffOut)
def get_staff(email: str, principal: Principal = Depends(admin), desk=Depends(get_desk)):
    member = desk.directory.get_staff(email)
    if member is None:
        raise LookupError(f"no staff member {email}")
    return edit.staff_json(member)


@router.put("/staff/{email}", response_model=StaffOut)
def change_staff(email: str, body: StaffChange, principal: Principal = Depends(admin),
                 desk=Depends(get_desk)):
    return edit.staff_json(edit.update_staff(desk, email, body.model_dump()))


@router.delete("/staff/{email}", status_code=204, response_class=Response)
def remove_staff(email: str, principal: Principal = Depends(admin), desk=Depends(get_desk)):
    edit.remove_staff(desk, email)
    return Response(status_code=204)
