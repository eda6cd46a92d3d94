"""The inbound pipeline: each fetched mail runs through these rules, in this order.

A rule is a small function `rule(mail, ctx)` that reads and enriches the
`InboundMail`; a rule that settles the mail's fate sets `mail.outcome`, and the
rules after it do not run. A new ticket's index claim stays `claimed`: the marker in the
ticket's partition says it is stored (pipeline/already_seen.py reads it).
"""
from __future__ import annotations

from .already_seen import already_seen
from .auto_reply import auto_reply
from .bounce import bounce
from .clipping import clipping
from .content import content
from .context import InboundMail, MailOutcome, PipelineContext
from .filters import filters
from .from_ourselves import from_ourselves
from .notifications import notifications
from .store import ticket_or_message
from .thread_match import thread_match

RULES = (
    clipping,           # 0. values cut to the storage limits; no sender address: discarded
    already_seen,       # 1. a Message-ID processed before: no second ticket, ever
    from_ourselves,     # 2. mail from the helpdesk's own addresses: loop guard
    filters,            # 2a. the admins' filters: discard, or settings for rules 3, 6, 7
    bounce,             # 3a. a bounce of our own mail: a note on its ticket, address marked
    auto_reply,         # 3. auto-replies and bounces: kept, logged, not posted
    thread_match,       # 4. In-Reply-To, References, then the [#NNNNNN] subject tag
    content,            # 5. bodies, sanitized HTML, cid images and attachments to Blob
    ticket_or_message,  # 6. a new ticket, or a message on the matched one
    notifications,      # 7. auto-response and staff alerts onto the outbound queue
)

__all__ = ["RULES", "InboundMail", "MailOutcome", "PipelineContext", "run_pipeline"]


def run_pipeline(mail: InboundMail, ctx: PipelineContext) -> InboundMail:
    for rule in RULES:
        rule(mail, ctx)
        if mail.outcome is not None and mail.outcome not in (MailOutcome.CREATED,
                                                             MailOutcome.THREADED):
            return mail
    return mail
