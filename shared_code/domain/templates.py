"""Email templates: the eight notifications, their variables, validation and rendering.

Plain Python. A template is a subject, an HTML body and a plain-text body written with
`%{name}` variables (the guide's "Template Variables"). Only `%{...}` is syntax: a lone `%`
or `{` is literal text. Templates are validated when saved, so a typo is refused with its
name instead of reaching a client as raw `%{...}` (which other helpdesks do). Rendering
escapes every value in the HTML body and keeps the subject on one line. The sender puts the
ticket tag in front of the rendered subject (`[#108749] Re: Checkout page error`), so
subjects here never contain it.
"""
from __future__ import annotations

import difflib
import html as html_lib
import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from .model import ValidationError

#: The web address of a ticket is this plus `?number=NNNNNN` (setting TICKET_URL_BASE).
DEFAULT_TICKET_URL_BASE = "http://localhost:7071/tickets"


class TemplateError(ValidationError):
    """A template that cannot be saved or rendered; the message names the problem."""


class UnknownTemplateError(LookupError):
    """A template key that is not one of TEMPLATE_KEYS."""


@dataclass(frozen=True)
class TemplateInfo:
    title: str      # the guide's name
    audience: str   # "client" or "staff"
    trigger: str


#: Stable keys (used in queue messages), in the guide's order.
TEMPLATES: dict[str, TemplateInfo] = {
    "new_ticket_auto_response": TemplateInfo(
        "New Ticket Auto-Response", "client", "a client's mail opens a new ticket"),
    "new_ticket_alert": TemplateInfo(
        "New Ticket Alert", "staff", "a new ticket is opened (to the department's alert recipients)"),
    "new_message_alert": TemplateInfo(
        "New Message Alert", "staff",
        "a client replies on a ticket (to the assignee, else the department)"),
    "response": TemplateInfo(
        "Response/Reply", "client", "a staff member replies to the client (wraps the reply)"),
    "assignment_alert": TemplateInfo(
        "Ticket Assignment Alert", "staff", "a ticket is assigned to a staff member"),
    "transfer_alert": TemplateInfo(
        "Ticket Transfer Alert", "staff", "a ticket is moved to another department"),
    "overdue_alert": TemplateInfo(
        "Overdue Alert", "staff", "an open ticket breaches its department's SLA"),
    "ticket_closed": TemplateInfo(
        "Ticket Closed", "client", "a staff member closes the ticket"),
}
TEMPLATE_KEYS = tuple(TEMPLATES)

#: Every variable a template may use, with its meaning.
VARIABLES: dict[str, str] = {
    "ticket.number": "the ticket's 6-digit number, e.g. 108749",
    "ticket.subject": "the ticket's subject line",
    "ticket.status": "the current status name (Open, Closed)",
    "ticket.priority": "the priority level (Low, Normal, High, Emergency)",
    "ticket.dept": "the ticket's department name",
    "ticket.staff": "the assigned staff member's name (empty when unassigned)",
    "ticket.createDate": "when the ticket was created (date and time, UTC)",
    "ticket.lastMessage": "the text of the most recent client message",
    "ticket.client.name": "the client's name",
    "ticket.client.email": "the client's email address",
    "recipient.name": "the name of the person this mail goes to (their address when no name is known)",
    "recipient.email": "the email address this mail goes to",
    "url": "the ticket's web address: TICKET_URL_BASE?number=<ticket.number>",
    "response": "the staff member's reply text (Response/Reply)",
    "message": "the client message that caused this mail",
    "sender.name": "who wrote that message: name",
    "sender.email": "who wrote that message: email address",
    "staff.name": "the staff member who acted: replied, assigned, transferred or closed (may be empty)",
    "transfer.from": "the department the ticket was transferred from",
    "sla.hours": "the department's SLA grace hours",
}

_COMMON = (
    "ticket.number", "ticket.subject", "ticket.status", "ticket.priority", "ticket.dept",
    "ticket.staff", "ticket.createDate", "ticket.lastMessage", "ticket.client.name",
    "ticket.client.email", "recipient.name", "recipient.email", "url",
)
_MESSAGE = ("message", "sender.name", "sender.email")

