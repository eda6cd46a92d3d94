"""What every command group shares: the helpdesk it talks to and the one way to print.

A leaf module (it imports no other CLI module), so the command groups and the parser that
assembles them import it without a cycle.
"""
from __future__ import annotations

import json
from datetime import datetime

from ..domain.untrusted import terminal_safe


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def desk():
    from ..services.helpdesk import Helpdesk

    return Helpdesk.from_env()


def print_result(args, data, text_lines) -> None:
    """The one printer of every command: JSON as is (it escapes control characters itself),
    text lines without terminal escapes, controls or bidi overrides, since mail-derived text
    (subjects, names, bodies) would otherwise drive the admin's terminal."""
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    else:
        for line in text_lines:
            print(terminal_safe(str(line)))
