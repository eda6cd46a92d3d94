"""Managing the admins' filters (CLI `filters`, /admin/filters, /api/v1/filters) and trying
them on a mail without changing anything (`filters test`).

Validation happens here, against the directory: a department or assignee a filter sets must
exist when it is saved (a filter naming a removed department would otherwise fail at fetch).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..domain.autoreply import detect_auto_reply
from ..domain.filters import Filter, evaluate, matches
from ..domain.mail import parse_mail
from ..domain.model import ValidationError

if TYPE_CHECKING:
    from .helpdesk import Helpdesk


def _validate(desk: "Helpdesk", rule: Filter) -> None:
    departments = {d.name for d in desk.directory.list_departments()}
    staff = {address.lower() for address in desk.directory.staff_addresses()}
    rule.validate(departments, staff)


def add_filter(desk: "Helpdesk", data: dict) -> Filter:
    rule = Filter.from_dict(data)
    _validate(desk, rule)
    desk.filters.add(rule)
    return rule


def update_filter(desk: "Helpdesk", name: str, changes: dict) -> Filter:
    """Replace the fields given in `changes` (conditions and actions as whole lists)."""
    current = desk.filters.get(name)
    if current is None:
        raise LookupError(f"no filter named {name!r}")
    data = current.to_dict()
    data.update({key: value for key, value in changes.items() if value is not None})
    data["name"] = current.name  # the name is the key: remove and add to rename
    rule = Filter.from_dict(data)
    _validate(desk, rule)
    desk.filters.save(rule)
    return rule


def remove_filter(desk: "Helpdesk", name: str) -> None:
    if not desk.filters.remove(name):
        raise LookupError(f"no filter named {name!r}")


def try_filters(desk: "Helpdesk", raw: bytes, field: str = "file") -> dict:
    """Which filters match `raw` and what the pipeline would do with it; reads only."""
    if not raw.strip():
        raise ValidationError("the mail is empty", field)
    parsed = parse_mail(raw)
    rules = desk.filters.list()
    decision = evaluate(rules, parsed)
    auto = detect_auto_reply(parsed, desk.settings.auto_reply_allowed_senders)
    if decision.discard:
        outcome = "discarded by a filter"
    elif auto and not decision.allow_auto_generated:
        outcome = f"discarded as auto-generated (rule: {auto})"
    else:
        outcome = "becomes a ticket or a message on its ticket"
    return {
        "subject": parsed.subject, "from": parsed.from_address,
        "filters": [{"name": r.name, "position": r.position, "enabled": r.enabled,
                     "matches": matches(r, parsed)} for r in rules],
        "matched": decision.matched, "effects": decision.describe(),
        "auto_generated": auto or "", "outcome": outcome,
    }


def filter_json(rule: Filter) -> dict:
    return rule.to_dict()
