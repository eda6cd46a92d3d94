"""Customised email templates in Table Storage (table `templates`).

PartitionKey `default` holds templates that replace a built-in one for every department;
`dept:<department, lower-cased and escaped>` holds one department's overrides (the prefix
keeps a department called "Default" apart from the defaults). RowKey is the template key.
Lookup order: the department's override, the stored default, the built-in default.
"""
from __future__ import annotations

from datetime import datetime, timezone

from ..domain.limits import MAX_INLINE_CHARS, utf16_len
from ..domain.templates import (
    DEFAULT_TEMPLATES,
    PARTS,
    TEMPLATE_KEYS,
    Template,
    TemplateError,
    check_key,
    validate,
)
from .names import TEMPLATES
from .storage import StorageConnection
from .table_base import _Table, safe_key

DEFAULT_PARTITION = "default"
BUILT_IN = "built-in"


def _partition(department: str | None) -> str:
    name = (department or "").strip()
    return f"dept:{safe_key(name.lower())}" if name else DEFAULT_PARTITION


class TemplateStore:
    """Read and change the templates the sender uses; built-in defaults need no rows."""

    def __init__(self, connection: StorageConnection):
        self._table = _Table(connection, TEMPLATES)

    @staticmethod
    def _template(entity: dict) -> Template:
        return Template(subject=entity["subject"], html=entity["html"], text=entity["text"])

    def resolve(self, key: str, department: str | None = None) -> tuple[Template, str]:
        """(effective template, source): source is the department's name, "default" or "built-in"."""
        check_key(key)
        if (department or "").strip():
            entity = self._table.get(_partition(department), key)
            if entity:
                return self._template(entity), entity["department"]
        entity = self._table.get(DEFAULT_PARTITION, key)
        if entity:
            return self._template(entity), DEFAULT_PARTITION
        return DEFAULT_TEMPLATES[key], BUILT_IN

    def get(self, key: str, department: str | None = None) -> Template:
        return self.resolve(key, department)[0]

    def snapshot(self):
        """Every stored template, read with one query, as a `get(key, department)` that
        resolves as `get` does: for a run that renders many notifications (the sender)."""
        stored = {(e["PartitionKey"], e["RowKey"]): self._template(e) for e in self._table.query()}

        def get(key: str, department: str | None = None) -> Template:
            check_key(key)
            if (department or "").strip() and (_partition(department), key) in stored:
                return stored[(_partition(department), key)]
            return stored.get((DEFAULT_PARTITION, key)) or DEFAULT_TEMPLATES[key]

        return get

    def set(self, key: str, template: Template, department: str | None = None) -> None:
        """Store a template for every department (None) or one; refused when invalid or too long."""
        validate(template, key)
        for part, where in PARTS:
            value = getattr(template, part)
            if utf16_len(value) > MAX_INLINE_CHARS:
                error = TemplateError(f"{where} is {utf16_len(value):,} characters; "
                                      f"the limit is {MAX_INLINE_CHARS:,}")
                error.field = part
                raise error
        self._table.upsert({
            "PartitionKey": _partition(department),
            "RowKey": key,
            "department": (department or "").strip(),
            "subject": template.subject,
            "html": template.html,
            "text": template.text,
            "updated": datetime.now(timezone.utc),
        }, merge=False)

    def reset(self, key: str, department: str | None = None) -> bool:
        """Delete the stored template; False when there was none."""
        check_key(key)
        # look first: the SDK's delete_entity ignores a missing row, so delete() cannot tell
        if self._table.get(_partition(department), key) is None:
            return False
        self._table.delete(_partition(department), key)
        return True

    def list(self, department: str | None = None) -> list[tuple[str, str]]:
        """Every template key with the source `get` would use, in the guide's order."""
        sources = {e["RowKey"]: DEFAULT_PARTITION
                   for e in self._table.query(DEFAULT_PARTITION, select=["RowKey"])}
        if (department or "").strip():
            sources.update({e["RowKey"]: e["department"]
                            for e in self._table.query(_partition(department),
                                                       select=["RowKey", "department"])})
        return [(key, sources.get(key, BUILT_IN)) for key in TEMPLATE_KEYS]
