"""`doctor [--account ADDRESS] [--json]`: one check per row of the guide's troubleshooting
table, pass / warn / fail with the fix. Exit code 0 when nothing failed, 1 when a check did."""
from __future__ import annotations

import sys

from .options import command
from .output import print_result

_MARK = {"pass": "PASS", "warn": "WARN", "fail": "FAIL"}


def _lines(data: dict) -> list[str]:
    lines = []
    for check in data["checks"]:
        target = f" [{check['target']}]" if check["target"] else ""
        lines.append(f"{_MARK[check['result']]}  {check['title']}{target}: {check['detail']}")
        if check["fix"]:
            lines.append(f"      fix: {check['fix']}")
    counts = data["counts"]
    lines.append(f"{counts['pass']} passed, {counts['warn']} warnings, {counts['fail']} failed")
    return lines


def cmd_doctor(args) -> None:
    from ..services.doctor import diagnose

    data = diagnose(account=args.account).as_dict()
    print_result(args, data, _lines(data))
    if not data["ok"]:
        sys.exit(1)


def register(sub, groups: dict) -> None:
    doctor = command(sub, "doctor", cmd_doctor, "check every row of the troubleshooting table "
                     "(exit code 1 when a check fails)")
    doctor.add_argument("--account", help="the account checks for this address only")