#: Which variables each template may use: the common ones plus those of its event.
AVAILABLE: dict[str, frozenset[str]] = {
    key: frozenset(_COMMON + extra) for key, extra in {
        "new_ticket_auto_response": _MESSAGE,
        "new_ticket_alert": _MESSAGE,
        "new_message_alert": _MESSAGE,
        "response": ("response", "staff.name"),
        "assignment_alert": ("staff.name",),
        "transfer_alert": ("staff.name", "transfer.from"),
        "overdue_alert": ("sla.hours",),
        "ticket_closed": ("staff.name",),
    }.items()
}


@dataclass(frozen=True)
class Template:
    subject: str
    html: str
    text: str


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


# ---------------------------------------------------------------- syntax

# A variable: `%{` then a name on one line without braces, then `}`.
_TOKEN = re.compile(r"%\{([^{}\r\n]{0,100})\}")
# Other syntaxes people try; flagged only around a known name, so `{` stays literal text.
_LOOKALIKE = re.compile(
    r"(?<!%)(?:\$\{|\{\{|%\(|(?<![%{])\{)\s*(" + "|".join(
        re.escape(name) for name in sorted(VARIABLES, key=len, reverse=True)
    ) + r")\s*(?:\}\}|\}|\))"
)
_HEADER_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def check_key(key: str) -> None:
    if key not in TEMPLATES:
        raise UnknownTemplateError(f"unknown template {key!r} (known: {', '.join(TEMPLATE_KEYS)})")


def _context(text: str, at: int) -> str:
    snippet = " ".join(text[at:at + 30].split())
    return snippet + ("…" if len(text) > at + 30 else "")


def _problems(text: str, where: str, known: frozenset[str] | None, key: str | None) -> list[str]:
    problems = []
    pos = text.find("%{")
    while pos != -1:
        match = None if text.startswith("%{{", pos) else _TOKEN.match(text, pos)
        if text.startswith("%{{", pos):
            problems.append(f'write %{{name}}, not %{{{{name}}}}, in {where} at "{_context(text, pos)}"')
        elif match is None:
            problems.append(f'unclosed %{{ in {where} at "{_context(text, pos)}"')
        else:
            name = match.group(1)
            if name not in VARIABLES:
                close = difflib.get_close_matches(name.strip(), VARIABLES, n=1, cutoff=0.6)
                hint = f" (did you mean %{{{close[0]}}}?)" if close else ""
                problems.append(f"unknown variable %{{{name}}} in {where}{hint}")
            elif known is not None and name not in known:
                users = [k for k in TEMPLATE_KEYS if name in AVAILABLE[k]]
                problems.append(f"variable %{{{name}}} in {where} has no value in {key} "
                                f"(it is set in: {', '.join(users)})")
        pos = text.find("%{", match.end() if match else pos + 2)
    for lookalike in _LOOKALIKE.finditer(_TOKEN.sub("\0", text)):
        problems.append(f'"{lookalike.group(0)}" in {where} is not a variable: '
                        f"write %{{{lookalike.group(1)}}}")
    return problems


#: A template's parts: (field name in forms and JSON, the name used in messages).
PARTS = (("subject", "subject"), ("html", "html body"), ("text", "text body"))


def field_problems(template: Template, key: str | None = None) -> dict[str, list[str]]:
    """Every problem per part ("subject", "html", "text"), so a form shows each next to its field."""
    known = None
    if key is not None:
        check_key(key)
        known = AVAILABLE[key]
    found: dict[str, list[str]] = {}
    for part, where in PARTS:
        value = getattr(template, part)
        problems = [f"{where} is empty"] if not value.strip() else []
        problems += _problems(value, where, known, key)
        if problems:
            found[part] = problems
    return found


def validate(template: Template, key: str | None = None) -> None:
    """Raise TemplateError naming every problem; with `key`, also variables that template lacks."""
    problems = field_problems(template, key)
    if problems:
        error = TemplateError("; ".join(p for part in problems.values() for p in part))
        error.field = next(iter(problems))
        raise error


# ---------------------------------------------------------------- rendering


def _substitute(text: str, values: dict[str, str], convert) -> str:
    # one pass: a value containing `%{...}` (a client's subject, say) is never expanded
    return _TOKEN.sub(lambda m: convert(values.get(m.group(1), "")), text)


