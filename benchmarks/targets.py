"""Issue 7's targets in one run: the inbound and outbound measures on one stack, printed as
the issue's table (measure | value | target | met/missed).

Run from the repository root::

    .venv/bin/python benchmarks/targets.py --quick                # under ~2 minutes
    .venv/bin/python benchmarks/targets.py --json results.json    # full run, several minutes

What each line measures and how: ``benchmarks/inbound.py``, ``benchmarks/outbound.py``,
``benchmarks/README.md``. Exit status 0, 1 when a check failed (a mail or notification did
not end as expected), 2 when the time budget ran out; a missed target is not a failure.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import inbound, outbound  # noqa: E402
from benchmarks.harness import Stack, machine, run_main, step  # noqa: E402


def rows(results: dict):
    inbound_rows = inbound.inbound_rows(results)
    out_rows = outbound.outbound_rows(results)
    # the order: the three inbound counts, per notification, CPU ratio, the rest
    return inbound_rows[:4] + out_rows[:1] + inbound_rows[4:-1] + out_rows[1:] + inbound_rows[-1:]


def report(results: dict) -> None:
    inbound.print_operations(results)
    outbound.print_operations(results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    inbound.add_arguments(parser)
    outbound.add_arguments(parser)
    parser.add_argument("--profile", action="store_true", help="also cProfile one fetch run of 100 mails")
    args = parser.parse_args(argv)
    inbound.inbound_defaults(args)
    outbound.outbound_defaults(args, departments=30)

    def run(args) -> dict:
        results = {"machine": machine(), "args": vars(args), "problems": []}
        with Stack() as stack:
            step("warm-up")
            inbound.warm_up(stack)
            inbound.run_inbound(stack, args, results)
            step(f"notifications: setup of {args.departments * args.tickets * 2}, then the drain "
                 f"({args.processes} process x {args.workers} threads)")
            results["outbound"] = outbound.measure_notifications(
                stack, args.departments, args.tickets, args.processes, args.workers)
            results["problems"] += results["outbound"]["problems"] + stack.proxy_problems()
        return results

    return run_main(run, args, args.budget or (170 if args.quick else 1500), rows, report)


if __name__ == "__main__":
    sys.exit(main())
