"""Rule 6's staff branch (issue 10 §4): a proven staff member's mail on a ticket is a response
to the client, or an internal note (domain/staff_reply.py says which).

A response is what `tickets reply` stores (services/actions.py): an entry of type `response` by
that staff member, the SLA clock stopped, and the Response/Reply notification to the client
(and, when the account says `separate`, one to each collaborator) as `n-` rows in the same
transaction as the entry and the mail's marker. Its ids derive from the mail's Message-ID, so a
retried fetch rewrites the same keys and the sender, which claims by notification id, mails
the client once. The response goes out From the helpdesk with the outbound Message-ID form,
so the client's answer threads in; staff get no alert of their own response.
"""
from __future__ import annotations

import json
import re
from dataclasses import replace

from ..adapters.table_base import digest
from ..domain.autoreply import detect_auto_reply
from ..domain.limits import MAX_SUBJECT_CHARS, clip_text
from ..domain.model import CollaboratorDelivery, Entry, Party, Ticket
from ..domain.notifications import new_notification, outbound_message_id, parse_outbound_id
from ..domain.routing import STAFF_TEMPLATES, collaborators_of
from ..domain.sla import mark_answered
from ..domain.staff_files import notification_files
from ..domain.staff_reply import StaffReply, StaffReplyKind, read_staff_reply
from ..domain.telemetry import StaffEmailReply
from .context import InboundMail, PipelineContext

TITLE = "Staff replied by email"


def staff_reply(mail: InboundMail, ticket: Ticket, ctx: PipelineContext) -> StaffReply:
    """What this proven staff mail means, decided once per mail."""
    if mail.staff_reply is None:
        sender = mail.parsed.from_address.lower()
        mail.staff_reply = read_staff_reply(
            subject=mail.parsed.subject, raw_text=mail.parsed.text_body or "",
            text=mail.content.body_text, html=mail.content.body_html,
            separator=ctx.settings.reply_separator,
            staff_is_client=sender == (ticket.client.email or "").lower(),
            automatic=detect_auto_reply(mail.parsed) or "")  # let through by a filter
    return mail.staff_reply


def _staff_party(mail: InboundMail, ctx: PipelineContext) -> Party:
    """The staff record's name (the template's `staff.name`), else the mail's display name."""
    address = mail.parsed.from_address
    return Party(ctx.staff_names.get(address.lower()) or mail.parsed.from_name, address)


def _notification_id(mail: InboundMail) -> str:
    return digest(f"{mail.key}|response", 32)


def staff_entry(mail: InboundMail, entry: Entry, ticket: Ticket, ctx: PipelineContext) -> Entry:
    """The entry built from the mail (store.py), shaped as the staff member's note or response:
    the quote cut, the `#note` line dropped, the staff record's name. A response carries the
    outbound Message-ID of its mail to the client (what the client's answer refers to)."""
    reply = staff_reply(mail, ticket, ctx)
    shaped = replace(entry, type=reply.kind.value, sender=_staff_party(mail, ctx),
                     body_text=reply.text, body_html=reply.html)
    if reply.kind is not StaffReplyKind.RESPONSE:
        return shaped
    quoted = _quoted_pictures(mail)
    if quoted:  # what the client gets: never a picture of the cut quote (the raw mail keeps it)
        shaped = replace(shaped, attachments=[a for a in shaped.attachments if a.inline or
                                              a.content_id.strip("<>").lower() not in quoted])
    message_id = outbound_message_id(_notification_id(mail), ctx.settings.system_domain,
                                     ticket.number, ticket.thread_token)
    subject = clip_text(f"Re: {ticket.subject}", MAX_SUBJECT_CHARS)[0]
    return replace(shaped, message_id=message_id, subject=subject)


_CID = re.compile(r"""cid:([^"'\s<>)]{1,500})""", re.IGNORECASE)


def _quoted_pictures(mail: InboundMail) -> set[str]:
    """Content-IDs the mail's HTML shows that rule 5 did not keep inline: pictures only in
    the cut quote (a colleague's screenshot, the quoted mail's logo). Rule 5 keeps them as
    attachments, for staff; a response must not mail them to the client."""
    shown = {match.group(1).strip("<>").lower() for match in _CID.finditer(mail.parsed.html_body or "")}
    return shown - {a.content_id.strip("<>").lower() for a in mail.attachments if a.inline}


def answer(ticket: Ticket, entry: Entry, mail: InboundMail) -> None:
    """A response answers the client: the SLA clock stops (as `tickets reply` does)."""
    mark_answered(ticket, entry.entry_id, mail.received)


