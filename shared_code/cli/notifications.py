"""Outbound mail: `send`, `notifications failed|requeue`, and `emails test-send`.

The `--json` shapes are part of the public CLI interface.
"""
from __future__ import annotations

import sys

from .options import command
from .output import desk, print_result


def cmd_send(args) -> None:
    from ..services.outbound_queue import drain_outbound

    results = drain_outbound(desk())
    data = [r.as_dict() for r in results]
    lines = [f"{r.outcome:10} {r.template:24} {r.sender or '-':28} -> "
             f"{', '.join(r.recipients) or '-'}: {r.subject}"
             + (f" ({r.reason})" if r.reason else "") for r in results]
    print_result(args, data, lines or ["no notifications to send"])
    if any(r.outcome == "failed" for r in results):
        sys.exit(1)


def cmd_notifications_failed(args) -> None:
    from ..services.admin_views import failed_notification_json
    from ..services.outbound_queue import failed_notifications

    rows = [failed_notification_json(row) for row in failed_notifications(desk())]
    print_result(args, rows, [_failed_line(r) for r in rows] or ["no failed notifications"])


def _failed_line(r: dict) -> str:
    about = (f"SYSTEM MAIL {r['template']} created {r['created'] or '?'}"
             if r["type"] == "system_mail" else f"{r['template']} ticket #{r['ticket']}")
    return (f"{r['id']} {about} from {r['sender'] or '-'} to {r['recipients'] or '-'}: "
            f"{r['subject']}: {r['error_code']} {r['error']} ({r['attempts']} attempts)").replace("  ", " ")


def cmd_notifications_requeue(args) -> None:
    from ..services.outbound_queue import requeue

    notification = requeue(desk(), args.id)
    about = (f"system mail {notification.get('kind')}, created {notification.get('created') or '?'}"
             if notification.get("type") == "system_mail"
             else f"{notification['template']}, ticket #{notification['ticket_number']}")
    print_result(args, {"id": notification["id"], "state": "queued"},
                 [f"queued {notification['id']} ({about}) again"])


def cmd_emails_test_send(args) -> None:
    from ..adapters.graph import GraphError
    from ..services.send import send_test_mail

    try:
        message_id = send_test_mail(desk(), args.address, args.to)
    except GraphError as error:
        print_result(args, {"sent": False, "error_code": error.code, "error": str(error)},
                     [f"send failed: {error.code}: {error}"])
        sys.exit(1)
    print_result(args, {"sent": True, "message_id": message_id},
                 [f"sent a test message from {args.address} to {args.to} (Message-ID <{message_id}>)"])


def register(sub, groups: dict) -> None:
    """Add `emails test-send` (to the emails group, registered before) and the outbound commands."""
    test_send = command(groups["emails"], "test-send", cmd_emails_test_send,
                        "send a test message from an account through Graph")
    test_send.add_argument("address", help="the account to send from")
    test_send.add_argument("--to", required=True, help="who receives the test message")

    command(sub, "send", cmd_send, "send queued notifications once, as the queue trigger does")

    notifications = sub.add_parser("notifications", help="outbound notifications").add_subparsers(
        dest="action", required=True)
    groups["notifications"] = notifications
    command(notifications, "failed", cmd_notifications_failed,
            "list notifications and system mail that failed for good")
    command(notifications, "requeue", cmd_notifications_requeue,
            "put a failed notification or system mail back on the queue").add_argument("id")
