"""`fetch [--account A]`: one fetch run, as the timer does."""
from __future__ import annotations

import sys

from .options import command
from .output import desk, print_result


def cmd_fetch(args) -> None:
    from ..services.fetch import fetch_all

    summaries = fetch_all(desk(), only=args.account)
    data = [s.as_dict() for s in summaries]
    lines = []
    for s in summaries:
        if s.skipped:
            lines.append(f"{s.address}: skipped ({s.skipped})")
            continue
        lines.append(f"{s.address}: fetched {s.fetched}, created {s.created}, threaded {s.threaded}, "
                     f"discarded {s.discarded}, duplicates {s.duplicates}, ignored {s.ignored}, "
                     f"quarantined {s.quarantined}")
        lines.extend(f"  error: {e}" for e in s.errors)
    print_result(args, data, lines or ["no email accounts to fetch"])
    if any(s.errors for s in summaries):
        sys.exit(1)


def register(sub, groups: dict) -> None:
    fetch = command(sub, "fetch", cmd_fetch, "fetch mail once, as the timer does")
    fetch.add_argument("--account", help="fetch only this address")
