"""Rule 1: a mail whose Message-ID was already processed only gets marked read.

The same mail delivered twice (two helpdesk mailboxes, a client's resend) carries the same
Message-ID, sender, subject and date. A mail without a Message-ID is keyed by a synthetic id
computed from its content (`content_key`), so its copies in two mailboxes are one mail too. Some scanners and bulk senders reuse one Message-ID for
different mails: when the stored fingerprint differs, the mail is new and gets its own key.

Nothing is read to learn that it does not exist (docs/storage-design.md): rule 6 claims the
mail's Message-ID (an insert; 409 = seen, the row judged here), a new ticket's and a reply's
alike, so that claim is the check. The index read is deferred (`mail.seen_deferred`) and
made only if rule 2 or 3 is about to stop the mail, so a claim left by an earlier run is still
finished rather than discarded. (A duplicate's attachments may be uploaded by rule 5 before
its claim finds it: their names are content-addressed, nothing is stored twice.)
"""
from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qs, urlsplit

from ..adapters.table_base import digest
from .context import InboundMail, MailOutcome, PipelineContext


def fingerprint(mail: InboundMail) -> str:
    parsed = mail.parsed
    date = parsed.date.isoformat() if parsed.date else ""
    return digest(f"{parsed.from_address}|{parsed.subject}|{date}", 24)


# Greedy to the end of the link, no backtracking: linear on any input; the query is parsed after.
_SAFE_LINK = re.compile(r"https?://[\w.-]*safelinks\.protection\.[\w.]+/[^\s<>\"']*", re.IGNORECASE)


def _original_link(match: re.Match) -> str:
    wrapped = parse_qs(urlsplit(match.group(0)).query).get("url")
    return wrapped[0] if wrapped else match.group(0)


def _unwrapped(text: str) -> str:
    """Defender's Safe Links wrap every link per recipient mailbox (the `data=` parameter
    names it): the copies in two mailboxes differ there alone. Each is the link it wraps."""
    return _SAFE_LINK.sub(_original_link, text)


def content_key(mail: InboundMail, ctx: PipelineContext) -> str:
    """The synthetic id of a mail without a Message-ID: from its content (sender, Date header,
    subject, the normalized text body with Safe Links unwrapped, the attachments' bytes), never
    from the mailbox or its Graph id, so the same mail delivered to two helpdesk mailboxes is one ticket. Without a
    Date header either, the content alone could merge a client's identical resends: such a
    mail keeps the per-mailbox Graph key."""
    parsed = mail.parsed
    if parsed.date is None:
        return graph_key(mail, ctx)
    body = " ".join(_unwrapped(parsed.text_body or "").split())
    parts = ",".join(sorted(hashlib.sha256(part.data).hexdigest() for part in parsed.parts))
    source = "|".join((parsed.from_address.lower(), parsed.date.isoformat(),
                       " ".join((parsed.subject or "").split()), digest(body, 32), parts))
    return f"content-{digest(source, 32)}@{ctx.settings.system_domain}"


def graph_key(mail: InboundMail, ctx: PipelineContext) -> str:
    return f"graph-{digest(mail.account.address + '/' + mail.graph_id, 32)}@{ctx.settings.system_domain}"


def judge(mail: InboundMail, row: dict | None) -> None:
    """What an index row found under the mail's key means: `done` = a duplicate; `claimed`
    = an earlier run stopped half-way (its claim is the work order)."""
    if row is None:
        return
    if row.get("state") == "done":
        mail.outcome = MailOutcome.DUPLICATE
        where = f" (ticket #{row['ticket']})" if row.get("ticket") else ""
        mail.reason = f"Message-ID {mail.key} was already processed{where}"
    else:
        mail.claim = dict(row)  # an earlier run stopped half-way: finish its work
        mail.resumed = True


def reused(mail: InboundMail, row: dict | None) -> bool:
    """The row belongs to a different mail carrying the same Message-ID."""
    return bool(row and row.get("fingerprint") and row["fingerprint"] != fingerprint(mail))


def check_seen(mail: InboundMail, ctx: PipelineContext) -> None:
    """The index read of rule 1 (one request; two for a reused Message-ID)."""
    mail.seen_deferred = False
    row = ctx.index.get(mail.key)
    if reused(mail, row):
        mail.key = graph_key(mail, ctx)  # a different mail reusing a Message-ID
        row = ctx.index.get(mail.key)
    judge(mail, row)


def check_deferred(mail: InboundMail, ctx: PipelineContext) -> bool:
    """Before a rule stops a mail whose read was deferred: True when the mail is a duplicate
    or the claim of an earlier run (then the rule must not decide its fate)."""
    if not mail.seen_deferred:
        return False
    check_seen(mail, ctx)
    return mail.outcome is not None or mail.claim is not None


def already_seen(mail: InboundMail, ctx: PipelineContext) -> None:
    mail.key = mail.parsed.message_id or content_key(mail, ctx)
    mail.seen_deferred = True
