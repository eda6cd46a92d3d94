"""`clients bounces|clear-bounce`: addresses a permanent bounce marked undeliverable.

The `--json` shapes are part of the public CLI interface."""
from __future__ import annotations

from .options import command
from .output import desk, iso, print_result


def _json(row: dict) -> dict:
    return {"address": row.get("address", ""), "status": row.get("status", ""),
            "since": iso(row.get("since")), "ticket": row.get("ticket", ""),
            "bounces": int(row.get("bounces") or 0), "diagnostic": row.get("diagnostic", "")}


def cmd_clients_bounces(args) -> None:
    from ..services.bounces import undeliverable_addresses

    rows = [_json(row) for row in undeliverable_addresses(desk())]
    print_result(args, rows, [f"{r['address']} status {r['status']} since {r['since']} (ticket "
                              f"#{r['ticket']}): {r['diagnostic']}" for r in rows]
                 or ["no undeliverable addresses"])


def cmd_clients_clear_bounce(args) -> None:
    from ..services.bounces import clear_bounce

    row, held = clear_bounce(desk(), args.address, by=args.by or "")
    data = {**_json(row), "cleared": True, "held": [h.get("id", "") for h in held]}
    lines = [f"{data['address']} takes mail again (was {data['status']} since {data['since']})"]
    lines += [f"held: {h.get('id')} ({h.get('template')}, ticket #{h.get('ticket')}): requeue "
              f"it with `notifications requeue {h.get('id')}`" for h in held]
    print_result(args, data, lines)


def register(sub, groups: dict) -> None:
    clients = sub.add_parser("clients", help="client addresses: bounces").add_subparsers(
        dest="action", required=True)
    groups["clients"] = clients
    command(clients, "bounces", cmd_clients_bounces,
            "list addresses a permanent bounce marked undeliverable")
    clear = command(clients, "clear-bounce", cmd_clients_clear_bounce,
                    "let an undeliverable address receive notifications again")
    clear.add_argument("address")
    clear.add_argument("--by", help="who does it (recorded in the system log)")
