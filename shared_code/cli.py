"""Admin command line: `python -m shared_code.cli --help`.

The command names and their `--json` shapes are a public interface: keep them stable.
Errors go to stderr with exit code 1 (2 for usage errors).
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone

from . import cli_templates
from .config import SettingError
from .domain.model import EmailAccount, ValidationError
from .domain.untrusted import terminal_safe
from .domain.sla import short, sla_clock, sla_hours

PURPOSES = ["system", "department", "alert", "auto-response"]
PRIORITIES = ["low", "normal", "high", "emergency"]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _desk():
    from .services.helpdesk import Helpdesk

    return Helpdesk.from_env()


def _print(args, data, text_lines) -> None:
    """The one printer of every command: JSON as is (it escapes control characters itself),
    text lines without terminal escapes, controls or bidi overrides, since mail-derived text
    (subjects, names, bodies) would otherwise drive the admin's terminal."""
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    else:
        for line in text_lines:
            print(terminal_safe(str(line)))


# ---------------------------------------------------------------- emails


def account_json(account: EmailAccount) -> dict:
    return {
        "address": account.address, "name": account.name, "purpose": account.purpose.value,
        "department": account.department, "priority": account.priority.value,
        "auto_response": account.auto_response, "fetch_enabled": account.fetch_enabled,
        "folder": account.folder, "batch_size": account.batch_size,
        "mark_as_read": account.mark_as_read, "tenant_id": account.tenant_id,
        "client_id": account.client_id, "client_secret_name": account.client_secret_name,
        "created": _iso(account.created), "last_fetch": _iso(account.last_fetch),
        "last_error": account.last_error, "last_error_time": _iso(account.last_error_time),
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
    desk = _desk()
    desk.accounts.add(account)
    _print(args, account_json(account), [f"added {account.address}"])
    _warn_if_replies_lost(desk, account)


def cmd_emails_update(args) -> None:
    desk = _desk()
    account = desk.accounts.get(args.address)
    if account is None:
        raise LookupError(f"no email account {args.address}")
    _apply_account_options(account, args)
    desk.accounts.save(account)
    _print(args, account_json(account), [f"updated {account.address}"])
    _warn_if_replies_lost(desk, account)


def _warn_if_replies_lost(desk, account: EmailAccount) -> None:
    from .domain.routing import client_mail_unanswerable

    if client_mail_unanswerable(account, desk.accounts.list()):
        print(f"warning: {account.address} may send client mail but is not fetched, and no "
              "fetched account exists for Reply-To: clients' answers would be lost. Enable "
              "fetching on it or add a fetched department account.", file=sys.stderr)


def cmd_emails_remove(args) -> None:
    if not _desk().accounts.remove(args.address):
        raise LookupError(f"no email account {args.address}")
    print(f"removed {args.address}")


def cmd_emails_list(args) -> None:
    accounts = _desk().accounts.list()
    lines = [f"{'ADDRESS':32} {'PURPOSE':13} {'DEPARTMENT':14} {'FETCH':5} LAST FETCH / ERROR"]
    for a in accounts:
        state = _iso(a.last_fetch) or "never"
        if a.consecutive_failures:
            state += f"  ({a.consecutive_failures} failures: {a.last_error[:60]})"
        lines.append(f"{a.address:32} {a.purpose.value:13} {a.department:14} "
                     f"{'on' if a.can_fetch else 'off':5} {state}")
    _print(args, [account_json(a) for a in accounts], lines)


def cmd_emails_show(args) -> None:
    account = _desk().accounts.get(args.address)
    if account is None:
        raise LookupError(f"no email account {args.address}")
    data = account_json(account)
    _print(args, data, [f"{key}: {value}" for key, value in data.items()])


# ---------------------------------------------------------------- fetch


def cmd_fetch(args) -> None:
    from .services.fetch import fetch_all

    summaries = fetch_all(_desk(), only=args.account)
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
    _print(args, data, lines or ["no email accounts to fetch"])
    if any(s.errors for s in summaries):
        sys.exit(1)


# ---------------------------------------------------------------- tickets


def _sla_clocks(desk, tickets) -> dict:
    """Each ticket's SLA clock now, by number (answered and waiting on the client, or due when)."""
    departments = {d.name.lower(): d for d in desk.directory.list_departments()}
    now = datetime.now(timezone.utc)
    return {t.number: sla_clock(t, sla_hours(departments.get(t.department.lower())), now)
            for t in tickets}


def sla_json(ticket, clock) -> dict:
    return {"state": clock.state.value, "due": _iso(clock.due),
            "answered_at": _iso(ticket.answered_at), "text": clock.describe()}


def ticket_json(ticket, entries=None, clock=None) -> dict:
    data = {
        "number": ticket.number, "subject": ticket.subject, "status": ticket.status.value,
        "priority": ticket.priority.value, "department": ticket.department,
        "client": {"name": ticket.client.name, "email": ticket.client.email},
        "created": _iso(ticket.created), "account": ticket.account,
        "collaborators": ticket.collaborators, "last_message": _iso(ticket.last_message_at),
        "message_count": ticket.message_count, "assignee": ticket.assignee,
    }
    if clock is not None:
        data["sla"] = sla_json(ticket, clock)
    if entries is not None:
        data["entries"] = [{
            "type": e.type, "from": {"name": e.sender.name, "email": e.sender.email},
            "message_id": e.message_id, "date": _iso(e.date), "subject": e.subject,
            "body_text": e.body_text, "body_html": e.body_html,
            "attachments": [{"name": a.name, "content_type": a.content_type, "size": a.size,
                             "inline": a.inline, "url": a.url} for a in e.attachments],
            "rejected_attachments": e.rejected_attachments,
            "defects": e.defects, "clipped": e.clipped,
        } for e in entries]
    return data


def cmd_tickets_list(args) -> None:
    desk = _desk()
    tickets = desk.tickets.list()
    clocks = _sla_clocks(desk, tickets)
    lines = [f"{'NUMBER':7} {'STATUS':6} {'PRIORITY':9} {'DEPARTMENT':14} {'CLIENT':28} "
             f"{'SLA (UTC)':15} SUBJECT"]
    lines += [f"{t.number:7} {t.status.value:6} {t.priority.value:9} {t.department:14} "
              f"{t.client.email:28} {short(clocks[t.number]):15} {t.subject}" for t in tickets]
    _print(args, [ticket_json(t, clock=clocks[t.number]) for t in tickets], lines)


def cmd_tickets_show(args) -> None:
    desk = _desk()
    number = args.number.lstrip("#")
    ticket = desk.tickets.get(number)
    if ticket is None:
        raise LookupError(f"no ticket #{number}")
    entries = desk.tickets.entries(number)
    clock = _sla_clocks(desk, [ticket])[ticket.number]
    lines = [f"#{ticket.number} [{ticket.status.value}] {ticket.subject}",
             f"client: {ticket.client.name} <{ticket.client.email}>  department: "
             f"{ticket.department}  priority: {ticket.priority.value}",
             f"SLA: {clock.describe()}"]
    for e in entries:
        lines += ["", f"--- {e.type} from {e.sender.name} <{e.sender.email}> at {_iso(e.date)}",
                  e.body_text.rstrip()]
        lines += [f"[attachment{' (inline)' if a.inline else ''}] {a.name} {a.size} bytes {a.url}"
                  for a in e.attachments]
        lines += [f"[not stored] {reason}" for reason in e.rejected_attachments]
        lines += [f"[defect] {defect}" for defect in e.defects]
        lines += [f"[clipped] {', '.join(e.clipped)} (the raw mail has the full values)"] if e.clipped else []
    _print(args, ticket_json(ticket, entries, clock), lines)


def cmd_tickets_reply(args) -> None:
    from .services.actions import reply

    text = open(args.text_file, encoding="utf-8").read() if args.text_file else args.text
    entry = reply(_desk(), args.number, args.staff, text or "", request_id=args.request_id)
    _print(args, {"ticket": entry.ticket_number, "message_id": entry.message_id},
           [f"response added to #{entry.ticket_number}; mail to the client queued"])


def cmd_tickets_assign(args) -> None:
    from .services.actions import assign

    ticket = assign(_desk(), args.number, args.staff, by=args.by, request_id=args.request_id)
    _print(args, ticket_json(ticket), [f"#{ticket.number} assigned to {ticket.assignee}"])


def cmd_tickets_transfer(args) -> None:
    from .services.actions import transfer

    ticket = transfer(_desk(), args.number, args.department, by=args.by,
                      request_id=args.request_id)
    _print(args, ticket_json(ticket), [f"#{ticket.number} transferred to {ticket.department}"])


def cmd_tickets_close(args) -> None:
    from .services.actions import close

    ticket = close(_desk(), args.number, by=args.by, request_id=args.request_id)
    _print(args, ticket_json(ticket), [f"#{ticket.number} closed; notice to the client queued"])


def cmd_tickets_overdue(args) -> None:
    from .services.actions import check_overdue

    tickets = check_overdue(_desk())
    _print(args, [ticket_json(t) for t in tickets],
           [f"overdue alert queued for #{t.number}" for t in tickets] or ["no new SLA breaches"])


# ---------------------------------------------------------------- directory


def department_json(department) -> dict:
    return {"name": department.name, "email": department.email, "manager": department.manager,
            "alert_recipients": department.alert_recipients, "sla_hours": department.sla_hours}


def _apply_department_options(department, args) -> None:
    for option in ("email", "manager", "sla_hours"):
        value = getattr(args, option, None)
        if value is not None:
            setattr(department, option, value)
    if args.alert_recipients is not None:
        department.alert_recipients = [a.strip() for a in args.alert_recipients.split(",")]


def cmd_departments_add(args) -> None:
    from .domain.model import Department

    department = Department(name=args.name)
    _apply_department_options(department, args)
    _desk().directory.add_department(department)
    _print(args, department_json(department), [f"added department {department.name}"])


def cmd_departments_update(args) -> None:
    desk = _desk()
    department = desk.directory.get_department(args.name)
    if department is None:
        raise LookupError(f"no department {args.name}")
    _apply_department_options(department, args)
    desk.directory.save_department(department)
    _print(args, department_json(department), [f"updated department {department.name}"])


def cmd_departments_remove(args) -> None:
    if not _desk().directory.remove_department(args.name):
        raise LookupError(f"no department {args.name}")
    print(f"removed department {args.name}")


def cmd_departments_list(args) -> None:
    departments = _desk().directory.list_departments()
    lines = [f"{d.name:16} email={d.email or '-'} manager={d.manager or '-'} "
             f"alerts={','.join(d.alert_recipients) or '-'} sla={d.sla_hours}h" for d in departments]
    _print(args, [department_json(d) for d in departments], lines or ["no departments"])


def staff_json(staff) -> dict:
    return {"name": staff.name, "email": staff.email, "department": staff.department,
            "active": staff.active}


def cmd_staff_add(args) -> None:
    from .domain.model import Staff

    staff = Staff(name=args.name, email=args.email, department=args.department)
    _desk().directory.add_staff(staff)
    _print(args, staff_json(staff), [f"added staff {staff.email}"])


def cmd_staff_update(args) -> None:
    desk = _desk()
    staff = desk.directory.get_staff(args.email)
    if staff is None:
        raise LookupError(f"no staff member {args.email}")
    for option in ("name", "department", "active"):
        value = getattr(args, option, None)
        if value is not None:
            setattr(staff, option, value)
    desk.directory.save_staff(staff)
    _print(args, staff_json(staff), [f"updated staff {staff.email}"])


def cmd_staff_remove(args) -> None:
    if not _desk().directory.remove_staff(args.email):
        raise LookupError(f"no staff member {args.email}")
    print(f"removed staff {args.email}")


def cmd_staff_list(args) -> None:
    staff = _desk().directory.list_staff()
    lines = [f"{s.email:32} {s.name:24} {s.department:16} {'active' if s.active else 'inactive'}"
             for s in staff]
    _print(args, [staff_json(s) for s in staff], lines or ["no staff"])


# ---------------------------------------------------------------- logs


def cmd_syslog(args) -> None:
    rows = _desk().syslog.list(limit=args.limit)
    data = [{"time": _iso(r.get("time")), "level": r.get("level"), "title": r.get("title"),
             "message": r.get("message"), "account": r.get("account", "")} for r in rows]
    _print(args, data, [f"{d['time']} {d['level']:7} {d['title']}: {d['message']}" for d in data])


def quarantine_json(row: dict) -> dict:
    return {
        "id": row.get("RowKey"), "state": row.get("state", "quarantined"),
        "account": row.get("account", ""), "graph_id": row.get("graph_id"),
        "message_id": row.get("message_id", ""), "subject": row.get("subject", ""),
        "from": {"name": row.get("from_name", ""), "email": row.get("from_email", "")},
        "received": _iso(row.get("received")), "error": row.get("error", ""),
        "attempts": row.get("attempts", 0), "raw_blob": row.get("raw_blob", ""),
        "quarantined_at": _iso(row.get("quarantined_at")),
        "retry_requested_at": _iso(row.get("retry_requested_at")),
        "retry_requested_by": row.get("retry_requested_by", ""),
        "dismissed_at": _iso(row.get("dismissed_at")), "dismissed_by": row.get("dismissed_by", ""),
        "released_at": _iso(row.get("released_at")), "outcome": row.get("outcome", ""),
        "ticket": row.get("ticket", ""),
    }


def _quarantine_line(q: dict) -> str:
    where = f"raw: raw-mail/{q['raw_blob']}" if q["raw_blob"] else f"graph id: {q['graph_id']}"
    state = "" if q["state"] == "quarantined" else f" [{q['state']}]"
    return (f"{q['id']}{state} {q['account']} {q['received']} from {q['from']['email'] or '?'} "
            f"{q['subject']!r}: {q['error']} ({where})")


def cmd_quarantine_list(args) -> None:
    rows = [quarantine_json(r) for r in _desk().quarantine.list(include_closed=args.all)]
    _print(args, rows, [_quarantine_line(r) for r in rows] or ["nothing quarantined"])


def _admin(by: str | None) -> str:
    if by:
        return by
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no login name (containers): the record still says when
        return ""


def cmd_quarantine_retry(args) -> None:
    from .services.quarantine import retry

    row = quarantine_json(retry(_desk(), args.id, by=_admin(args.by)))
    _print(args, row, [f"{row['id']} will get one more attempt in the next fetch run of "
                       f"{row['account']}"])


def cmd_quarantine_dismiss(args) -> None:
    from .services.quarantine import dismiss

    row = quarantine_json(dismiss(_desk(), args.id, by=_admin(args.by)))
    _print(args, row, [f"{row['id']} dismissed by {row['dismissed_by'] or '?'} at "
                       f"{row['dismissed_at']}"])


# ---------------------------------------------------------------- parser


def _bool_pair(parser, name: str, help_on: str) -> None:
    dest = name.replace("-", "_")
    parser.add_argument(f"--{name}", dest=dest, action="store_true", default=None, help=help_on)
    parser.add_argument(f"--no-{name}", dest=dest, action="store_false", default=None)


def _account_options(parser, adding: bool) -> None:
    if not adding:
        parser.add_argument("--name")
        parser.add_argument("--purpose", choices=PURPOSES)
        parser.add_argument("--department")
    parser.add_argument("--priority", choices=PRIORITIES)
    _bool_pair(parser, "auto-response", "send the New Ticket Auto-Response (default on)")
    _bool_pair(parser, "fetch-enabled", "fetch this mailbox (default on)")
    _bool_pair(parser, "mark-as-read", "mark fetched mail read (default on)")
    parser.add_argument("--folder", help="mail folder to fetch (default Inbox)")
    parser.add_argument("--batch-size", type=int, help="mails per fetch run (default 20)")
    parser.add_argument("--tenant-id")
    parser.add_argument("--client-id")
    parser.add_argument("--client-secret-name", help="name of the client secret in Key Vault")


def cmd_migrate(args) -> None:
    from .services.migrate import describe, migrate

    report = migrate(_desk(), dry_run=args.dry_run)
    _print(args, report.as_dict(), describe(report))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m shared_code.cli", description="deskmail admin")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(subparsers, name, func, help_text):
        p = subparsers.add_parser(name, help=help_text)
        p.add_argument("--json", action="store_true", help="machine-readable output")
        p.set_defaults(func=func)
        return p

    emails = sub.add_parser("emails", help="email accounts").add_subparsers(dest="action", required=True)
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

    fetch = command(sub, "fetch", cmd_fetch, "fetch mail once, as the timer does")
    fetch.add_argument("--account", help="fetch only this address")

    tickets = sub.add_parser("tickets", help="tickets").add_subparsers(dest="action", required=True)
    command(tickets, "list", cmd_tickets_list, "list tickets")
    command(tickets, "show", cmd_tickets_show, "show a ticket and its thread").add_argument("number")
    reply = command(tickets, "reply", cmd_tickets_reply, "answer the client (Response/Reply mail)")
    reply.add_argument("number")
    reply.add_argument("--staff", required=True, help="the replying staff member's address")
    text = reply.add_mutually_exclusive_group(required=True)
    text.add_argument("--text")
    text.add_argument("--text-file")
    assign = command(tickets, "assign", cmd_tickets_assign, "assign to a staff member")
    assign.add_argument("number")
    assign.add_argument("--staff", required=True)
    assign.add_argument("--by", help="the staff member assigning")
    transfer = command(tickets, "transfer", cmd_tickets_transfer, "move to another department")
    transfer.add_argument("number")
    transfer.add_argument("--department", required=True)
    transfer.add_argument("--by", help="the staff member transferring")
    close = command(tickets, "close", cmd_tickets_close, "close (Ticket Closed mail to the client)")
    close.add_argument("number")
    close.add_argument("--by", help="the staff member closing")
    for action in (reply, assign, transfer, close):
        action.add_argument("--request-id", help="makes a retry of the same request do the work once")
    command(tickets, "overdue", cmd_tickets_overdue, "run the SLA check once, as its timer does")

    departments = sub.add_parser("departments", help="departments").add_subparsers(dest="action", required=True)
    for name, func, help_text in (("add", cmd_departments_add, "add a department"),
                                  ("update", cmd_departments_update, "change a department")):
        p = command(departments, name, func, help_text)
        p.add_argument("name")
        p.add_argument("--email", help="the department's email account address")
        p.add_argument("--manager", help="the manager's staff address")
        p.add_argument("--alert-recipients", help="comma-separated staff addresses for alerts")
        p.add_argument("--sla-hours", type=int, help="grace hours before a ticket is overdue (default 24)")
    command(departments, "remove", cmd_departments_remove, "remove a department").add_argument("name")
    command(departments, "list", cmd_departments_list, "list departments")

    staff = sub.add_parser("staff", help="staff members").add_subparsers(dest="action", required=True)
    staff_add = command(staff, "add", cmd_staff_add, "add a staff member")
    staff_add.add_argument("--name", required=True)
    staff_add.add_argument("--email", required=True)
    staff_add.add_argument("--department", required=True)
    staff_update = command(staff, "update", cmd_staff_update, "change a staff member")
    staff_update.add_argument("email")
    staff_update.add_argument("--name")
    staff_update.add_argument("--department")
    _bool_pair(staff_update, "active", "whether the staff member gets alerts and can act")
    command(staff, "remove", cmd_staff_remove, "remove a staff member").add_argument("email")
    command(staff, "list", cmd_staff_list, "list staff members")

    syslog = command(sub, "syslog", cmd_syslog, "show the system log, newest first")
    syslog.add_argument("--limit", type=int, default=50)

    quarantine = sub.add_parser("quarantine", help="mail set aside").add_subparsers(dest="action", required=True)
    quarantine_list = command(quarantine, "list", cmd_quarantine_list, "list quarantined mail")
    quarantine_list.add_argument("--all", action="store_true",
                                 help="also show dismissed mail and mail processed on retry")
    for name, func, help_text in (
            ("retry", cmd_quarantine_retry, "give a quarantined mail one more attempt"),
            ("dismiss", cmd_quarantine_dismiss, "record that an admin dealt with it")):
        action = command(quarantine, name, func, help_text)
        action.add_argument("id", help="the id shown by `quarantine list`")
        action.add_argument("--by", help="who does it (default: the login name)")
    migrate = command(sub, "migrate", cmd_migrate, "copy a store of the previous layout into "
                      "one partition per ticket (idempotent)")
    migrate.add_argument("--dry-run", action="store_true", help="count, write nothing")
    from .cli_notifications import register as register_outbound  # it imports this module

    register_outbound(sub, emails, command)
    cli_templates.register(sub, command)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ValidationError, SettingError, LookupError) as error:
        print(terminal_safe(f"error: {error}"), file=sys.stderr)
        return 1
    except Exception as error:  # a clear one-line message, not a traceback, for admins
        print(terminal_safe(f"error: {type(error).__name__}: {error}"), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
