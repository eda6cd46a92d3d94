"""`migrate [--dry-run]`: copy a store of the previous layout into one partition per ticket."""
from __future__ import annotations

from .options import command
from .output import desk, print_result


def cmd_migrate(args) -> None:
    from ..services.migrate import describe, migrate

    report = migrate(desk(), dry_run=args.dry_run)
    print_result(args, report.as_dict(), describe(report))


def register(sub, groups: dict) -> None:
    migrate = command(sub, "migrate", cmd_migrate, "copy a store of the previous layout into "
                      "one partition per ticket (idempotent)")
    migrate.add_argument("--dry-run", action="store_true", help="count, write nothing")
