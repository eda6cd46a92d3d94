"""`monitor`: the monitor's check once, as its timer does (services/monitor.py)."""
from __future__ import annotations

from .options import command
from .output import desk, print_result


def cmd_monitor(args) -> None:
    """Exit code 0 whenever the check ran, whatever it found: findings are data, not errors."""
    from ..services.monitor import run_monitor

    report = run_monitor(desk())
    lines = [f"monitor ran at {report.ran_at}; mail is sent from {report.sender or '(no account)'}"]
    for a in report.accounts:
        incident = f"  [incident {a.incident}]" if a.incident else ""
        lines.append(f"{a.address}: {a.state}: {a.detail}{incident}")
        if a.mail:
            lines.append(f"  {a.mail}")
    for s in report.secrets:
        warned = {"now": "  [warning mailed]", "before": "  [warned before]"}.get(s.warned, "")
        due = "EXPIRES SOON" if s.due else "ok"
        lines.append(f"secret {s.source} {s.secret}: {due}, expires {s.expires} "
                     f"(used by {', '.join(s.accounts)}){warned}")
    lines.extend(f"note: {note}" for note in report.notes)
    print_result(args, report.as_dict(), lines)


def register(sub, groups: dict) -> None:
    command(sub, "monitor", cmd_monitor,
            "check fetch health and secret expiry once, as the monitor timer does")
