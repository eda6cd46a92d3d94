"""`syslog [--limit N]`: the system log, newest first.

(Named system_log, not syslog: a module must not shadow the standard library's.)
"""
from __future__ import annotations

from .options import command
from .output import desk, print_result


def cmd_syslog(args) -> None:
    from ..services.admin_views import log_entry_json

    data = [log_entry_json(r) for r in desk().syslog.list(limit=args.limit)]
    print_result(args, data, [f"{d['time']} {d['level']:7} {d['title']}: {d['message']}" for d in data])


def register(sub, groups: dict) -> None:
    syslog = command(sub, "syslog", cmd_syslog, "show the system log, newest first")
    syslog.add_argument("--limit", type=int, default=50)
