"""Rule 6: a new ticket, or a message appended to the matched ticket: one transaction.

Everything one mail writes to its ticket (the ticket row, the entry, the marker of its
Message-ID and its notification rows) is one entity-group transaction in the ticket's
partition (adapters/ticket_store.py), so it is stored whole or not at all. Every mail
first claims its Message-ID in the index (insert; the claim names the ticket number and
entry id, so a replay after a crash rewrites the same keys, and two mailboxes holding the
same mail make one ticket). The claim is also rule 1's check (409 = seen) and a reply's
index row: no read before it, no write after the transaction (the claim stays `claimed`;
the marker says the mail is stored). A reply is deduplicated by its marker too: a 409 means
it was stored before. A 412 means another writer changed the ticket: read it again and rebuild.
Ticket numbers are random six-digit numbers; a taken one is drawn again.
"""
from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from ..adapters.deliveries import queued_row
from ..adapters.table_base import digest
from ..adapters.ticket_store import Unit, UnitResult
from ..domain.limits import MAX_COLLABORATORS
from ..domain.model import Entry, Party, Priority, Status, Ticket
from ..domain.notifications import new_thread_token
from .already_seen import fingerprint, graph_key, judge, reused
from .context import InboundMail, MailOutcome, PipelineContext
from .follow_up import note_follow_up
from .notifications import plan_notifications
from .sender import from_staff, log_spoof
from .staff_mail import answer, record, staff_entry, staff_reply, via_staff_mail

MAX_NUMBER_DRAWS = 20
MAX_CONFLICTS = 10


def new_ticket_number() -> str:
    return str(100000 + secrets.randbelow(900000))


def _entry_id(mail: InboundMail) -> str:
    """Sorts in thread order: by claim time (Graph's received time has whole seconds only),
    fixed by the claim so a replay reuses it."""
    when = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{when}-{digest(mail.key, 12)}"


def _claim(mail: InboundMail, ctx: PipelineContext) -> None:
    """Claim the mail's Message-ID (insert): for a new ticket, or for the reply threading
    matched (the claim names that ticket, and is the index row later mail threads by). An
    existing row is judged as rule 1 would (already_seen.py): `done` = a duplicate, `claimed`
    = the claim of an earlier run or of another mailbox holding the same mail, another
    fingerprint = a different mail reusing the Message-ID, claimed under its Graph key."""
    thread = mail.thread
    for _ in range(2):
        fields = {"entry_id": _entry_id(mail), "graph_id": mail.graph_id,
                  "account": mail.account.address, "direction": "inbound",
                  "fingerprint": fingerprint(mail),
                  "ticket": thread.ticket_number if thread else new_ticket_number(),
                  "new_ticket": thread is None, "matched_by": thread.matched_by if thread else "",
                  "related_ticket": mail.related_ticket}
        existing = ctx.index.claim(mail.key, fields)
        if existing is None:
            mail.claim, mail.resumed = fields, False
            for title, handling in mail.spoof_logs:  # once: a replay finds the claim
                log_spoof(mail, ctx, title, handling)
            break
        if not reused(mail, existing) or mail.key == graph_key(mail, ctx):
            judge(mail, existing)
            break
        mail.key = graph_key(mail, ctx)
    mail.seen_deferred = False
    ctx.checkpoint("claimed", mail.key)


def _collaborators_of(mail: InboundMail, ctx: PipelineContext, known: list[str],
                      removed: list[str] = ()) -> list[str]:
    """`known` plus the To and Cc addresses of a client's mail (issue 10 §3): never the
    helpdesk's own addresses, staff, or the sender; lower-cased, deduplicated, at most
    MAX_COLLABORATORS. The account's `collaborators_from_cc` setting turns this off."""
    out = list(known)
    if not getattr(mail.account, "collaborators_from_cc", True):
        return out
    parsed = mail.parsed
    skip = {(parsed.from_address or "").lower(), *ctx.system_addresses, *ctx.staff_addresses,
            *(addr.lower() for addr in removed)}
    seen = {addr.lower() for addr in out}
    found = {(addr or "").strip().lower() for _, addr in parsed.to + parsed.cc}
    for addr in sorted(found - skip - seen):
        if "@" in addr and len(out) < MAX_COLLABORATORS:
            out.append(addr)
    return out


