"""`tickets list|show|reply|note|assign|transfer|close|overdue`: tickets and the staff actions.

`show` prints attachment URLs as the web app serves them, `/attachments/<sha256>/<name>`
(relative to the web app's address; services/ticket_views.py)."""
from __future__ import annotations

from ..domain.sla import short
from ..services.ticket_views import get_thread, sla_clocks, ticket_json
from .options import command
from .output import desk, iso, print_result


def cmd_tickets_list(args) -> None:
    helpdesk = desk()
    tickets = helpdesk.tickets.list()
    clocks = sla_clocks(helpdesk, tickets)
    lines = [f"{'NUMBER':7} {'STATUS':6} {'PRIORITY':9} {'DEPARTMENT':14} {'CLIENT':28} "
             f"{'SLA (UTC)':15} SUBJECT"]
    lines += [f"{t.number:7} {t.status.value:6} {t.priority.value:9} {t.department:14} "
              f"{t.client.email:28} {short(clocks[t.number]):15} {t.subject}" for t in tickets]
    print_result(args, [ticket_json(t, clock=clocks[t.number]) for t in tickets], lines)


def cmd_tickets_show(args) -> None:
    from ..services.outbound_queue import held_notifications

    helpdesk = desk()
    thread = get_thread(helpdesk, args.number)
    ticket, entries, clock = thread.ticket, thread.entries, thread.clock
    lines = [f"#{ticket.number} [{ticket.status.value}] {ticket.subject}",
             f"client: {ticket.client.name} <{ticket.client.email}>  department: "
             f"{ticket.department}  priority: {ticket.priority.value}",
             f"SLA: {clock.describe()}"]
    for e in entries:
        lines += ["", f"--- {e.type} from {e.sender.name} <{e.sender.email}> at {iso(e.date)}",
                  e.body_text.rstrip()]
        lines += [f"[attachment{' (inline)' if a.inline else ''}] {a.name} {a.size} bytes {a.url}"
                  for a in e.attachments]
        lines += [f"[not stored] {reason}" for reason in e.rejected_attachments]
        lines += [f"[defect] {defect}" for defect in e.defects]
        lines += [f"[clipped] {', '.join(e.clipped)} (the raw mail has the full values)"] if e.clipped else []
    held = held_notifications(helpdesk, ticket.number)
    lines += [""] * bool(held) + [f"[held] {h['template']} {h['id']} to {h['recipients']}: "
                                  f"{h['reason']}" for h in held]
    print_result(args, {**ticket_json(ticket, entries, clock), "held_notifications": held}, lines)


def cmd_tickets_reply(args) -> None:
    from ..services.actions import reply

    from pathlib import Path

    from ..domain.staff_files import staff_file

    text = open(args.text_file, encoding="utf-8").read() if args.text_file else args.text
    files = [staff_file(Path(path).name, Path(path).read_bytes()) for path in args.attach or []]
    entry = reply(desk(), args.number, args.staff, text or "", request_id=args.request_id, files=files)
    print_result(args, {"ticket": entry.ticket_number, "message_id": entry.message_id,
                        "attachments": [a.name for a in entry.attachments]},
                 [f"response added to #{entry.ticket_number}; mail to the client queued"])


def cmd_tickets_note(args) -> None:
    from ..services.actions import note

    text = open(args.text_file, encoding="utf-8").read() if args.text_file else args.text
    entry = note(desk(), args.number, args.staff, text or "", request_id=args.request_id)
    print_result(args, {"ticket": entry.ticket_number, "entry_id": entry.entry_id},
                 [f"internal note added to #{entry.ticket_number}"])


def cmd_tickets_assign(args) -> None:
    from ..services.actions import assign

    ticket = assign(desk(), args.number, args.staff, by=args.by, request_id=args.request_id)
    print_result(args, ticket_json(ticket), [f"#{ticket.number} assigned to {ticket.assignee}"])


def cmd_tickets_transfer(args) -> None:
    from ..services.actions import transfer

    ticket = transfer(desk(), args.number, args.department, by=args.by,
                      request_id=args.request_id)
    print_result(args, ticket_json(ticket), [f"#{ticket.number} transferred to {ticket.department}"])


def cmd_tickets_close(args) -> None:
    from ..services.actions import close

    ticket = close(desk(), args.number, by=args.by, request_id=args.request_id)
    print_result(args, ticket_json(ticket), [f"#{ticket.number} closed; notice to the client queued"])


def cmd_tickets_remove_collaborator(args) -> None:
    from ..services.actions import remove_collaborator

    ticket = remove_collaborator(desk(), args.number, args.address, by=args.by)
    print_result(args, ticket_json(ticket),
                 [f"{args.address} removed from #{ticket.number}; no further mail to them"])


def cmd_tickets_overdue(args) -> None:
    from ..services.actions import check_overdue

    tickets = check_overdue(desk())
    print_result(args, [ticket_json(t) for t in tickets],
                 [f"overdue alert queued for #{t.number}" for t in tickets] or ["no new SLA breaches"])


def register(sub, groups: dict) -> None:
    tickets = sub.add_parser("tickets", help="tickets").add_subparsers(dest="action", required=True)
    groups["tickets"] = tickets
    command(tickets, "list", cmd_tickets_list, "list tickets")
    command(tickets, "show", cmd_tickets_show, "show a ticket and its thread").add_argument("number")
    reply = command(tickets, "reply", cmd_tickets_reply, "answer the client (Response/Reply mail)")
    reply.add_argument("number")
    reply.add_argument("--staff", required=True, help="the replying staff member's address")
    text = reply.add_mutually_exclusive_group(required=True)
    text.add_argument("--text")
    text.add_argument("--text-file")
    reply.add_argument("--attach", action="append", metavar="FILE",
                       help="a file to send with the response (repeatable)")
    note = command(tickets, "note", cmd_tickets_note, "add an internal note (no mail to the client)")
    note.add_argument("number")
    note.add_argument("--staff", required=True, help="the staff member writing the note")
    note_text = note.add_mutually_exclusive_group(required=True)
    note_text.add_argument("--text")
    note_text.add_argument("--text-file")
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
    for action in (reply, note, assign, transfer, close):
        action.add_argument("--request-id", help="makes a retry of the same request do the work once")
    remove = command(tickets, "remove-collaborator", cmd_tickets_remove_collaborator,
                     "take a collaborator off a ticket (no further mail to them)")
    remove.add_argument("number")
    remove.add_argument("address")
    remove.add_argument("--by", help="the staff member removing")
    command(tickets, "overdue", cmd_tickets_overdue, "run the SLA check once, as its timer does")