def _html_value(value: str) -> str:
    escaped = html_lib.escape(value, quote=True)
    return escaped.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "<br>\n")


def _header_line(value: str) -> str:
    """One header line: control characters (CR, LF, ...) become spaces, runs of space one."""
    return " ".join(_HEADER_UNSAFE.sub(" ", value).split())


def render(template: Template, values: dict[str, str | None]) -> Rendered:
    """Fill in the template: values escaped in the HTML body, one line in the subject.

    A variable without a value renders as "" (never as raw `%{...}`); a value name that is
    not a variable raises TemplateError, so a sender's typo shows in its tests.
    """
    unknown = sorted(set(values) - set(VARIABLES))
    if unknown:
        raise TemplateError(f"values for unknown variables: {', '.join(unknown)}")
    clean = {name: "" if value is None else str(value) for name, value in values.items()}
    return Rendered(
        subject=_header_line(_substitute(template.subject, clean, str)),
        html=_substitute(template.html, clean, _html_value),
        text=_substitute(template.text, clean, str),
    )


def build_url(base_url: str, number: str) -> str:
    """The ticket's web address in the guide's `?number=` form (`&number=` after a query)."""
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"the ticket URL base must be an absolute http(s) URL, got {base_url!r}")
    if not str(number).isdigit():
        raise ValueError(f"a ticket number is digits only, got {number!r}")
    query = parts.query.rstrip("&")
    query = f"{query}&number={number}" if query else f"number={number}"
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def sample_values(base_url: str = DEFAULT_TICKET_URL_BASE) -> dict[str, str]:
    """A realistic ticket's values, for `templates preview`."""
    message = ("Hello,\n\nsince this morning the checkout page shows \"Error 500\" after I enter "
               "my card details. I tried two browsers.\n\nOrder reference: A-20931\n\nAnn")
    return {
        "ticket.number": "108749",
        "ticket.subject": "Checkout page error",
        "ticket.status": "Open",
        "ticket.priority": "High",
        "ticket.dept": "Support",
        "ticket.staff": "Bob Agent",
        "ticket.createDate": "2026-11-27 09:14 UTC",
        "ticket.lastMessage": message,
        "ticket.client.name": "Ann Client",
        "ticket.client.email": "ann@example.org",
        "recipient.name": "Ann Client",
        "recipient.email": "ann@example.org",
        "url": build_url(base_url, "108749"),
        "response": ("Hi Ann,\n\nthanks for the details. We found the cause and fixed it; "
                     "please try the checkout again.\n\nKind regards"),
        "message": message,
        "sender.name": "Ann Client",
        "sender.email": "ann@example.org",
        "staff.name": "Carol Lead",
        "transfer.from": "Sales",
        "sla.hours": "24",
    }


# ---------------------------------------------------------------- defaults

_P = '<p style="margin:0 0 12px 0">'
_LINK = f'{_P}<a href="%{{url}}">View ticket #%{{ticket.number}}</a></p>'
_QUOTE = ('<blockquote style="margin:0 0 12px 0;padding:0 0 0 12px;border-left:3px solid #cccccc">'
          "{}</blockquote>")


def _html(*blocks: str) -> str:
    return ('<div style="font-family:Segoe UI,Arial,sans-serif;font-size:14px;color:#222222">\n'
            + "\n".join(blocks) + "\n</div>\n")


def _details(*rows: tuple[str, str]) -> str:
    cells = "\n".join(f'<tr><td style="padding:2px 12px 2px 0;color:#666666">{label}</td>'
                      f"<td>{value}</td></tr>" for label, value in rows)
    return f'<table style="border-collapse:collapse;margin:0 0 12px 0">\n{cells}\n</table>'


def _text_details(*rows: tuple[str, str]) -> str:
    return "\n".join(f"{label + ':':13} {value}" for label, value in rows)


_TICKET_ROWS = (("Ticket", "#%{ticket.number}"), ("Subject", "%{ticket.subject}"),
                ("Client", "%{ticket.client.name} <%{ticket.client.email}>"),
                ("Department", "%{ticket.dept}"), ("Priority", "%{ticket.priority}"),
                ("Assigned to", "%{ticket.staff}"))


