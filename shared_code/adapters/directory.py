"""The `departments` and `staff` tables: the people and addresses the alerts go to."""
from __future__ import annotations

import json

from ..domain.model import Department, Staff, ValidationError
from .names import DEPARTMENTS, STAFF
from .storage import StorageConnection
from .table_base import _Table, safe_key


#: the one partition of each table (its rows are keyed by name or address)
DEPARTMENT_PARTITION = "department"
STAFF_PARTITION = "staff"


class DirectoryRepository:
    """Departments and staff, the people and addresses the alerts go to."""

    def __init__(self, connection: StorageConnection):
        self._departments = _Table(connection, DEPARTMENTS)
        self._staff = _Table(connection, STAFF)

    # departments
    def add_department(self, department: Department) -> None:
        department.validate()
        if self._departments.create(self._department_entity(department)) is None:
            raise ValidationError(f"a department {department.name} already exists")

    def save_department(self, department: Department) -> None:
        department.validate()
        self._departments.upsert(self._department_entity(department), merge=False)

    def get_department(self, name: str) -> Department | None:
        entity = self._departments.get(DEPARTMENT_PARTITION, safe_key(name.strip().lower()))
        return self._department_from(entity) if entity else None

    def list_departments(self) -> list[Department]:
        return sorted((self._department_from(e)
                       for e in self._departments.query(DEPARTMENT_PARTITION)),
                      key=lambda d: d.name.lower())

    def remove_department(self, name: str) -> bool:
        return self._departments.delete(DEPARTMENT_PARTITION, safe_key(name.strip().lower()))

    @staticmethod
    def _department_entity(department: Department) -> dict:
        return {"PartitionKey": DEPARTMENT_PARTITION, "RowKey": safe_key(department.name.lower()),
                "name": department.name, "email": department.email, "manager": department.manager,
                "alert_recipients": json.dumps(department.alert_recipients),
                "sla_hours": int(department.sla_hours)}

    @staticmethod
    def _department_from(entity: dict) -> Department:
        return Department(name=entity["name"], email=entity.get("email", ""),
                          manager=entity.get("manager", ""),
                          alert_recipients=json.loads(entity.get("alert_recipients") or "[]"),
                          sla_hours=int(entity.get("sla_hours") or 24))

    # staff
    def add_staff(self, staff: Staff) -> None:
        staff.validate()
        if self._staff.create(self._staff_entity(staff)) is None:
            raise ValidationError(f"a staff member {staff.email} already exists")

    def save_staff(self, staff: Staff) -> None:
        staff.validate()
        self._staff.upsert(self._staff_entity(staff), merge=False)

    def get_staff(self, email: str) -> Staff | None:
        entity = self._staff.get(STAFF_PARTITION, safe_key(email.strip().lower()))
        return self._staff_from(entity) if entity else None

    def list_staff(self) -> list[Staff]:
        return sorted((self._staff_from(e) for e in self._staff.query(STAFF_PARTITION)),
                      key=lambda s: s.email)

    def remove_staff(self, email: str) -> bool:
        return self._staff.delete(STAFF_PARTITION, safe_key(email.strip().lower()))

    def staff_addresses(self) -> set[str]:
        return {s.email for s in self.list_staff() if s.active}

    @staticmethod
    def _staff_entity(staff: Staff) -> dict:
        return {"PartitionKey": STAFF_PARTITION, "RowKey": safe_key(staff.email),
                "name": staff.name, "email": staff.email, "department": staff.department,
                "active": staff.active}

    @staticmethod
    def _staff_from(entity: dict) -> Staff:
        return Staff(name=entity.get("name", ""), email=entity["email"],
                     department=entity.get("department", ""),
                     active=bool(entity.get("active", True)))
