"""Rule 5: bodies, sanitized HTML with cid images rewritten, attachments saved to Blob.

Files are stored content-addressed (by SHA-256) in the attachments container, so
a replay or the same logo in a hundred mails is stored once. The HTML and each Attachment
keep a host-free reference, `attachment:<sha256>/<name>` (domain/attachment_refs.py); views
turn it into a URL when they show the ticket.
"""
from __future__ import annotations

import hashlib

from ..adapters.names import ATTACHMENTS
from ..domain.attachment_refs import stable_reference
from ..domain.content import build_content
from ..domain.limits import clip_list
from ..domain.mail import MailPart
from ..domain.model import Attachment
from .context import InboundMail, PipelineContext


def attachment_reference(part: MailPart) -> str:
    return stable_reference(hashlib.sha256(part.data).hexdigest(), part.filename)


def _save(part: MailPart, url: str, inline: bool, ctx: PipelineContext) -> Attachment:
    sha = url[len("attachment:"):].split("/", 1)[0]  # the reference carries the content hash
    ctx.blobs.put_once(ATTACHMENTS, sha, part.data, part.content_type or "application/octet-stream")
    return Attachment(
        name=part.filename,
        content_type=part.content_type,
        size=len(part.data),
        inline=inline,
        sha256=sha,
        url=url,
        content_id=part.content_id or "",
    )


def content(mail: InboundMail, ctx: PipelineContext) -> None:
    settings = ctx.settings
    urls: dict[int, str] = {}

    def url_for(part: MailPart) -> str:
        if id(part) not in urls:
            urls[id(part)] = attachment_reference(part)
        return urls[id(part)]

    mail.content = build_content(
        mail.parsed,
        url_for=url_for,
        separator=settings.reply_separator,
        is_reply=mail.thread is not None,
        max_attachment_bytes=settings.max_attachment_bytes,
        max_attachments=settings.max_attachments,
    )
    mail.attachments = [_save(part, url_for(part), True, ctx) for part in mail.content.inline] + [
        _save(part, url_for(part), False, ctx) for part in mail.content.attachments
    ]
    if mail.content.rejected:
        _log_rejected(mail, ctx)


def _log_rejected(mail: InboundMail, ctx: PipelineContext) -> None:
    """One system-log entry per mail, listing every attachment not stored (a mail with a
    thousand files must not write a thousand entries)."""
    listed, clipped = clip_list(mail.content.rejected)
    if clipped:
        mail.clipped.append("rejected_attachments")
    count = len(mail.content.rejected)
    ctx.syslog.write(
        "warning", "Attachment not stored",
        f"{count} attachment{'s' if count > 1 else ''} of mail {mail.key} in "
        f"{mail.account.address} not stored: " + "; ".join(listed),
        account=mail.account.address,
    )
