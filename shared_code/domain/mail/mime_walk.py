"""The walk over the MIME tree: which leaf is the text or HTML body and which becomes an
attachment or inline image, how nameless parts are named, and the limits on depth and part
count that keep a hostile mail from blocking the mailbox. Problems become defects."""
from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass, field
from email.message import Message

from ..untrusted import clean_filename
from .addresses import normalize_message_id
from .charsets import decode_bytes
from .headers import _message_from_bytes, _param, _raw_header, decode_header_value, decode_rfc2047
from .parsed import MailPart
from .payload import _decode_text_part, _payload_bytes, _raw_payload
from .tnef import is_tnef, unpack


MAX_DEPTH = 20  # nesting of multiparts; real mail rarely exceeds 6
MAX_PARTS = 500  # leaf parts walked; the rest is ignored with a defect


_MIME_TYPES = mimetypes.MimeTypes()  # built-in table only: same answer on every machine

_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/pjpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/bmp": ".bmp",
    "image/webp": ".webp",
    "image/tiff": ".tif",
    "image/svg+xml": ".svg",
    "text/plain": ".txt",
    "text/html": ".html",
    "text/calendar": ".ics",
    "text/rfc822-headers": ".txt",
    "message/rfc822": ".eml",
    "message/global": ".eml",
    "message/delivery-status": ".txt",
    "message/global-delivery-status": ".txt",
    "message/disposition-notification": ".txt",
    "message/feedback-report": ".txt",
    "application/pdf": ".pdf",
    "application/zip": ".zip",
    "application/octet-stream": ".bin",
}


@dataclass
class _Walk:
    """State of one walk over the MIME tree."""

    texts: list[str] = field(default_factory=list)
    htmls: list[str] = field(default_factory=list)
    parts: list[MailPart] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    report_type: str | None = None
    visited: int = 0
    images: int = 0
    others: int = 0
    rtf_inflated: bool = False  # one TNEF RTF body per mail: inflating costs CPU

    def defect(self, text: str) -> None:
        if text not in self.defects:
            self.defects.append(text)


def _walk(part: Message, depth: int, parent: str, walk: _Walk) -> None:
    """Visit one node: multiparts recurse (bounded), leaves become bodies or MailParts."""
    walk.visited += 1
    if walk.visited > MAX_PARTS:
        walk.defect(f"more than {MAX_PARTS} MIME parts: the rest was ignored")
        return
    if depth > MAX_DEPTH:
        walk.defect(f"MIME nesting deeper than {MAX_DEPTH}: inner parts ignored")
        return
    for defect in getattr(part, "defects", []):
        walk.defect(f"MIME: {type(defect).__name__} in {part.get_content_type()}")
    ctype = part.get_content_type()
    if part.get_content_maintype() != "multipart":
        try:
            _leaf(part, ctype, parent, walk)
        except Exception as exc:  # noqa: BLE001 - one unreadable part must not lose the others
            walk.defect(f"unreadable {ctype} part skipped ({type(exc).__name__}: {exc})")
        return
    if ctype == "multipart/report" and walk.report_type is None:
        walk.report_type = (_param(part, "report-type") or "").strip().lower() or None
    payload = part.get_payload()
    if isinstance(payload, list):
        for child in payload:
            _walk(child, depth + 1, ctype, walk)
    else:
        _recover_multipart(part, ctype, depth, walk)


def _recover_multipart(part: Message, ctype: str, depth: int, walk: _Walk) -> None:
    """A multipart whose boundary is missing or wrong: guess it from the body, else use as text."""
    body = _raw_payload(part)
    match = re.search(rb"^--([^\s\"]{1,100})[ \t]*\r?$", body, re.M)
    if match:
        boundary = match.group(1)
        if boundary.endswith(b"--"):
            boundary = boundary[:-2]
        header = b"Content-Type: " + ctype.encode() + b'; boundary="' + boundary + b'"\n\n'
        rebuilt = _message_from_bytes(header + body)
        if isinstance(rebuilt.get_payload(), list):
            walk.defect(f"{ctype} boundary missing or wrong: guessed {boundary.decode('ascii', 'replace')!r}")
            for child in rebuilt.get_payload():
                _walk(child, depth + 1, ctype, walk)
            return
    walk.defect(f"{ctype} without readable parts: body used as text")
    walk.texts.append(decode_bytes(body, None)[0].replace("\r\n", "\n"))


