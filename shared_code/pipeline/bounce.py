"""Rule 3a (just before rule 3): a bounce of a mail deskmail sent is a note on its ticket.

A delivery-status report or NDR (domain/autoreply.py's bounce rules) whose original - its
enclosed message or headers, else its In-Reply-To - carries one of our outbound Message-IDs
(`dm.<ticket>.<token>.…`, domain/notifications.py) is written onto that ticket as a note
naming the failed recipients and status codes; a permanent failure (5.x.x) marks the
address undeliverable, so the sender holds further notifications to it. The token must be
the ticket's own thread token, so a forged report naming a ticket number writes nothing.
The mail itself is discarded like any bounce (rule 3): no ticket, no reopening, no mail.
Runs before rule 3 so the bounce is still seen; a bounce that matches nothing falls through
to rule 3. The note's marker is keyed by the bounce's Message-ID: a refetch writes it once.
"""
from __future__ import annotations

import html
import secrets
from datetime import datetime, timezone

from ..adapters.table_base import digest
from ..adapters.ticket_store import Unit
from ..domain.autoreply import detect_auto_reply
from ..domain.bounces import note_text, parse_bounce
from ..domain.limits import MAX_SUBJECT_CHARS, clip_text
from ..domain.model import Entry, Party
from ..domain.telemetry import DiscardRule
from .already_seen import check_deferred
from .context import InboundMail, PipelineContext

#: the detector's bounce rules (domain/autoreply.py); an auto-reply is never a bounce here
BOUNCE_RULES = ("delivery-status-report", "mailer-daemon-sender", "x-failed-recipients",
                "exchange-ndr")


def bounce(mail: InboundMail, ctx: PipelineContext) -> None:
    if mail.claim is not None:
        return  # passed the bounce rules in the run that claimed it
    rule = detect_auto_reply(mail.parsed, ctx.settings.auto_reply_allowed_senders)
    if rule not in BOUNCE_RULES:
        return
    report = parse_bounce(mail.parsed)
    ours = report.ours()
    if ours is None:
        return  # not one of our mails: rule 3 discards it as before
    ticket = ctx.tickets.get(ours[0])
    if ticket is None or not ticket.thread_token or \
            not secrets.compare_digest(ticket.thread_token, ours[1]):
        return  # no such ticket, or a forged token: nothing is written
    if check_deferred(mail, ctx):
        return  # a duplicate, or an earlier run's claim to finish
    text = note_text(report, mail.account.address)
    now = datetime.now(timezone.utc)  # thread order; a replay finds the marker, not this id
    entry = Entry(
        ticket_number=ticket.number,
        entry_id=f"{now:%Y%m%dT%H%M%S%fZ}-{digest('bounce|' + mail.key, 12)}",
        type="note",
        sender=Party(mail.parsed.from_name or "Mail delivery", mail.parsed.from_address),
        message_id="",  # never in a mail's References
        date=now,
        subject=clip_text(f"Delivery failed: {ticket.subject}", MAX_SUBJECT_CHARS)[0],
        body_text=text,
        body_html="<p>" + html.escape(text).replace("\n", "<br>") + "</p>",
        source_account=mail.account.address,
        raw_blob=mail.raw_blob,
    )
    marker = (f"{digest('bounce|' + mail.key, 32)}@bounce.deskmail.invalid",
              {"kind": "bounce", "entry_id": entry.entry_id})
    ctx.tickets.write(Unit(ticket=ticket, write_ticket=False, entry=entry, marker=marker))
    for failure in report.failures:
        if failure.permanent and ctx.undeliverable is not None:
            ctx.undeliverable.mark(failure.recipient, failure.status, ticket.number,
                                   failure.diagnostic)
    failed = ", ".join(f"{f.recipient} {f.status}" for f in report.failures) or "no recipient named"
    ctx.syslog.write("warning", "Bounce noted",
                     f"a bounce of a mail of ticket #{ticket.number} ({failed}) was added to "
                     "it as a note", account=mail.account.address)
    mail.outcome, mail.discard_rule = "discarded", DiscardRule.AUTO_REPLY
    mail.reason = f"bounce of a mail of ticket #{ticket.number}: noted on the ticket ({failed})"
    mail.rule = "bounce-noted"
