"""`filters list|add|update|remove|test`: the admins' inbound filters (domain/filters.py).

A condition is `--if FIELD OPERATOR VALUE`, FIELD one of sender, recipient, subject, body or
header:NAME; OPERATOR contains, equals or regex. All conditions of a filter must match.
"""
from __future__ import annotations

from pathlib import Path

from ..domain.model import ValidationError
from .options import bool_pair, command
from .output import desk, print_result


def _conditions(args) -> list[dict] | None:
    if not args.conditions:
        return None
    conditions = []
    for target, operator, value in args.conditions:
        field, _, header = target.partition(":")
        conditions.append({"field": field, "operator": operator, "value": value, "header": header})
    return conditions


def _actions(args) -> list[dict] | None:
    actions = []
    if args.discard is not None:
        actions.append({"kind": "discard", "value": args.discard})
    if args.allow_auto_generated:
        actions.append({"kind": "allow_auto_generated"})
    for kind, value in (("set_department", args.department), ("set_priority", args.priority),
                        ("set_assignee", args.assignee)):
        if value:
            actions.append({"kind": kind, "value": value})
    actions += [{"kind": "add_tag", "value": tag} for tag in args.tag or []]
    if args.no_auto_response:
        actions.append({"kind": "skip_auto_response"})
    return actions or None


def _line(rule: dict) -> str:
    when = " and ".join(
        f"{c['field']}{':' + c['header'] if c['header'] else ''} {c['operator']} {c['value']!r}"
        for c in rule["conditions"])
    then = ", ".join(a["kind"] + (f" {a['value']!r}" if a["value"] else "") for a in rule["actions"])
    off = "" if rule["enabled"] else " [disabled]"
    return f"{rule['position']}. {rule['name']}{off}: if {when} then {then}"


def _plain(rule) -> dict:
    from ..services.filters import filter_json

    return {key: value for key, value in filter_json(rule).items()}


def cmd_list(args) -> None:
    rows = [_plain(rule) for rule in desk().filters.list()]
    print_result(args, rows, [_line(r) for r in rows] or ["no filters"])


def cmd_add(args) -> None:
    from ..services.filters import add_filter

    data = {"name": args.name, "conditions": _conditions(args) or [],
            "actions": _actions(args) or [], "position": args.position or 0,
            "enabled": args.enabled is not False}
    row = _plain(add_filter(desk(), data))
    print_result(args, row, [f"added {_line(row)}"])


def cmd_update(args) -> None:
    from ..services.filters import update_filter

    changes = {"conditions": _conditions(args), "actions": _actions(args),
               "position": args.position, "enabled": args.enabled}
    row = _plain(update_filter(desk(), args.name, changes))
    print_result(args, row, [f"updated {_line(row)}"])


def cmd_remove(args) -> None:
    from ..services.filters import remove_filter

    remove_filter(desk(), args.name)
    print_result(args, {"removed": args.name}, [f"removed filter {args.name}"])


def cmd_test(args) -> None:
    from ..services.filters import try_filters

    try:
        raw = Path(args.file).read_bytes()
    except OSError as error:
        raise ValidationError(f"cannot read {args.file}: {error.strerror}", "file") from None
    result = try_filters(desk(), raw)
    lines = [f"mail from {result['from'] or '?'}: {result['subject']!r}"]
    lines += [f"  {'MATCH' if f['matches'] else 'no   '} {f['position']}. {f['name']}"
              + ("" if f["enabled"] else " [disabled]") for f in result["filters"]]
    lines += [f"effect: {line}" for line in result["effects"]]
    if result["auto_generated"]:
        lines.append(f"auto-generated: {result['auto_generated']}")
    lines.append(f"outcome: {result['outcome']} (nothing was changed)")
    print_result(args, result, lines)


def _definition(parser) -> None:
    parser.add_argument("--if", dest="conditions", nargs=3, action="append",
                        metavar=("FIELD", "OPERATOR", "VALUE"),
                        help="sender|recipient|subject|body|header:NAME, contains|equals|regex, "
                             "the value (repeat: all must match)")
    parser.add_argument("--discard", metavar="REASON", help="discard the mail, logging REASON")
    parser.add_argument("--allow-auto-generated", action="store_true",
                        help="let an auto-generated mail (monitoring alert) become a ticket")
    parser.add_argument("--department", help="the new ticket's department")
    parser.add_argument("--priority", help="low|normal|high|emergency")
    parser.add_argument("--assignee", help="a staff member's address")
    parser.add_argument("--tag", action="append", help="add a tag (repeatable)")
    parser.add_argument("--no-auto-response", action="store_true", help="skip the auto-response")
    parser.add_argument("--position", type=int, help="1 = evaluated first (default: last)")
    bool_pair(parser, "enabled", "whether the filter is used (default: yes)")


def register(sub, groups: dict) -> None:
    filters = sub.add_parser("filters", help="inbound mail filters").add_subparsers(
        dest="action", required=True)
    groups["filters"] = filters
    command(filters, "list", cmd_list, "list the filters in evaluation order")
    for name, func, help_text in (("add", cmd_add, "add a filter"),
                                  ("update", cmd_update, "change a filter (given options replace)")):
        parser = command(filters, name, func, help_text)
        parser.add_argument("name")
        _definition(parser)
    command(filters, "remove", cmd_remove, "remove a filter").add_argument("name")
    command(filters, "test", cmd_test, "which filters match a mail (changes nothing)").add_argument(
        "file", help="a mail as .eml")