def _disposition(part: Message) -> str:
    value = _raw_header(part, "content-disposition") or ""
    return value.split(";", 1)[0].strip().lower()


def _filename(part: Message) -> str | None:
    """Filename from Content-Disposition or Content-Type name: RFC 2231 or RFC 2047, without
    path, controls or bidirectional overrides (see untrusted.clean_filename)."""
    name = _param(part, "filename", "content-disposition") or _param(part, "name")
    if not name:
        return None
    return clean_filename(decode_rfc2047(name))[:255] or None


def _leaf(part: Message, ctype: str, parent: str, walk: _Walk) -> None:
    """A leaf becomes the text or HTML body when it is one, else a MailPart."""
    disposition = _disposition(part)
    filename = _filename(part)
    is_attachment = disposition == "attachment" or filename is not None
    if ctype in ("text/plain", "text/html") and not is_attachment:
        bodies = walk.texts if ctype == "text/plain" else walk.htmls
        if not bodies or parent != "multipart/alternative":
            bodies.append(_decode_text_part(part, walk))
            return
    mail_part = _mail_part(part, ctype, filename, disposition, walk)
    if is_tnef(ctype, filename) and _unpack_tnef(mail_part, walk):
        return
    walk.parts.append(mail_part)


def _unpack_tnef(part: MailPart, walk: _Walk) -> bool:
    """Replace a winmail.dat by the files and body inside it; False (original kept, defect
    logged) when it cannot be read."""
    try:
        content = unpack(part.data, inflate_rtf=not walk.rtf_inflated)
    except Exception as exc:  # noqa: BLE001 - TnefError or worse: the original file is kept
        walk.defect(f"TNEF {part.filename} unreadable ({exc}): kept as it is")
        return False
    for text in content.defects:
        walk.defect(text)
    if content.text and not walk.texts:
        walk.texts.append(content.text.replace("\r\n", "\n"))
    if content.html and not walk.htmls:
        walk.htmls.append(content.html)
    walk.rtf_inflated = walk.rtf_inflated or content.rtf is not None
    if content.rtf and not (content.text or content.html):
        walk.parts.append(MailPart(filename="message.rtf", content_type="application/rtf", data=content.rtf))
    for item in content.files:
        name = clean_filename(item.name)[:255]
        ctype = item.content_type or _MIME_TYPES.guess_type(name or "x.bin")[0] or "application/octet-stream"
        if not name:
            walk.others += 1
            name = f"attachment-{walk.others}{_extension(ctype)}"
        walk.parts.append(MailPart(filename=name, content_type=ctype, data=item.data))
    return True


def _mail_part(part: Message, ctype: str, filename: str | None, disposition: str, walk: _Walk) -> MailPart:
    data = _payload_bytes(part, walk)
    content_id = normalize_message_id(_raw_header(part, "content-id"))
    if not filename:
        filename = _generated_name(part, ctype, walk)
    elif ctype in ("message/rfc822", "message/global") and not filename.lower().endswith(".eml"):
        filename += ".eml"
    shown_inline = content_id is not None or (disposition == "inline" and ctype.startswith("image/"))
    inline = disposition != "attachment" and shown_inline
    return MailPart(filename=filename, content_type=ctype, data=data, content_id=content_id, inline=inline)


def _extension(ctype: str) -> str:
    return _EXTENSIONS.get(ctype) or _MIME_TYPES.guess_extension(ctype) or ".bin"


def _generated_name(part: Message, ctype: str, walk: _Walk) -> str:
    """A readable name for a nameless part: image001.png, winmail.dat, <subject>.eml, attachment-1.bin."""
    if ctype == "application/ms-tnef":
        return "winmail.dat"
    if ctype.startswith("image/"):
        walk.images += 1
        return f"image{walk.images:03d}{_extension(ctype)}"
    walk.others += 1
    if ctype in ("message/rfc822", "message/global"):
        inner = part.get_payload()
        attached = inner[0] if isinstance(inner, list) and inner else None
        subject = decode_header_value(_raw_header(attached, "subject") or "") if attached is not None else ""
        safe = re.sub(r"[^\w .,()\[\]#&+-]", "_", subject).strip(" .")[:80]
        if safe:
            return f"{safe}.eml"
    return f"attachment-{walk.others}{_extension(ctype)}"
