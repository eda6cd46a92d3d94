"""Derive Graph message properties from raw MIME with the stdlib email package (never raises)."""
from __future__ import annotations

import base64
import hashlib
import html
import re
from datetime import datetime, timezone
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.utils import getaddresses, parsedate_to_datetime


def _compat(raw: bytes) -> Message:
    return message_from_bytes(raw, policy=policy.compat32)


def _decoded(value: str | None) -> str:
    if value is None:
        return ""
    try:
        return str(make_header(decode_header(value)))
    except Exception:
        return str(value)


def _header(modern: EmailMessage | None, legacy: Message, name: str) -> str | None:
    if modern is not None:
        try:
            value = modern[name]
            return None if value is None else " ".join(str(value).split())
        except Exception:
            pass
    value = legacy.get(name)
    return None if value is None else " ".join(_decoded(value).split())


def _recipients(modern: EmailMessage | None, legacy: Message, name: str) -> list[dict]:
    pairs: list[tuple[str, str]] = []
    try:
        header = modern[name] if modern is not None else None
        if header is not None:
            pairs = [(a.display_name, a.addr_spec) for a in header.addresses]
    except Exception:
        pairs = []
    if not pairs:
        pairs = [(_decoded(n), a) for n, a in getaddresses(legacy.get_all(name, []))]
    return [{"emailAddress": {"name": display or addr, "address": addr}}
            for display, addr in pairs if addr and "@" in addr]


def _body(modern: EmailMessage | None) -> tuple[str, str, str]:
    """(contentType, content, plain text) of the body Outlook would show."""
    if modern is None:
        return "text", "", ""
    html_text = plain_text = None
    try:
        part = modern.get_body(preferencelist=("html",))
        html_text = part.get_content() if part is not None else None
    except Exception:
        html_text = None
    try:
        part = modern.get_body(preferencelist=("plain",))
        plain_text = part.get_content() if part is not None else None
    except Exception:
        plain_text = None
    if html_text is not None:
        text = plain_text if plain_text is not None else html.unescape(
            re.sub(r"<[^>]*>", " ", html_text))
        return "html", html_text, text
    return "text", plain_text or "", plain_text or ""


def _has_attachments(legacy: Message) -> bool:
    try:
        return any(part.get_content_disposition() == "attachment" for part in legacy.walk())
    except Exception:
        return False


def parse_mime(raw: bytes) -> dict:
    """Properties of a Graph message derivable from its MIME."""
    legacy = _compat(raw)
    try:
        modern = message_from_bytes(raw, policy=policy.default)
    except Exception:
        modern = None
    sent = None
    try:
        date = legacy.get("Date")
        sent = parsedate_to_datetime(date) if date else None
        if sent is not None and sent.tzinfo is None:
            sent = sent.replace(tzinfo=timezone.utc)
    except Exception:
        sent = None
    message_id = (_header(None, legacy, "Message-ID") or "").strip() or None
    references = ((legacy.get("References") or "").split()
                  or (legacy.get("In-Reply-To") or "").split())
    thread_root = references[0] if references else message_id or base64.b64encode(raw[:64]).decode()
    content_type, content, text = _body(modern)
    senders = _recipients(modern, legacy, "From")
    return {
        "subject": _header(modern, legacy, "Subject") or "",
        "from": senders[0] if senders else None,
        "sender": (_recipients(modern, legacy, "Sender") or senders or [None])[0],
        "toRecipients": _recipients(modern, legacy, "To"),
        "ccRecipients": _recipients(modern, legacy, "Cc"),
        "bccRecipients": _recipients(modern, legacy, "Bcc"),
        "replyTo": _recipients(modern, legacy, "Reply-To"),
        "internetMessageId": message_id,
        "sentDateTime": sent.astimezone(timezone.utc) if sent else None,
        "hasAttachments": _has_attachments(legacy),
        "body": {"contentType": content_type, "content": content},
        "text": text,
        "bodyPreview": " ".join(text.split())[:255],
        "conversationId": "AAQk" + base64.urlsafe_b64encode(
            hashlib.sha256(thread_root.encode("utf-8", "replace")).digest()[:30]).decode(),
        "internetMessageHeaders": [{"name": k, "value": _decoded(v)} for k, v in legacy.items()],
    }


def mime_from_graph_json(message: dict, sender: str) -> bytes:
    """RFC 5322 bytes for the JSON form of sendMail (a small subset of Graph's conversion)."""
    out = EmailMessage()

    def addresses(key: str) -> str:
        return ", ".join((r.get("emailAddress") or {}).get("address", "")
                         for r in message.get(key) or [])

    out["From"] = sender
    for key, header in (("toRecipients", "To"), ("ccRecipients", "Cc"),
                        ("bccRecipients", "Bcc"), ("replyTo", "Reply-To")):
        if message.get(key):
            out[header] = addresses(key)
    out["Subject"] = message.get("subject", "")
    out["Date"] = datetime.now(timezone.utc)
    for item in message.get("internetMessageHeaders") or []:
        out[item["name"]] = item["value"]
    body = message.get("body") or {}
    subtype = "html" if str(body.get("contentType", "text")).lower() == "html" else "plain"
    out.set_content(body.get("content", ""), subtype=subtype)
    return out.as_bytes(policy=policy.SMTP)


def with_attachments(raw: bytes, files: list[tuple[str, str, bytes]]) -> bytes:
    """The MIME Exchange sends for a draft plus attachments: the draft made multipart/mixed,
    each file a base64 part (what a draft + upload session turns into)."""
    msg = message_from_bytes(raw, policy=policy.SMTP)
    for name, content_type, data in files:
        maintype, _, subtype = content_type.partition("/")
        msg.add_attachment(data, maintype=maintype or "application", subtype=subtype or "octet-stream",
                           filename=name)
    return msg.as_bytes()
