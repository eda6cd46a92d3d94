"""`emails add|update|remove|show|list`: the mailboxes deskmail fetches and sends from.

(`emails test-send` is an outbound command: see notifications.py.)
"""
from __future__ import annotations

import sys

from ..domain.model import EmailAccount
from .options import bool_pair, command
from .output import desk, iso, print_result

PURPOSES = ["system", "department", "alert", "auto-response"]
PRIORITIES = ["low", "normal", "high", "emergency"]


def account_json(account: EmailAccount) -> dict:
    return {
        "address": account.address, "name": account.name, "purpose": account.purpose.value,
        "department": account.department, "priority": account.priority.value,
        "auto_response": account.auto_response, "fetch_enabled": account.fetch_enabled,
        "folder": account.folder, "batch_size": account.batch_size,
        "mark_as_read": account.mark_as_read, "tenant_id": account.tenant_id,
        "client_id": account.client_id, "client_secret_name": account.client_secret_name,
        "created": iso(account.created), "last_fetch": iso(account.last_fetch),
        "last_error": account.last_error, "last_error_time": iso(account.last_error_time),
        "consecutive_failures": account.consecutive_failures,
    }


def _apply_account_options(account: EmailAccount, args) -> None:
    for option in ("name", "purpose", "department", "priority", "folder", "batch_size",
                   "tenant_id", "client_id", "client_secret_name"):
        value = getattr(args, option, None)
        if value is not None:
            setattr(account, option, value)
    for option in ("auto_response", "fetch_enabled", "mark_as_read"):
        value = getattr(args, option, None)
        if value is not None:
            setattr(account, option, value)


def cmd_emails_add(args) -> None:
    account = EmailAccount(address=args.address, name=args.name, purpose=args.purpose,
                           department=args.department)
    _apply_account_options(account, args)
    helpdesk = desk()
    helpdesk.accounts.add(account)
    print_result(args, account_json(account), [f"added {account.address}"])
    _warn_if_replies_lost(helpdesk, account)


def cmd_emails_update(args) -> None:
    helpdesk = desk()
    account = helpdesk.accounts.get(args.address)
    if account is None:
        raise LookupError(f"no email account {args.address}")
    _apply_account_options(account, args)
    helpdesk.accounts.save(account)
    print_result(args, account_json(account), [f"updated {account.address}"])
    _warn_if_replies_lost(helpdesk, account)


def _warn_if_replies_lost(helpdesk, account: EmailAccount) -> None:
    from ..domain.routing import client_mail_unanswerable

    if client_mail_unanswerable(account, helpdesk.accounts.list()):
        print(f"warning: {account.address} may send client mail but is not fetched, and no "
              "fetched account exists for Reply-To: clients' answers would be lost. Enable "
              "fetching on it or add a fetched department account.", file=sys.stderr)


def cmd_emails_remove(args) -> None:
    if not desk().accounts.remove(args.address):
        raise LookupError(f"no email account {args.address}")
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


def cmd_emails_show(args) -> None:
    account = desk().accounts.get(args.address)
    if account is None:
        raise LookupError(f"no email account {args.address}")
    data = account_json(account)
    print_result(args, data, [f"{key}: {value}" for key, value in data.items()])


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
