"""`quarantine list|retry|dismiss`: mail set aside after repeated failures."""
from __future__ import annotations

from .options import command
from ..services.admin_views import quarantine_json
from .output import desk, print_result


def _quarantine_line(q: dict) -> str:
    where = f"raw: raw-mail/{q['raw_blob']}" if q["raw_blob"] else f"graph id: {q['graph_id']}"
    state = "" if q["state"] == "quarantined" else f" [{q['state']}]"
    return (f"{q['id']}{state} {q['account']} {q['received']} from {q['from']['email'] or '?'} "
            f"{q['subject']!r}: {q['error']} ({where})")


def cmd_quarantine_list(args) -> None:
    rows = [quarantine_json(r) for r in desk().quarantine.list(include_closed=args.all)]
    print_result(args, rows, [_quarantine_line(r) for r in rows] or ["nothing quarantined"])


def _admin(by: str | None) -> str:
    if by:
        return by
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no login name (containers): the record still says when
        return ""


def cmd_quarantine_retry(args) -> None:
    from ..services.quarantine import retry

    row = quarantine_json(retry(desk(), args.id, by=_admin(args.by)))
    print_result(args, row, [f"{row['id']} will get one more attempt in the next fetch run of "
                             f"{row['account']}"])


def cmd_quarantine_dismiss(args) -> None:
    from ..services.quarantine import dismiss

    row = quarantine_json(dismiss(desk(), args.id, by=_admin(args.by)))
    print_result(args, row, [f"{row['id']} dismissed by {row['dismissed_by'] or '?'} at "
                             f"{row['dismissed_at']}"])


def register(sub, groups: dict) -> None:
    quarantine = sub.add_parser("quarantine", help="mail set aside").add_subparsers(dest="action", required=True)
    groups["quarantine"] = quarantine
    quarantine_list = command(quarantine, "list", cmd_quarantine_list, "list quarantined mail")
    quarantine_list.add_argument("--all", action="store_true",
                                 help="also show dismissed mail and mail processed on retry")
    for name, func, help_text in (
            ("retry", cmd_quarantine_retry, "give a quarantined mail one more attempt"),
            ("dismiss", cmd_quarantine_dismiss, "record that an admin dealt with it")):
        action = command(quarantine, name, func, help_text)
        action.add_argument("id", help="the id shown by `quarantine list`")
        action.add_argument("--by", help="who does it (default: the login name)")