def _html_rows(*rows: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((label, html_lib.escape(value, quote=False)) for label, value in rows)


def _staff_alert(subject: str, intro: str, rows: tuple[tuple[str, str], ...],
                 message_title: str, message: str) -> Template:
    return Template(
        subject=subject,
        html=_html(f"{_P}{html_lib.escape(intro, quote=False)}</p>", _details(*_html_rows(*rows)),
                   f"{_P}<strong>{message_title}</strong></p>", _QUOTE.format(message), _LINK),
        text=(f"{intro}\n\n{_text_details(*rows)}\n\n{message_title}\n\n{message}\n\n"
              "View ticket #%{ticket.number}: %{url}\n"),
    )


DEFAULT_TEMPLATES: dict[str, Template] = {
    "new_ticket_auto_response": Template(
        subject="Re: %{ticket.subject}",
        html=_html(
            f"{_P}Hello %{{recipient.name}},</p>",
            f"{_P}Thank you for contacting us. We have received your request and opened ticket "
            "#%{ticket.number}. Our %{ticket.dept} team will get back to you as soon as possible.</p>",
            f"{_P}To add anything, just reply to this email.</p>",
            _LINK),
        text=("Hello %{recipient.name},\n\n"
              "Thank you for contacting us. We have received your request and opened ticket "
              "#%{ticket.number}. Our %{ticket.dept} team will get back to you as soon as possible.\n\n"
              "To add anything, just reply to this email.\n\n"
              "View ticket #%{ticket.number}: %{url}\n"),
    ),
    "new_ticket_alert": _staff_alert(
        "New ticket: %{ticket.subject}",
        "A new ticket was opened in %{ticket.dept} by %{sender.name} <%{sender.email}>.",
        _TICKET_ROWS + (("Created", "%{ticket.createDate}"),),
        "Message", "%{message}"),
    "new_message_alert": _staff_alert(
        "New message: %{ticket.subject}",
        "%{sender.name} <%{sender.email}> wrote on ticket #%{ticket.number}.",
        _TICKET_ROWS + (("Status", "%{ticket.status}"),),
        "Message", "%{message}"),
    "response": Template(
        subject="Re: %{ticket.subject}",
        html=_html(
            f"{_P}%{{response}}</p>",
            f"{_P}%{{staff.name}}<br>\n%{{ticket.dept}}</p>",
            _LINK),
        text=("%{response}\n\n%{staff.name}\n%{ticket.dept}\n\n"
              "View ticket #%{ticket.number}: %{url}\n"),
    ),
    "assignment_alert": _staff_alert(
        "Assigned to %{ticket.staff}: %{ticket.subject}",
        "Ticket #%{ticket.number} has been assigned to %{ticket.staff}.",
        _TICKET_ROWS + (("Assigned by", "%{staff.name}"), ("Status", "%{ticket.status}")),
        "Last message", "%{ticket.lastMessage}"),
    "transfer_alert": _staff_alert(
        "Transferred to %{ticket.dept}: %{ticket.subject}",
        "Ticket #%{ticket.number} has been transferred from %{transfer.from} to %{ticket.dept}.",
        _TICKET_ROWS + (("Moved by", "%{staff.name}"), ("Status", "%{ticket.status}")),
        "Last message", "%{ticket.lastMessage}"),
    "overdue_alert": _staff_alert(
        "Overdue: %{ticket.subject}",
        "Ticket #%{ticket.number} is overdue: the client's last message has waited more than "
        "%{sla.hours} hours (the %{ticket.dept} SLA).",
        _TICKET_ROWS + (("Created", "%{ticket.createDate}"),),
        "Last message", "%{ticket.lastMessage}"),
    "ticket_closed": Template(
        subject="Closed: %{ticket.subject}",
        html=_html(
            f"{_P}Hello %{{recipient.name}},</p>",
            f"{_P}Your ticket #%{{ticket.number}} \u201c%{{ticket.subject}}\u201d has been closed.</p>",
            f"{_P}If your issue is not resolved, reply to this email and the ticket will be "
            "reopened.</p>",
            _LINK),
        text=("Hello %{recipient.name},\n\n"
              "Your ticket #%{ticket.number} \u201c%{ticket.subject}\u201d has been closed.\n\n"
              "If your issue is not resolved, reply to this email and the ticket will be reopened.\n\n"
              "View ticket #%{ticket.number}: %{url}\n"),
    ),
}