def _new_ticket(mail: InboundMail, number: str, ctx: PipelineContext) -> Ticket:
    """The ticket this mail starts, from its (already clipped, rule 0) values."""
    parsed, account = mail.parsed, mail.account
    fields = {"priority": account.priority, "department": account.department,
              **_filtered_settings(mail)}
    return Ticket(
        number=number,
        subject=parsed.subject.strip() or "(no subject)",
        status=Status.OPEN,
        client=Party(parsed.from_name, parsed.from_address),
        created=mail.received,
        account=account.address,
        collaborators=_collaborators_of(mail, ctx, []),
        source_key=mail.key,
        thread_token=new_thread_token(),
        client_first_seen=mail.received,
        message_count=1,
        last_message_at=mail.received,
        last_message_id=mail.key,
        related_ticket=mail.related_ticket,  # the reopen window (pipeline/thread_match.py)
        **fields,
    )


def _filtered_settings(mail: InboundMail) -> dict:
    """What the admins' filters (rule 2a) set on a new ticket."""
    decision = mail.filtered
    if decision is None:
        return {}
    settings: dict = {"tags": list(decision.tags)}
    if decision.department:
        settings["department"] = decision.department
    if decision.priority:
        settings["priority"] = Priority(decision.priority)
    if decision.assignee:
        settings["assignee"] = decision.assignee
    return settings


def _create_ticket(mail: InboundMail, ctx: PipelineContext) -> Ticket:
    """Create the claimed ticket, or find it when a replay created it already."""
    for _ in range(MAX_NUMBER_DRAWS):
        number = mail.claim["ticket"]
        if mail.resumed:  # an earlier run or another worker may have created it already
            existing = ctx.tickets.get(number)
            if existing is not None and existing.source_key == mail.key:
                return existing
        ticket = _new_ticket(mail, number, ctx)
        if ctx.tickets.create(ticket):
            return ticket
        existing = ctx.tickets.get(number)
        if existing is not None and existing.source_key == mail.key:
            return existing  # another worker stored this same mail a moment ago
        # the number belongs to another ticket: draw again and re-point the claim
        mail.claim["ticket"] = new_ticket_number()
        ctx.index.update(mail.key, {"ticket": mail.claim["ticket"]})
    raise RuntimeError("could not draw a free ticket number")


def _new_entry(mail: InboundMail, number: str, entry_id: str, kind: str) -> Entry:
    """The thread entry this mail becomes, from its (already clipped, rule 0) values."""
    parsed, content = mail.parsed, mail.content
    return Entry(
        ticket_number=number,
        entry_id=entry_id,
        type=kind,
        sender=Party(parsed.from_name, parsed.from_address),
        message_id=mail.key,
        date=_entry_date(mail),
        subject=parsed.subject,
        body_text=content.body_text,
        body_html=content.body_html,
        attachments=mail.attachments,
        rejected_attachments=list(content.rejected),
        source_account=mail.account.address,
        raw_blob=mail.raw_blob,
        defects=list(parsed.defects),
        clipped=list(mail.clipped),
    )


def _check_before_writing(mail: InboundMail, ctx: PipelineContext) -> None:
    """Everything this mail will write, checked before the first write (the claim): the
    ticket and entry entities against Table Storage's limits, and the notifications planned
    from the same values (rule 7 plans them again for real). A failure here leaves nothing
    stored, never a ticket without its alert or a claim stuck at "claimed"."""
    probe = replace(mail, outcome=MailOutcome.CREATED, ticket=_new_ticket(mail, "100000", ctx))
    probe.entry = _new_entry(mail, "100000", _entry_id(mail), "message")
    ctx.tickets.check(ticket=probe.ticket, entry=probe.entry)
    for notification in plan_notifications(probe, ctx):
        ctx.tickets.check_row(queued_row(notification))


def _entry_date(mail: InboundMail) -> datetime:
    """The sender's Date header when it is plausible, else when the mailbox received it
    (a forged or broken date must not move SLA clocks, and Table Storage refuses years < 1601)."""
    date = mail.parsed.date
    if date is None or date.year < 1970 or date > mail.received + timedelta(days=1):
        return mail.received
    return date


