"""Rule 6's last step for a follow-up: the reopen window (pipeline/thread_match.py) made a
reply to an old closed ticket a new ticket; this notes that on the old ticket, so staff who
open it see where the client went on (the new ticket links back by `related_ticket`).

The note is written like a bounce note (pipeline/bounce.py): its own unit of work in the old
ticket's partition, without touching the ticket row (no reopening, no SLA change, no mail),
with a marker keyed by the mail, so a replay after a crash or the mail's copy in another
mailbox writes nothing twice.
"""
from __future__ import annotations

import html
from datetime import datetime, timezone

from ..adapters.table_base import digest
from ..adapters.ticket_store import Unit
from ..domain.limits import MAX_SUBJECT_CHARS, clip_text
from ..domain.model import Entry, Party
from .context import InboundMail, MailOutcome, PipelineContext


def note_follow_up(mail: InboundMail, ctx: PipelineContext) -> None:
    if not mail.related_ticket or mail.outcome != MailOutcome.CREATED or mail.ticket is None:
        return
    old = ctx.tickets.get(mail.related_ticket)
    if old is None:
        return
    parsed, now = mail.parsed, datetime.now(timezone.utc)  # thread order, like a bounce note
    text = (f"{parsed.from_address} answered this closed ticket more than "
            f"{ctx.settings.reopen_window_days} days after it was last active, with a new "
            f"subject ({parsed.subject!r}): it became ticket #{mail.ticket.number}.")
    entry = Entry(
        ticket_number=old.number,
        entry_id=f"{now:%Y%m%dT%H%M%S%fZ}-{digest('follow-up|' + mail.key, 12)}",
        type="note",
        sender=Party(parsed.from_name, parsed.from_address),
        message_id="",  # never in a mail's References
        date=now,
        subject=clip_text(f"Follow-up: #{mail.ticket.number}", MAX_SUBJECT_CHARS)[0],
        body_text=text,
        body_html=f"<p>{html.escape(text)}</p>",
        source_account=mail.account.address,
        raw_blob=mail.raw_blob,
    )
    marker = (f"{digest('follow-up|' + mail.key, 32)}@follow-up.deskmail.invalid",
              {"kind": "follow-up", "entry_id": entry.entry_id, "ticket": mail.ticket.number})
    ctx.tickets.write(Unit(ticket=old, write_ticket=False, entry=entry, marker=marker))
