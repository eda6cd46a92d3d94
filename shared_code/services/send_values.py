"""The values a notification's template is rendered with (`%{ticket.number}`, ...).

Plain data in, plain data out: the ticket, its department, the recipients, the notification
and the thread entries (read by the caller only when the template shows some of the thread).
"""
from __future__ import annotations

from ..domain.model import Entry, Party, Staff, Ticket
from ..domain.templates import Template, build_url

#: Values taken from the thread: reading the thread is skipped unless the template shows one.
THREAD_VALUES = {"ticket.lastMessage", "message", "response"}


def shows_thread(template: Template, notification: dict) -> bool:
    """Whether rendering needs the ticket's entries (a round trip saved when not)."""
    sender = notification.get("sender") or {}
    wanted = set(THREAD_VALUES)
    if not (sender.get("name") and sender.get("email")):
        wanted |= {"sender.name", "sender.email"}
    shown = template.subject + template.html + template.text
    return any(f"%{{{name}}}" in shown for name in wanted)


def template_values(notification: dict, ticket: Ticket, department, recipients: list[Party],
                    entries: list[Entry], staff: dict[str, Staff], url_base: str) -> dict[str, str]:
    n = notification
    sender = n.get("sender") or {}
    by_id = {e.entry_id: e for e in entries}
    messages = [e for e in entries if e.type == "message"]
    last = messages[-1] if messages else None
    trigger = by_id.get(n.get("entry_id") or "")
    message: Entry | None = trigger if trigger and trigger.type == "message" else last
    response = by_id.get(n.get("response_entry_id") or "")
    actor = n.get("actor") or {}
    assignee = staff.get(ticket.assignee.lower()) if ticket.assignee else None
    return {
        "ticket.number": ticket.number,
        "ticket.subject": ticket.subject,
        "ticket.status": ticket.status.value.capitalize(),
        "ticket.priority": ticket.priority.value.capitalize(),
        "ticket.dept": ticket.department,
        "ticket.staff": assignee.name if assignee else ticket.assignee,
        "ticket.createDate": f"{ticket.created:%Y-%m-%d %H:%M} UTC" if ticket.created else "",
        "ticket.lastMessage": last.body_text if last else "",
        "ticket.client.name": ticket.client.name or ticket.client.email,
        "ticket.client.email": ticket.client.email,
        "recipient.name": ", ".join(p.name or p.email for p in recipients),
        "recipient.email": ", ".join(p.email for p in recipients),
        "url": build_url(url_base, ticket.number),
        "response": response.body_text if response else "",
        "message": message.body_text if message else "",
        "sender.name": sender.get("name") or (message.sender.name if message else ""),
        "sender.email": sender.get("email") or (message.sender.email if message else ""),
        "staff.name": actor.get("name") or actor.get("email") or "",
        "transfer.from": n.get("previous_department", ""),
        "sla.hours": str(department.sla_hours if department else 24),
    }
