"""`templates list|show|set|reset|preview`: the admin CLI for email templates.

Errors are raised as ValidationError / LookupError subclasses and printed by the parser's
`main` as `error: ...` with exit code 1.
"""
from __future__ import annotations

from pathlib import Path

from ..domain.model import ValidationError
from ..domain.templates import TEMPLATE_KEYS, TEMPLATES
from ..services.template_admin import template_json
from .options import command
from .output import desk, print_result


def _store():
    return desk().templates


def _where(department: str | None) -> str:
    return department or "all departments"


def _show_lines(data: dict) -> list[str]:
    return [f"{data['key']} ({data['title']}, to {data['audience']}) for "
            f"{_where(data['department'])}: {data['source']}", f"sent when {data['sent_when']}",
            f"subject: {data['subject']}", "--- html ---", data["html"], "--- text ---", data["text"]]


def cmd_templates_list(args) -> None:
    rows = [{"key": key, "title": TEMPLATES[key].title, "audience": TEMPLATES[key].audience,
             "source": source} for key, source in _store().list(args.department)]
    lines = [f"{'KEY':26} {'TO':6} {'SOURCE':16} TITLE"]
    lines += [f"{r['key']:26} {r['audience']:6} {r['source']:16} {r['title']}" for r in rows]
    print_result(args, rows, lines)


def cmd_templates_show(args) -> None:
    template, source = _store().resolve(args.key, args.department)
    data = template_json(args.key, args.department, template, source)
    print_result(args, data, _show_lines(data))


def cmd_templates_set(args) -> None:
    from ..services.template_admin import save

    if args.subject is None and args.html_file is None and args.text_file is None:
        raise ValidationError("nothing to change: give --subject, --html-file or --text-file")
    data = save(desk(), args.key, subject=args.subject,
                html=None if args.html_file is None else Path(args.html_file).read_text("utf-8"),
                text=None if args.text_file is None else Path(args.text_file).read_text("utf-8"),
                department=args.department)
    print_result(args, data, [f"saved {args.key} for {_where(data['department'] or None)}"])


def cmd_templates_reset(args) -> None:
    from ..services.template_admin import reset

    data = reset(desk(), args.key, args.department)
    print_result(args, data, [f"reset {args.key} for {_where(args.department)}: now uses "
                              f"{data['source']}"])


def cmd_templates_preview(args) -> None:
    from ..services.template_admin import preview

    data = preview(desk(), args.key, args.department, ticket=args.ticket)
    print_result(args, data, [f"subject: {data['subject']}", "--- html ---", data["html"],
                              "--- text ---", data["text"]])


def register(sub, groups: dict) -> None:
    templates = sub.add_parser("templates", help="email templates").add_subparsers(
        dest="action", required=True)
    groups["templates"] = templates

    def with_key(name, func, help_text):
        p = command(templates, name, func, help_text)
        p.add_argument("key", choices=TEMPLATE_KEYS, metavar="KEY",
                       help=f"one of {', '.join(TEMPLATE_KEYS)}")
        p.add_argument("--department", help="a department's own version (default: all departments)")
        return p

    command(templates, "list", cmd_templates_list, "list templates and where each comes from") \
        .add_argument("--department", help="as this department's mail would use them")
    with_key("show", cmd_templates_show, "show the template in effect")
    set_ = with_key("set", cmd_templates_set, "change a template (parts not given are kept)")
    set_.add_argument("--subject")
    set_.add_argument("--html-file", help="UTF-8 file with the HTML body")
    set_.add_argument("--text-file", help="UTF-8 file with the plain-text body")
    with_key("reset", cmd_templates_reset, "drop the stored version (back to default/built-in)")
    with_key("preview", cmd_templates_preview, "render the template with a sample ticket") \
        .add_argument("--ticket", help="render with this ticket's values instead (its number)")
