"""`emails add|update|remove|show|list|resubscribe`: the mailboxes deskmail fetches and
sends from; `show` includes push ingestion's state (services/subscriptions.py `push_status`).

(`emails test-send` is an outbound command: see notifications.py.)
"""
from __future__ import annotations

import sys

from ..services.accounts import (
    ACCOUNT_FIELDS, DELIVERIES, PRIORITIES, PURPOSES, account_json, add_account, get_account, remove_account,
    update_account,
)
from ..services.subscriptions import push_status, resubscribe
from .options import bool_pair, command
from .output import desk, iso, print_result


def _changes(args) -> dict:
    return {option: getattr(args, option, None) for option in ACCOUNT_FIELDS}


def _report(args, saved, verb: str) -> None:
    print_result(args, account_json(saved.account), [f"{verb} {saved.account.address}"])
    if saved.warning:
        print(f"warning: {saved.warning}", file=sys.stderr)


def cmd_emails_add(args) -> None:
    _report(args, add_account(desk(), args.address, **_changes(args)), "added")


def cmd_emails_update(args) -> None:
    _report(args, update_account(desk(), args.address, **_changes(args)), "updated")


def cmd_emails_remove(args) -> None:
    remove_account(desk(), args.address)
    print(f"removed {args.address}")


def cmd_emails_list(args) -> None:
    accounts = desk().accounts.list()
    lines = [f"{'ADDRESS':32} {'PURPOSE':13} {'DEPARTMENT':14} {'FETCH':5} LAST FETCH / ERROR"]
    for a in accounts:
        state = iso(a.last_fetch) or "never"
        if a.consecutive_failures:
            state += f"  ({a.consecutive_failures} failures: {a.last_error[:60]})"
        lines.append(f"{a.address:32} {a.purpose.value:13} {a.department:14} "
                     f"{'on' if a.can_fetch else 'off':5} {state}")
    print_result(args, [account_json(a) for a in accounts], lines)


def _push_json(helpdesk, account) -> dict:
    status = push_status(helpdesk, account)
    return {**status, "state": status["state"].value, "expires": iso(status["expires"]),
            "last_notification": iso(status["last_notification"]),
            "last_sync": iso(status["last_sync"])}


def cmd_emails_show(args) -> None:
    helpdesk = desk()
    account = get_account(helpdesk, args.address)
    data = {**account_json(account), "push": _push_json(helpdesk, account)}
    print_result(args, data, [f"{key}: {value}" for key, value in data.items() if key != "push"]
                 + [f"push {key}: {value}" for key, value in data["push"].items()])


def cmd_emails_resubscribe(args) -> None:
    helpdesk = desk()
    account = get_account(helpdesk, args.address)
    report = resubscribe(helpdesk, account.address)
    data = {**report.outcome(), "push": _push_json(helpdesk, account)}
    print_result(args, data, [f"subscribed {account.address}: {', '.join(report.created)}"]
                 if report.created else [f"error: {e}" for e in report.errors])
    if report.errors:
        sys.exit(1)


def _account_options(parser, adding: bool) -> None:
    if not adding:
        parser.add_argument("--name")
        parser.add_argument("--purpose", choices=PURPOSES)
        parser.add_argument("--department")
    parser.add_argument("--priority", choices=PRIORITIES)
    bool_pair(parser, "auto-response", "send the New Ticket Auto-Response (default on)")
    bool_pair(parser, "fetch-enabled", "fetch this mailbox (default on)")
    bool_pair(parser, "mark-as-read", "mark fetched mail read (default on)")
    parser.add_argument("--folder", help="mail folder to fetch (default Inbox)")
    parser.add_argument("--batch-size", type=int, help="mails per fetch run (default 20)")
    parser.add_argument("--tenant-id")
    parser.add_argument("--client-id")
    parser.add_argument("--client-secret-name", help="name of the client secret in Key Vault")
    bool_pair(parser, "collaborators-from-cc",
              "To/Cc addresses of a client's mail become collaborators (default on)")
    parser.add_argument("--collaborator-delivery", choices=DELIVERIES,
                        help="responses reach collaborators on Cc (default) or one mail each")


def register(sub, groups: dict) -> None:
    emails = sub.add_parser("emails", help="email accounts").add_subparsers(dest="action", required=True)
    groups["emails"] = emails
    add = command(emails, "add", cmd_emails_add, "add an email account")
    add.add_argument("--address", required=True)
    add.add_argument("--name", required=True)
    add.add_argument("--purpose", required=True, choices=PURPOSES)
    add.add_argument("--department", required=True)
    _account_options(add, adding=True)
    update = command(emails, "update", cmd_emails_update, "change an email account")
    update.add_argument("address")
    _account_options(update, adding=False)
    command(emails, "remove", cmd_emails_remove, "remove an email account").add_argument("address")
    command(emails, "show", cmd_emails_show, "show one email account").add_argument("address")
    command(emails, "list", cmd_emails_list, "list email accounts")
    command(emails, "resubscribe", cmd_emails_resubscribe,
            "replace the account's Graph push subscription").add_argument("address")
