"""Add, change and remove departments and staff: what `departments ...`, `staff ...` and the
admin pages and API share.

Each field is checked by the domain's own `validate` on an otherwise valid record, so every
message can be shown next to the field it is about and no rule is written twice.
"""
from __future__ import annotations

from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any

from ..domain.model import Department, Staff, ValidationError
from .field_errors import FieldErrors, collect

if TYPE_CHECKING:  # the composition root imports every adapter: not needed at import time
    from .helpdesk import Helpdesk

DEPARTMENT_FIELDS = ("name", "email", "manager", "alert_recipients", "sla_hours")
STAFF_FIELDS = ("name", "email", "department", "active")
_VALID_DEPARTMENT = Department(name="x")
_VALID_STAFF = Staff(name="x", email="x@example.org", department="x")


def department_json(department: Department) -> dict:
    return {"name": department.name, "email": department.email, "manager": department.manager,
            "alert_recipients": department.alert_recipients, "sla_hours": department.sla_hours}


def staff_json(staff: Staff) -> dict:
    return {"name": staff.name, "email": staff.email, "department": staff.department,
            "active": staff.active}


def _recipients(value: Any) -> list[str]:
    if isinstance(value, str):
        return [a.strip() for a in value.replace("\n", ",").split(",") if a.strip()]
    return [str(a).strip() for a in value or [] if str(a).strip()]


def _sla_hours(value: Any) -> int:
    if isinstance(value, bool):
        raise FieldErrors({"sla_hours": "SLA hours must be a whole number"})
    try:
        return int(str(value).strip())
    except ValueError:
        raise FieldErrors({"sla_hours": f"SLA hours must be a whole number, got {value!r}"}) from None


def _checked(record, valid, fields: tuple[str, ...], errors: dict[str, str] | None = None):
    """Validate `record` field by field (messages keyed by field), then as a whole."""
    collect({name: (lambda name=name: replace(valid, **{name: getattr(record, name)}).validate())
             for name in fields}, errors)
    record.validate()
    return record


def _department(values: dict, base: Department | None = None) -> Department:
    data = asdict(base) if base else {"name": ""}
    for name in DEPARTMENT_FIELDS:
        if values.get(name) is not None:
            data[name] = values[name]
    data["alert_recipients"] = _recipients(data.get("alert_recipients"))
    errors = {}
    try:
        data["sla_hours"] = _sla_hours(data.get("sla_hours", 24))
    except FieldErrors as error:
        errors, data["sla_hours"] = error.errors, 24
    data["name"] = str(data.get("name") or "")
    for name in ("email", "manager"):
        data[name] = str(data.get(name) or "")
    return _checked(Department(**data), _VALID_DEPARTMENT, DEPARTMENT_FIELDS, errors)


def add_department(desk: Helpdesk, values: dict) -> Department:
    department = _department(values)
    try:
        desk.directory.add_department(department)
    except ValidationError as error:
        raise FieldErrors({"name": str(error)}) from None
    return department


def update_department(desk: Helpdesk, name: str, values: dict) -> Department:
    """Change the given fields (None keeps one); the name is the key and is not changed."""
    current = desk.directory.get_department(name)
    if current is None:
        raise LookupError(f"no department {name}")
    department = _department({**values, "name": current.name}, current)
    desk.directory.save_department(department)
    return department


def remove_department(desk: Helpdesk, name: str) -> None:
    if not desk.directory.remove_department(name):
        raise LookupError(f"no department {name}")


def _staff(values: dict, base: Staff | None = None) -> Staff:
    data = asdict(base) if base else {"name": "", "email": "", "department": "", "active": True}
    for name in STAFF_FIELDS:
        if values.get(name) is not None:
            data[name] = values[name]
    for name in ("name", "email", "department"):
        data[name] = str(data.get(name) or "")
    data["active"] = bool(data["active"])
    return _checked(Staff(**data), _VALID_STAFF, STAFF_FIELDS)


def add_staff(desk: Helpdesk, values: dict) -> Staff:
    staff = _staff(values)
    try:
        desk.directory.add_staff(staff)
    except ValidationError as error:
        raise FieldErrors({"email": str(error)}) from None
    return staff


def update_staff(desk: Helpdesk, email: str, values: dict) -> Staff:
    """Change the given fields (None keeps one); the address is the key and is not changed."""
    current = desk.directory.get_staff(email)
    if current is None:
        raise LookupError(f"no staff member {email}")
    staff = _staff({**values, "email": current.email}, current)
    desk.directory.save_staff(staff)
    return staff


def remove_staff(desk: Helpdesk, email: str) -> None:
    if not desk.directory.remove_staff(email):
        raise LookupError(f"no staff member {email}")
