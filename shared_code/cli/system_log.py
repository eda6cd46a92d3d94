"""`syslog [--limit N]`: the system log, newest first.

(Named system_log, not syslog: a module must not shadow the standard library's.)
"""
from __future__ import annotations

from .options import command
from .output import desk, iso, print_result


def cmd_syslog(args) -> None:
    rows = desk().syslog.list(limit=args.limit)
    data = [{"time": iso(r.get("time")), "level": r.get("level"), "title": r.get("title"),
             "message": r.get("message"), "account": r.get("account", "")} for r in rows]
    print_result(args, data, [f"{d['time']} {d['level']:7} {d['title']}: {d['message']}" for d in data])


def register(sub, groups: dict) -> None:
    syslog = command(sub, "syslog", cmd_syslog, "show the system log, newest first")
    syslog.add_argument("--limit", type=int, default=50)
