"""Rule 1: a mail whose Message-ID was already processed only gets marked read."""
from __future__ import annotations

from ..adapters.tables import digest
from .context import InboundMail, PipelineContext


def message_key(mail: InboundMail, ctx: PipelineContext) -> str:
    """The Message-ID, or for a mail without one an id derived from its Graph id."""
    if mail.parsed.message_id:
        return mail.parsed.message_id
    return f"graph-{digest(mail.account.address + '/' + mail.graph_id, 32)}@{ctx.settings.system_domain}"


def already_seen(mail: InboundMail, ctx: PipelineContext) -> None:
    mail.key = message_key(mail, ctx)
    row = ctx.index.get(mail.key)
    if row is None:
        return
    if row.get("state") == "done":
        mail.outcome = "duplicate"
        where = f" (ticket #{row['ticket']})" if row.get("ticket") else ""
        mail.reason = f"Message-ID {mail.key} was already processed{where}"
    else:
        mail.claim = dict(row)  # an earlier run stopped half-way: finish its work
