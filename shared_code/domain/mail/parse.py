"""`parse_mail`, the entry point: raw bytes in, a ParsedMail out, never an exception. When the
MIME structure cannot be read it falls back to the headers alone, then to the raw text."""
from __future__ import annotations

import codecs
import re
from email.message import Message

from .addresses import _message_ids, _parse_addresses, _parse_date, normalize_message_id
from .charsets import decode_bytes
from .headers import _message_from_bytes, _param, _raw_headers, decode_header_value
from .html_text import html_to_text
from .mime_walk import _walk, _Walk
from .parsed import ParsedMail


MAX_CONTENT_TYPES = 5000  # more Content-Type headers than this is a MIME bomb: headers only
MAX_FALLBACK_TEXT = 1_000_000  # characters of raw body kept when MIME parsing is abandoned


def _as_bytes(raw: object, defects: list[str]) -> bytes:
    if isinstance(raw, (bytes, bytearray, memoryview)):
        data = bytes(raw)
    elif isinstance(raw, str):
        defects.append("input was text, not bytes")
        data = raw.encode("utf-8", "surrogateescape")
    else:
        defects.append(f"input was {type(raw).__name__}, not bytes")
        data = b""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    return data.lstrip(b"\r\n\t ")


def parse_mail(raw: bytes) -> ParsedMail:
    """Parse raw RFC 5322 bytes into a ParsedMail. Never raises: problems go to `defects`."""
    defects: list[str] = []
    data = _as_bytes(raw, defects)
    if not data:
        defects.append("empty message")
    try:
        return _parse(data, defects)
    except Exception as exc:  # noqa: BLE001 - one broken mail must not stop the mailbox
        defects.append(f"MIME structure unreadable ({type(exc).__name__}): headers only")
        return _parse_headers_only(data, defects)


def _parse(data: bytes, defects: list[str]) -> ParsedMail:
    if sum(1 for _ in re.finditer(rb"(?im)^content-type[ \t]*:", data)) > MAX_CONTENT_TYPES:
        defects.append(f"more than {MAX_CONTENT_TYPES} MIME parts (MIME bomb?): headers only")
        return _parse_headers_only(data, defects)
    msg = _message_from_bytes(data)
    walk = _Walk(defects=defects)
    _walk(msg, 0, "", walk)
    if msg.get_content_type() == "multipart/report":
        walk.report_type = (_param(msg, "report-type") or "").strip().lower() or None
    return _build(msg, walk)


def _parse_headers_only(data: bytes, defects: list[str]) -> ParsedMail:
    """Last resort: the header block parsed alone, the rest kept as (truncated) text."""
    try:
        pieces = re.split(rb"\r?\n\r?\n", data, maxsplit=1)
        head, body = pieces[0], (pieces[1] if len(pieces) > 1 else b"")
        msg = _message_from_bytes(head + b"\n\n")
        walk = _Walk(defects=defects)
        walk.texts.append(decode_bytes(body[:MAX_FALLBACK_TEXT], None)[0].replace("\r\n", "\n"))
        return _build(msg, walk)
    except Exception as exc:  # noqa: BLE001
        defects.append(f"headers unreadable ({type(exc).__name__})")
        return _empty(data, defects)


def _empty(data: bytes, defects: list[str]) -> ParsedMail:
    text = decode_bytes(data[:MAX_FALLBACK_TEXT], None)[0]
    return ParsedMail(
        message_id=None, in_reply_to=[], references=[], subject="", from_name="", from_address="",
        to=[], cc=[], date=None, headers={}, content_type="text/plain", report_type=None,
        text_body=text, html_body=None, defects=defects,
    )


def _build(msg: Message, walk: _Walk) -> ParsedMail:
    """Assemble the ParsedMail from the top-level headers and the walk's bodies and parts."""
    raw = _raw_headers(msg)
    headers: dict[str, list[str]] = {}
    for name, value in raw:
        headers.setdefault(name, []).append(decode_header_value(value))
    first = {}
    for name, value in raw:
        first.setdefault(name, value)
    sender = _parse_addresses(first.get("from") or first.get("sender") or "")
    html_body = "\n".join(walk.htmls) if walk.htmls else None
    text_body = "\n".join(walk.texts).strip("\n")
    text_from_html = not walk.texts and html_body is not None
    if text_from_html:
        text_body = html_to_text(html_body)
    return ParsedMail(
        message_id=normalize_message_id(first.get("message-id")),
        in_reply_to=_message_ids(first.get("in-reply-to", "")),
        references=_message_ids(" ".join(v for k, v in raw if k == "references")),
        subject=(headers.get("subject") or [""])[0],
        from_name=sender[0][0] if sender else "",
        from_address=sender[0][1] if sender else "",
        to=[pair for k, v in raw if k == "to" for pair in _parse_addresses(v)],
        cc=[pair for k, v in raw if k == "cc" for pair in _parse_addresses(v)],
        date=_parse_date(first.get("date")),
        headers=headers,
        content_type=msg.get_content_type(),
        report_type=walk.report_type,
        text_body=text_body,
        html_body=html_body,
        parts=walk.parts,
        defects=walk.defects,
        text_from_html=text_from_html,
    )
