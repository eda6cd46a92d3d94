"""Email templates for admins: list, show, save with per-field validation, reset, preview.

What `templates ...` and the admin pages and API share. Preview renders exactly as the
sender does (services/send_values.py), with a real ticket's values or the sample ticket's.
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ..domain.model import ValidationError
from ..domain.outbound_mail import tagged_subject
from ..domain.routing import resolve_recipients
from ..domain.templates import (
    TEMPLATES,
    VARIABLES,
    AVAILABLE,
    Template,
    check_key,
    field_problems,
    render,
    sample_values,
)
from .field_errors import FieldErrors
from .send_values import template_values

if TYPE_CHECKING:  # the composition root imports every adapter: not needed at import time
    from .helpdesk import Helpdesk

#: Which recipient a preview shows for each audience (the role the sender resolves).
_PREVIEW_ROLE = {"client": "client", "staff": "assignee_or_department"}


def template_json(key: str, department: str | None, template: Template, source: str) -> dict:
    info = TEMPLATES[key]
    return {"key": key, "title": info.title, "audience": info.audience,
            "sent_when": info.trigger, "department": department or "", "source": source,
            "subject": template.subject, "html": template.html, "text": template.text}


def variables(key: str) -> list[dict]:
    """The variables this template may use, with their meaning, in the guide's order."""
    check_key(key)
    return [{"name": name, "meaning": meaning} for name, meaning in VARIABLES.items()
            if name in AVAILABLE[key]]


def known_department(desk: Helpdesk, name: str) -> str:
    """The department's own spelling; a typo would store an override no ticket ever uses."""
    names = {d.name for d in desk.directory.list_departments()}
    names |= {a.department for a in desk.accounts.list() if a.department}
    for known in names:
        if known.lower() == name.strip().lower():
            return known
    error = ValidationError(f"no department {name} (known: {', '.join(sorted(names)) or 'none'})")
    error.field = "department"
    raise error


def _department(desk: Helpdesk, department: str | None) -> str | None:
    return known_department(desk, department) if (department or "").strip() else None


def list_templates(desk: Helpdesk, department: str | None = None) -> list[dict]:
    department = _department(desk, department)
    return [{"key": key, "title": TEMPLATES[key].title, "audience": TEMPLATES[key].audience,
             "sent_when": TEMPLATES[key].trigger, "source": source}
            for key, source in desk.templates.list(department)]


def show(desk: Helpdesk, key: str, department: str | None = None) -> dict:
    department = _department(desk, department)
    template, source = desk.templates.resolve(key, department)
    return template_json(key, department, template, source)


def check(key: str, template: Template) -> None:
    """Raise FieldErrors ("subject", "html", "text") naming every problem of each part."""
    problems = field_problems(template, key)
    if problems:
        raise FieldErrors({part: "; ".join(found) for part, found in problems.items()})


def save(desk: Helpdesk, key: str, subject: str | None = None, html: str | None = None,
         text: str | None = None, department: str | None = None) -> dict:
    """Store the template for every department or one; parts not given (None) are kept."""
    department = _department(desk, department)
    current = desk.templates.get(key, department)
    template = Template(subject=current.subject if subject is None else subject,
                        html=current.html if html is None else html,
                        text=current.text if text is None else text)
    check(key, template)
    desk.templates.set(key, template, department)
    return template_json(key, department, template, department or "default")


def reset(desk: Helpdesk, key: str, department: str | None = None) -> dict:
    """Drop the stored version; LookupError when there is none."""
    department = (department or "").strip() or None
    if not desk.templates.reset(key, department):
        raise LookupError(f"{key} has no stored template for {department or 'all departments'}")
    source = desk.templates.resolve(key, department)[1]
    return {"key": key, "department": department or "", "source": source}


def ticket_values(desk: Helpdesk, key: str, number: str) -> dict[str, str]:
    """The values the sender would use for this template on ticket `number` (no event)."""
    number = number.strip()
    ticket = desk.tickets.get(number) if number.isascii() and number.isdigit() else None
    if ticket is None:
        error = ValidationError(f"no ticket #{number}")
        error.field = "ticket"
        raise error
    department = desk.directory.get_department(ticket.department)
    staff = {s.email.lower(): s for s in desk.directory.list_staff()}
    recipients = resolve_recipients({"role": _PREVIEW_ROLE[TEMPLATES[key].audience]}, ticket,
                                    department, lambda email: staff.get(email.lower()))
    return template_values({}, ticket, department, [p for p in recipients if p],
                           desk.tickets.entries(ticket.number), staff,
                           desk.settings.ticket_url_base)


def preview(desk: Helpdesk, key: str, department: str | None = None, ticket: str | None = None,
            draft: dict | None = None) -> dict:
    """The template rendered as sent, for a real or the sample ticket. `draft` holds unsaved
    parts ("subject", "html", "text"; a part left out or None is the stored one)."""
    check_key(key)
    department = _department(desk, department)
    template, source = desk.templates.resolve(key, department)
    parts = {part: value for part, value in (draft or {}).items() if value is not None}
    if parts:
        template, source = replace(template, **parts), "draft"
        check(key, template)
    values = (ticket_values(desk, key, ticket) if (ticket or "").strip()
              else sample_values(desk.settings.ticket_url_base))
    rendered = render(template, values)
    return {"key": key, "department": department or "", "source": source,
            "ticket": values["ticket.number"], "sample": not (ticket or "").strip(),
            "subject": tagged_subject(values["ticket.number"], rendered.subject),
            "html": rendered.html, "text": rendered.text}
