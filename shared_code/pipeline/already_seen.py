"""Rule 1: a mail whose Message-ID was already processed only gets marked read.

The same mail delivered twice (two helpdesk mailboxes, a client's resend) carries the same
Message-ID, sender, subject and date. Some scanners and bulk senders reuse one Message-ID for
different mails: when the stored fingerprint differs, the mail is new and gets its own key.
"""
from __future__ import annotations

from ..adapters.tables import digest
from .context import InboundMail, PipelineContext


def fingerprint(mail: InboundMail) -> str:
    parsed = mail.parsed
    date = parsed.date.isoformat() if parsed.date else ""
    return digest(f"{parsed.from_address}|{parsed.subject}|{date}", 24)


def _graph_key(mail: InboundMail, ctx: PipelineContext) -> str:
    return f"graph-{digest(mail.account.address + '/' + mail.graph_id, 32)}@{ctx.settings.system_domain}"


def already_seen(mail: InboundMail, ctx: PipelineContext) -> None:
    mail.key = mail.parsed.message_id or _graph_key(mail, ctx)
    row = ctx.index.get(mail.key)
    if row is not None and row.get("fingerprint") and row["fingerprint"] != fingerprint(mail):
        mail.key = _graph_key(mail, ctx)  # a different mail reusing a Message-ID
        row = ctx.index.get(mail.key)
    if row is None:
        return
    if row.get("state") == "done":
        mail.outcome = "duplicate"
        where = f" (ticket #{row['ticket']})" if row.get("ticket") else ""
        mail.reason = f"Message-ID {mail.key} was already processed{where}"
    else:
        mail.claim = dict(row)  # an earlier run stopped half-way: finish its work
        mail.resumed = True