def _units_rows(mail: InboundMail) -> list[dict]:
    return [queued_row(notification) for notification in mail.notifications]


def _marker(mail: InboundMail) -> tuple[str, dict]:
    return mail.key, {"entry_id": mail.entry.entry_id, "graph_id": mail.graph_id,
                      "account": mail.account.address, "fingerprint": fingerprint(mail)}


def _stored_before(mail: InboundMail, ticket: Ticket, kind: str, ctx: PipelineContext) -> None:
    """The unit was stored by an earlier run or by another mailbox holding the same mail:
    nothing is written. A replay of this very mail goes on (its notifications are sent
    again; the sender claims by notification id, so none goes out twice); the same mail
    fetched from another mailbox is a duplicate."""
    marker = ctx.tickets.marker(ticket.number, mail.key) or {}
    mail.ticket = ticket
    mail.entry = _new_entry(mail, ticket.number, marker.get("entry_id") or mail.entry.entry_id, kind)
    if mail.staff_reply is not None:
        mail.entry = staff_entry(mail, mail.entry, ticket, ctx)
    if marker and (marker.get("graph_id"), marker.get("account")) != (
            mail.graph_id, mail.account.address):  # (migrated markers have no Graph id)
        mail.outcome = MailOutcome.DUPLICATE
        mail.reason = (f"Message-ID {mail.key} was already processed (ticket #{ticket.number}, "
                       f"from {marker.get('account')})")
        return
    mail.resumed = True
    mail.notifications = plan_notifications(mail, ctx)
    ctx.checkpoint("ticket_written", mail.key)


def _store_new(mail: InboundMail, ctx: PipelineContext) -> None:
    """Create the claimed ticket in one transaction, or find it stored by a replay."""
    for _ in range(MAX_NUMBER_DRAWS):
        number = mail.claim["ticket"]
        mail.outcome = MailOutcome.CREATED
        mail.ticket = ticket = _new_ticket(mail, number, ctx)
        mail.entry = entry = _new_entry(mail, number, mail.claim["entry_id"], "message")
        ticket.last_message_entry = entry.entry_id
        if mail.resumed:  # an earlier run or another worker may have stored it already
            existing = ctx.tickets.get(number)
            if existing is not None and existing.source_key == mail.key:
                return _stored_before(mail, existing, "message", ctx)
        mail.notifications = plan_notifications(mail, ctx)
        result = ctx.tickets.write(Unit(ticket=ticket, new=True, entry=entry,
                                        marker=_marker(mail), notification_rows=_units_rows(mail)))
        if result is UnitResult.STORED:
            return ctx.checkpoint("ticket_written", mail.key)
        existing = ctx.tickets.get(number)
        if existing is not None and existing.source_key == mail.key:
            return _stored_before(mail, existing, "message", ctx)  # another worker, a moment ago
        # the number belongs to another ticket: draw again and re-point the claim
        mail.claim["ticket"] = new_ticket_number()
        ctx.index.update(mail.key, {"ticket": mail.claim["ticket"]})
    raise RuntimeError("could not draw a free ticket number")


def _record_message(ticket: Ticket, entry: Entry, mail: InboundMail, ctx: PipelineContext) -> None:
    """Count the message, point the last-message fields at it when it is the newest, reopen
    the ticket, and add its sender and its To/Cc as collaborators. Counting is exact: the
    marker makes the transaction fail on a replay."""
    received = mail.received
    if entry.entry_id > (ticket.last_message_entry or ""):
        ticket.last_message_at = received  # the mailbox's clock, not the sender's
        ticket.last_message_id = entry.message_id
        ticket.last_message_entry = entry.entry_id
        if ticket.status == Status.CLOSED:
            ticket.status = Status.OPEN
    ticket.message_count += 1
    known = {ticket.client.email.lower(), *(c.lower() for c in ticket.collaborators),
             *(c.lower() for c in ticket.removed_collaborators),  # removed by staff: stays so
             *(a.lower() for a in ctx.staff_addresses)}  # a forged staff From: never copied
    sender = (entry.sender.email or "").lower()
    taking_part = sender in {ticket.client.email.lower(), *(c.lower() for c in ticket.collaborators)}
    if sender and sender not in known \
            and len(ticket.collaborators) < MAX_COLLABORATORS and not via_staff_mail(mail, ticket, ctx):
        ticket.collaborators.append(entry.sender.email)
        taking_part = True
    if taking_part:  # a sender refused (a forged staff From, a stranger with an alert, one
        # staff removed) brings nobody in on To/Cc either: no later response goes to them
        ticket.collaborators = [c for c in _collaborators_of(mail, ctx, ticket.collaborators,
                                                             ticket.removed_collaborators)
                                if c.lower() != ticket.client.email.lower()]
    ticket.thread_token = ticket.thread_token or new_thread_token()


