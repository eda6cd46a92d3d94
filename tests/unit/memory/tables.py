"""The table repositories in memory, keyed as the adapters key them; rows come back as copies."""
from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from typing import Callable

from shared_code.adapters.message_index import ticket_of_row
from shared_code.adapters.table_base import digest, safe_key
from shared_code.domain.limits import MAX_INLINE_CHARS, clip, utf16_len
from shared_code.domain.model import AlreadyExists, Department, EmailAccount, Staff, ValidationError
from shared_code.domain.templates import (
    DEFAULT_TEMPLATES, TEMPLATE_KEYS, Template, TemplateError, check_key, validate,
)


class MemorySystemLog:
    def __init__(self, now: Callable[[], datetime] | None = None):
        self.now = now or (lambda: datetime.now(timezone.utc))
        self.entries: list[dict] = []  # oldest first

    def write(self, level: str, title: str, message: str, **context: str) -> None:
        self.entries.append({"time": self.now(), "level": level, "title": title,
                             "message": clip(message),
                             **{key: str(value) for key, value in context.items()}})

    def list(self, limit: int = 100, days: int = 7) -> list[dict]:
        today = self.now()
        wanted = {(today - timedelta(days=back)).strftime("%Y%m%d") for back in range(days)}
        newest = [e for _, e in sorted(enumerate(self.entries), key=lambda p: (p[1]["time"], p[0]),
                                       reverse=True)]
        return [dict(e) for e in newest if e["time"].strftime("%Y%m%d") in wanted][:limit]

    def scan(self, days: int = 7, level: str | None = None):
        return iter([e for e in self.list(len(self.entries), days) if not level or e["level"] == level])


_FETCH_STATE = ("last_fetch", "last_error", "last_error_time", "consecutive_failures",
                "fetch_watermark")


class MemoryAccounts:
    def __init__(self, now: Callable[[], datetime] | None = None):
        self.now = now or (lambda: datetime.now(timezone.utc))
        self.rows: dict[str, EmailAccount] = {}

    @staticmethod
    def _stored(account: EmailAccount) -> EmailAccount:
        stored = copy.deepcopy(account)
        stored.last_error = stored.last_error[:4000]
        stored.batch_size = int(stored.batch_size)
        return stored

    def add(self, account: EmailAccount) -> None:
        account.validate()
        account.created = account.created or self.now()
        if safe_key(account.address) in self.rows:
            raise AlreadyExists(f"an email account {account.address} already exists", "address")
        self.rows[safe_key(account.address)] = self._stored(account)

    def get(self, address: str) -> EmailAccount | None:
        row = self.rows.get(safe_key(address.strip().lower()))
        return copy.deepcopy(row) if row else None

    def list(self) -> list[EmailAccount]:
        return sorted((copy.deepcopy(a) for a in self.rows.values()), key=lambda a: a.address)

    def save(self, account: EmailAccount) -> None:
        account.validate()
        self.rows[safe_key(account.address)] = self._stored(account)

    def save_fetch_state(self, account: EmailAccount) -> None:
        row = self.rows.get(safe_key(account.address))
        if row is None:  # the adapter's merge would leave a row without its address
            raise AssertionError("save_fetch_state of an account that was never added")
        for name in _FETCH_STATE:
            if getattr(account, name) is not None:
                setattr(row, name, copy.deepcopy(getattr(account, name)))
        row.last_error = row.last_error[:4000]

    def remove(self, address: str) -> bool:
        return self.rows.pop(safe_key(address.strip().lower()), None) is not None

    def system_addresses(self) -> set[str]:
        return {account.address for account in self.rows.values()}