def _references(mail: InboundMail, ctx: PipelineContext) -> list[str]:
    """The client-visible thread (messages and responses), never the staff mail's own ids:
    those name a mail the client never saw."""
    entries = ctx.tickets.entries(mail.ticket.number)
    return [e.message_id for e in entries if e.type in ("message", "response") and e.message_id
            and e.entry_id != mail.entry.entry_id][-20:]


def addressed_directly(mail: InboundMail) -> set[str]:
    """Who the staff mail itself went to (To/Cc, lower-cased): a staff member who answers
    with Reply All has already mailed them."""
    return {(address or "").strip().lower() for _, address in mail.parsed.to + mail.parsed.cc}


def client_addressed(mail: InboundMail) -> bool:
    return (mail.ticket.client.email or "").lower() in addressed_directly(mail)


def plan_response(mail: InboundMail, ctx: PipelineContext) -> list[dict]:
    """The Response/Reply to the client, and one per collaborator when the account that
    received the staff mail delivers them separately (else they are on the client's Cc).
    Whoever the staff mail was addressed to directly (Reply All) is not mailed again; when
    that is the client, the collaborators it missed get one mail each."""
    ticket, entry = mail.ticket, mail.entry
    notification_id = _notification_id(mail)
    actor = entry.sender
    references = _references(mail, ctx)
    files = list(entry.attachments)  # inline pictures too: a signature cannot be told
    extra = {"response_entry_id": entry.entry_id,  # from a pasted screenshot reliably
             **({"attachments": notification_files(files)} if files else {})}
    direct = addressed_directly(mail)
    planned = [] if client_addressed(mail) else [new_notification(
        "response", ticket, {"role": "client"}, event="ticket.responded",
        notification_id=notification_id, entry_id=entry.entry_id, account=mail.account.address,
        actor=actor, references=references, extra={"message_id": entry.message_id, **extra})]
    if not planned or mail.account.collaborator_delivery == CollaboratorDelivery.SEPARATE:
        for address in collaborators_of(ticket):
            if address in direct:
                continue
            own_id = digest(f"{notification_id}|{address}", 32)
            planned.append(new_notification(
                "response", ticket, {"role": "collaborator", "email": address},
                event="ticket.responded", notification_id=own_id, entry_id=entry.entry_id,
                account=mail.account.address, actor=actor, references=references,
                extra={"message_id": outbound_message_id(
                    own_id, ctx.settings.system_domain, ticket.number, ticket.thread_token),
                    **extra}))
    return planned


def record(mail: InboundMail, ctx: PipelineContext) -> None:
    """The system log line and telemetry event of a stored staff mail: who, which ticket, and
    what became of it; never the body."""
    reply, staff = mail.staff_reply, mail.parsed.from_address
    if reply.kind is StaffReplyKind.RESPONSE and client_addressed(mail):
        what = "posted as a response; the client was on its To/Cc, so it is not mailed again"
    elif reply.kind is StaffReplyKind.RESPONSE:
        what = "posted as a response and mailed to the client"
    else:
        what = f"kept as an internal note: {reply.why}"
    ctx.syslog.write("info", TITLE, f"{staff} replied by email on ticket #{mail.ticket.number}: "
                     f"{what}", account=mail.account.address)
    ctx.telemetry.emit(StaffEmailReply(mail.account.address, mail.ticket.number, staff,
                                       reply.kind.value, reply.why))


def via_staff_mail(mail: InboundMail, ticket: Ticket, ctx: PipelineContext) -> bool:
    """Whether the mail threaded through a Message-ID of ours that no client-side mail carries
    (an alert: forwarded, or leaked): its sender, not a participant, had a staff member's mail.
    It is kept as a message for staff to judge, but the sender does not become a collaborator:
    no later response confirms the ticket to them (issue 10 §4). The id that counts is the one
    answered (In-Reply-To, else the newest of References), never any id of the chain: an
    alert's References carry the client's thread, and an id of our form with a made-up hash
    (the alert's token is enough to thread) names no client-side mail either."""
    ours = [i.strip("<>").lower() for i in (*mail.parsed.in_reply_to, *reversed(mail.parsed.references))
            if (parse_outbound_id(i) or ("",))[0] == ticket.number]
    if not ours:
        return False
    to_client = set()
    for row in ctx.tickets.notification_rows(ticket.number):
        notification = json.loads(row.get("notification") or "{}")
        if notification.get("template") not in STAFF_TEMPLATES and notification.get("message_id"):
            to_client.add(notification["message_id"].strip("<>").lower())
    return ours[0] not in to_client