def _store_reply(mail: InboundMail, ticket: Ticket, ctx: PipelineContext) -> None:
    """Append the mail to its ticket in one transaction (the ticket row If-Match its ETag)."""
    # A proven staff From (pipeline/sender.py) answers the client by mail (issue 10 §4): a
    # response, or an internal note (`#note`, nothing above the quote...), neither of which
    # reopens the ticket or alerts staff (pipeline/staff_mail.py). A forged one is a client mail.
    by_staff = from_staff(mail, ctx)
    entry_id = (mail.claim or {}).get("entry_id") or _entry_id(mail)
    for _ in range(MAX_CONFLICTS):
        mail.outcome = MailOutcome.THREADED
        kind = staff_reply(mail, ticket, ctx).kind.value if by_staff else "message"
        entry = _new_entry(mail, ticket.number, entry_id, kind)
        if by_staff:
            ticket.thread_token = ticket.thread_token or new_thread_token()
            entry = staff_entry(mail, entry, ticket, ctx)
            if kind == "response":
                answer(ticket, entry, mail)
        else:
            _record_message(ticket, entry, mail, ctx)
        mail.entry, mail.ticket = entry, ticket
        mail.notifications = plan_notifications(mail, ctx)
        result = ctx.tickets.write(Unit(ticket=ticket, write_ticket=kind != "note", entry=entry,
                                        marker=_marker(mail), notification_rows=_units_rows(mail)))
        if result is UnitResult.ALREADY_STORED:
            return _stored_before(mail, ctx.tickets.get(ticket.number) or ticket, kind, ctx)
        if result is UnitResult.STORED:
            if by_staff:
                record(mail, ctx)
            return ctx.checkpoint("ticket_written", mail.key)
        ticket = ctx.tickets.get(ticket.number)  # a concurrent writer: read again, rebuild
        if ticket is None:
            raise RuntimeError(f"ticket #{entry.ticket_number} was deleted while storing a message")
    raise RuntimeError(f"ticket #{ticket.number} kept changing while recording a message")


def ticket_or_message(mail: InboundMail, ctx: PipelineContext) -> None:
    if mail.claim is None:
        _check_before_writing(mail, ctx)
        _claim(mail, ctx)  # a new ticket's or a reply's: the one index request of the mail
        if mail.outcome == MailOutcome.DUPLICATE:
            return
    if mail.claim is not None and mail.claim.get("new_ticket"):
        _store_new(mail, ctx)
    else:
        number = mail.claim["ticket"] if mail.claim else mail.thread.ticket_number
        cached = mail.matched_ticket
        ticket = cached if cached is not None and cached.number == number else ctx.tickets.get(number)
        if ticket is None:  # the referenced ticket was deleted: start afresh
            if not mail.claim.get("new_ticket"):
                mail.claim.update(new_ticket=True, ticket=new_ticket_number())
                ctx.index.update(mail.key, {"new_ticket": True, "ticket": mail.claim["ticket"]})
            _store_new(mail, ctx)
        else:
            _store_reply(mail, ticket, ctx)
    note_follow_up(mail, ctx)  # a new ticket the reopen window split off: noted on the old one
    if mail.outcome == MailOutcome.THREADED:
        matched_by = (mail.claim or {}).get("matched_by") or (mail.thread.matched_by if mail.thread else "")
        mail.reason = f"matched by {matched_by or 'index'}"