class MemoryDirectory:
    def __init__(self):
        self.departments: dict[str, Department] = {}
        self.staff: dict[str, Staff] = {}

    def add_department(self, department: Department) -> None:
        department.validate()
        if safe_key(department.name.lower()) in self.departments:
            raise ValidationError(f"a department {department.name} already exists")
        self.departments[safe_key(department.name.lower())] = copy.deepcopy(department)

    def save_department(self, department: Department) -> None:
        department.validate()
        self.departments[safe_key(department.name.lower())] = copy.deepcopy(department)

    def get_department(self, name: str) -> Department | None:
        return copy.deepcopy(self.departments.get(safe_key(name.strip().lower())))

    def list_departments(self) -> list[Department]:
        return sorted(copy.deepcopy(list(self.departments.values())), key=lambda d: d.name.lower())

    def remove_department(self, name: str) -> bool:
        return self.departments.pop(safe_key(name.strip().lower()), None) is not None

    def add_staff(self, staff: Staff) -> None:
        staff.validate()
        if safe_key(staff.email) in self.staff:
            raise ValidationError(f"a staff member {staff.email} already exists")
        self.staff[safe_key(staff.email)] = copy.deepcopy(staff)

    def save_staff(self, staff: Staff) -> None:
        staff.validate()
        self.staff[safe_key(staff.email)] = copy.deepcopy(staff)

    def get_staff(self, email: str) -> Staff | None:
        return copy.deepcopy(self.staff.get(safe_key(email.strip().lower())))

    def list_staff(self) -> list[Staff]:
        return sorted(copy.deepcopy(list(self.staff.values())), key=lambda s: s.email)

    def remove_staff(self, email: str) -> bool:
        return self.staff.pop(safe_key(email.strip().lower()), None) is not None

    def staff_addresses(self) -> set[str]:
        return {s.email for s in self.staff.values() if s.active}


class MemoryTemplates:
    """Rows keyed (partition, template key) as adapters/template_store.py keys them."""

    def __init__(self):
        self.rows: dict[tuple[str, str], tuple[str, Template]] = {}  # -> (department, template)

    @staticmethod
    def _partition(department: str | None) -> str:
        name = (department or "").strip()
        return f"dept:{safe_key(name.lower())}" if name else "default"

    def resolve(self, key: str, department: str | None = None) -> tuple[Template, str]:
        check_key(key)
        if (department or "").strip() and (self._partition(department), key) in self.rows:
            name, template = self.rows[(self._partition(department), key)]
            return template, name
        if ("default", key) in self.rows:
            return self.rows[("default", key)][1], "default"
        return DEFAULT_TEMPLATES[key], "built-in"

    def get(self, key: str, department: str | None = None) -> Template:
        return self.resolve(key, department)[0]

    def set(self, key: str, template: Template, department: str | None = None) -> None:
        validate(template, key)
        for where, value in (("subject", template.subject), ("html body", template.html),
                             ("text body", template.text)):
            if utf16_len(value) > MAX_INLINE_CHARS:
                raise TemplateError(f"{where} is {utf16_len(value):,} characters; "
                                    f"the limit is {MAX_INLINE_CHARS:,}")
        self.rows[(self._partition(department), key)] = ((department or "").strip(), template)

    def reset(self, key: str, department: str | None = None) -> bool:
        check_key(key)
        return self.rows.pop((self._partition(department), key), None) is not None

    def list(self, department: str | None = None) -> list[tuple[str, str]]:
        sources = {k: "default" for (p, k) in self.rows if p == "default"}
        if (department or "").strip():
            sources.update({k: name for (p, k), (name, _) in self.rows.items()
                            if p == self._partition(department)})
        return [(key, sources.get(key, "built-in")) for key in TEMPLATE_KEYS]


class MemoryMessageIndex:
    def __init__(self):
        self.rows: dict[str, dict] = {}

    @staticmethod
    def _keys(message_id: str) -> tuple[str, str]:
        key = digest(message_id.strip().strip("<>").strip(), 64)
        return key[:2], key

    def _upsert(self, message_id: str, fields: dict) -> None:
        pk, rk = self._keys(message_id)
        self.rows.setdefault(rk, {"PartitionKey": pk, "RowKey": rk}).update(copy.deepcopy(fields))

    def get(self, message_id: str) -> dict | None:
        row = self.rows.get(self._keys(message_id)[1])
        return copy.deepcopy(row) if row else None

    def claim(self, message_id: str, fields: dict) -> dict | None:
        existing = self.get(message_id)
        if existing is not None:
            return existing
        self._upsert(message_id, {"message_id": message_id, "state": "claimed", **fields})
        return None

    def update(self, message_id: str, fields: dict) -> None:
        self._upsert(message_id, fields)

    def record(self, message_id: str, ticket_number: str, direction: str,
               entry_id: str = "") -> None:
        self._upsert(message_id, {"message_id": message_id, "state": "done",
                                  "ticket": ticket_number, "entry_id": entry_id,
                                  "direction": direction})

    def ticket_of(self, message_id: str) -> str | None:
        return ticket_of_row(self.get(message_id))
