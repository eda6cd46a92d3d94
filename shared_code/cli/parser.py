"""The admin command line assembled from its command groups, and `main` (errors, exit codes).

Each command group is one module with a `register(sub, groups)` function; `groups` maps a
group's name to its subparsers so a later group can add to an earlier one (`notifications`
adds `emails test-send`). The order of COMMAND_GROUPS is the order of `--help`.
"""
from __future__ import annotations

import argparse
import sys

from ..config import SettingError
from ..domain.model import ValidationError
from ..domain.untrusted import terminal_safe
from . import (
    clients,
    directory,
    doctor,
    emails,
    fetch,
    filters,
    migrate,
    monitor,
    notifications,
    quarantine,
    reconcile,
    system_log,
    templates,
    tickets,
)

COMMAND_GROUPS = (
    emails,
    fetch,
    tickets,
    directory,       # departments, staff
    system_log,      # syslog
    quarantine,
    notifications,   # send, notifications, emails test-send
    clients,         # undeliverable addresses (bounces)
    templates,
    migrate,         # the previous storage layout into one partition per ticket
    monitor,         # fetch incidents and secret expiry, as the monitor timer does
    reconcile,       # the mailbox's day against the ledger
    doctor,          # the troubleshooting table, checked
    filters,         # the admins' inbound filters
    # Register a new command group here: a module with `register(sub, groups)` in this
    # package, imported above.
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m shared_code.cli", description="deskmail admin")
    sub = parser.add_subparsers(dest="command", required=True)
    groups: dict = {}
    for group in COMMAND_GROUPS:
        group.register(sub, groups)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ValidationError, SettingError, LookupError) as error:
        print(terminal_safe(f"error: {error}"), file=sys.stderr)
        return 1
    except Exception as error:  # a clear one-line message, not a traceback, for admins
        print(terminal_safe(f"error: {type(error).__name__}: {error}"), file=sys.stderr)
        return 1
    return 0
