"""`reconcile [--account A] [--day YYYY-MM-DD]`: the mail of a folder's day against what
deskmail recorded; a mail unaccounted for is logged as an error (once per mail and day)."""
from __future__ import annotations

import argparse
from datetime import date

from .options import command
from .output import desk, print_result


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--day must be YYYY-MM-DD, got {text!r}") from None


def _lines(result) -> list[str]:
    head = f"{result.account} {result.day.isoformat()} ({result.folder}): "
    if result.error:
        return [head + result.error]
    counts = ", ".join(f"{name} {n}" for name, n in result.counts.items() if n)
    lines = [head + f"{len(result.mails)} mail(s)" + (f": {counts}" if counts else "")]
    lines += [f"  UNACCOUNTED {m.received.isoformat()} from {m.sender or '?'} {m.subject!r} "
              f"(graph id {m.graph_id})" for m in result.unaccounted]
    if result.gone:
        lines.append(f"  {len(result.gone)} recorded mail(s) no longer in the folder")
    return lines


def cmd_reconcile(args) -> None:
    from ..services.reconcile import reconcile

    results = reconcile(desk(), account=args.account, day=args.day)
    lines = [line for result in results for line in _lines(result)]
    print_result(args, [r.json() for r in results], lines or ["no account is fetched"])


def register(sub, groups: dict) -> None:
    parser = command(sub, "reconcile", cmd_reconcile,
                     "compare a mailbox's day with what deskmail ingested")
    parser.add_argument("--account", help="one email account (default: every fetched account)")
    parser.add_argument("--day", type=_day,
                        help="the UTC day, YYYY-MM-DD (default: yesterday and today)")
