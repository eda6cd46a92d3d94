"""Rule 6: a new ticket, or a message appended to the matched ticket.

Crash safety: before writing anything, the mail claims its Message-ID in the index
with the ticket number and entry id it will become. Every write after that is
idempotent (same keys, same values), so a run that dies half-way is finished by the
next run, never doubled. Ticket numbers are random six-digit numbers whose
uniqueness the store enforces (insert fails on a taken number; we draw again).
"""
from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from ..adapters.tables import digest
from ..domain.model import Entry, Party, Status, Ticket
from .already_seen import fingerprint
from .context import InboundMail, PipelineContext
from .notifications import plan_notifications
from .sender import from_staff

MAX_NUMBER_DRAWS = 20


def new_ticket_number() -> str:
    return str(100000 + secrets.randbelow(900000))


def _entry_id(mail: InboundMail) -> str:
    """Sorts in thread order: by claim time (Graph's received time has whole seconds only),
    fixed by the claim so a replay reuses it."""
    when = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{when}-{digest(mail.key, 12)}"


def _claim(mail: InboundMail, ctx: PipelineContext) -> None:
    if mail.claim is not None:
        return
    fields = {"entry_id": _entry_id(mail), "graph_id": mail.graph_id,
              "account": mail.account.address, "direction": "inbound",
              "fingerprint": fingerprint(mail)}
    if mail.thread:
        fields.update(ticket=mail.thread.ticket_number, new_ticket=False,
                      matched_by=mail.thread.matched_by)
    else:
        fields.update(ticket=new_ticket_number(), new_ticket=True, matched_by="")
    existing = ctx.index.claim(mail.key, fields)
    mail.claim = fields if existing is None else dict(existing)
    mail.resumed = existing is not None


def _new_ticket(mail: InboundMail, number: str, ctx: PipelineContext) -> Ticket:
    """The ticket this mail starts, from its (already clipped, rule 0) values."""
    parsed, account = mail.parsed, mail.account
    cc = [addr for _, addr in parsed.cc + parsed.to
          if addr and addr != parsed.from_address and addr not in ctx.system_addresses]
    return Ticket(
        number=number,
        subject=parsed.subject.strip() or "(no subject)",
        status=Status.OPEN,
        priority=account.priority,
        department=account.department,
        client=Party(parsed.from_name, parsed.from_address),
        created=mail.received,
        account=account.address,
        collaborators=sorted(set(cc)),
        source_key=mail.key,
    )


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
    ticket, entry and client entities against Table Storage's limits, and the notifications planned
    from the same values (rule 7 plans them again for real). A failure here leaves nothing
    stored, never a ticket without its alert or a claim stuck at "claimed"."""
    probe = replace(mail, outcome="created", ticket=_new_ticket(mail, "100000", ctx))
    probe.entry = _new_entry(mail, "100000", _entry_id(mail), "message")
    ctx.tickets.check(ticket=probe.ticket, entry=probe.entry, client=probe.ticket.client)
    plan_notifications(probe, ctx)


def _entry_date(mail: InboundMail) -> datetime:
    """The sender's Date header when it is plausible, else when the mailbox received it
    (a forged or broken date must not move SLA clocks, and Table Storage refuses years < 1601)."""
    date = mail.parsed.date
    if date is None or date.year < 1970 or date > mail.received + timedelta(days=1):
        return mail.received
    return date


def _record_message(ticket: Ticket, entry: Entry, received: datetime,
                    ctx: PipelineContext) -> Ticket:
    """Count the message, point the last-message fields at it when it is the newest, and
    reopen the ticket; replay-safe, because the count is read from the thread itself."""
    for _ in range(10):
        count = ctx.tickets.count_messages(ticket.number)
        newest = entry.entry_id > (ticket.last_message_entry or "")
        if not newest and ticket.message_count == count:
            return ticket  # already recorded (a replay)
        if newest:
            ticket.last_message_at = received  # the mailbox's clock, not the sender's
            ticket.last_message_id = entry.message_id
            ticket.last_message_entry = entry.entry_id
            if ticket.status == Status.CLOSED:
                ticket.status = Status.OPEN
        ticket.message_count = count
        if entry.sender.email and entry.sender.email not in (
            [ticket.client.email] + ticket.collaborators
        ):
            ticket.collaborators.append(entry.sender.email)
        if ctx.tickets.update(ticket):
            return ticket
        ticket = ctx.tickets.get(ticket.number)
    raise RuntimeError(f"ticket #{ticket.number} kept changing while recording a message")


def ticket_or_message(mail: InboundMail, ctx: PipelineContext) -> None:
    if mail.claim is None:
        _check_before_writing(mail, ctx)
    _claim(mail, ctx)
    parsed = mail.parsed
    if mail.claim.get("new_ticket"):
        ticket = _create_ticket(mail, ctx)
        mail.outcome = "created"
    else:
        ticket = ctx.tickets.get(mail.claim["ticket"])
        if ticket is None:  # the referenced ticket was deleted: start afresh
            mail.claim.update(new_ticket=True, ticket=new_ticket_number())
            ctx.index.update(mail.key, {"new_ticket": True, "ticket": mail.claim["ticket"]})
            ticket = _create_ticket(mail, ctx)
            mail.outcome = "created"
        else:
            mail.outcome = "threaded"
    sender = Party(parsed.from_name, parsed.from_address)
    # Staff answering an alert by mail write to colleagues, not to the client: an internal
    # note, which neither reopens the ticket, restarts its SLA clock nor alerts staff again.
    # Only a proven staff From counts (pipeline/sender.py); a forged one is a client mail.
    by_staff = mail.outcome == "threaded" and from_staff(mail, ctx)
    if sender.email and not by_staff:
        ctx.tickets.upsert_client(sender, mail.received)
    entry = _new_entry(mail, ticket.number, mail.claim["entry_id"], "note" if by_staff else "message")
    ctx.tickets.add_entry(entry)
    mail.ticket = ticket if by_staff else _record_message(ticket, entry, mail.received, ctx)
    ctx.checkpoint("ticket_written", mail.key)
    mail.entry = entry
    if mail.outcome == "threaded":
        mail.reason = f"matched by {mail.claim.get('matched_by') or 'index'}"
