"""A leaf part's body as bytes and as text: transfer encodings undone (also damaged ones),
attached messages serialized, text decoded by its charset and format=flowed joined."""
from __future__ import annotations

import base64
import binascii
import quopri
import re
from email.generator import BytesGenerator
from email.message import Message
from email.policy import compat32
from io import BytesIO
from typing import Protocol

from .charsets import _label_honoured, decode_bytes
from .headers import _decode_b, _param, _raw_header, _str_to_bytes

_GEN_POLICY = compat32.clone(max_line_length=None)


class _Defects(Protocol):
    """Where a damaged body is reported: the MIME walk's state (mime_walk._Walk)."""

    def defect(self, text: str) -> None: ...


def _transfer_decode(data: bytes, cte: str) -> tuple[bytes, bool]:
    """Undo Content-Transfer-Encoding; False when the encoded data was damaged."""
    if "base64" in cte:
        compact = re.sub(rb"\s+", b"", data)
        try:
            return base64.b64decode(compact, validate=True), True
        except (binascii.Error, ValueError):
            return _decode_b(compact.decode("ascii", "ignore")), False
    if "quoted-printable" in cte or cte == "qp":
        return quopri.decodestring(data), True
    return data, True


def _raw_payload(part: Message) -> bytes:
    """The undecoded body bytes. get_payload() would already 'replace' 8-bit bytes, so read them
    from the stored (surrogate-escaped) payload instead."""
    payload = part._payload  # noqa: SLF001 - the only lossless access in compat32
    return _str_to_bytes(payload) if isinstance(payload, str) else b""


def _payload_bytes(part: Message, walk: _Defects) -> bytes:
    """The decoded bytes of a leaf part."""
    if isinstance(part.get_payload(), list):
        return _serialize_body(part)
    data = _raw_payload(part)
    cte = (_raw_header(part, "content-transfer-encoding") or "").strip().lower()
    if "uu" in cte:
        decoded = part.get_payload(decode=True)
        return decoded if isinstance(decoded, bytes) else data
    decoded, ok = _transfer_decode(data, cte)
    if not ok:
        walk.defect(f"damaged {cte} data in {part.get_content_type()} part")
    return decoded


def _serialize(msg: Message) -> bytes:
    buffer = BytesIO()
    BytesGenerator(buffer, mangle_from_=False, policy=_GEN_POLICY).flatten(msg)
    return buffer.getvalue()


def _serialize_body(part: Message) -> bytes:
    """Body bytes of a message/* part: the attached message itself, or the report fields."""
    payload = part.get_payload()
    if part.get_content_type() in ("message/rfc822", "message/global") and len(payload) == 1:
        inner = _serialize(payload[0])
        cte = (_raw_header(part, "content-transfer-encoding") or "").lower()
        if "base64" in cte or "quoted-printable" in cte:  # illegal but seen: encoded message
            decoded, ok = _transfer_decode(inner.lstrip(b"\r\n"), cte)
            if ok and b":" in decoded[:1000]:
                return decoded
        return inner
    return b"".join(_serialize(block) for block in payload)


def _unflow(text: str, delsp: bool) -> str:
    """Join RFC 3676 format=flowed soft line breaks (a line ending in a space continues on the
    next line of the same quote depth); space-stuffing removed, quotes rendered as '> '."""
    out: list[str] = []
    buffer: str | None = None
    buffer_depth = 0
    for raw in text.split("\n"):
        line = raw.rstrip("\r")
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        content = content[1:] if content.startswith(" ") else content
        if buffer is not None and depth != buffer_depth:
            out.append(_quoted(buffer_depth, buffer))
            buffer = None
        flowed = content.endswith(" ") and content.rstrip() != "--"
        piece = content[:-1] if flowed and delsp else content
        buffer = piece if buffer is None else buffer + piece
        buffer_depth = depth
        if not flowed:
            out.append(_quoted(depth, buffer))
            buffer = None
    if buffer is not None:
        out.append(_quoted(buffer_depth, buffer))
    return "\n".join(out)


def _quoted(depth: int, line: str) -> str:
    """'> ' per quote level; an empty quoted line is just '>'."""
    return "> " * depth + line if line else ("> " * depth).rstrip()


def _decode_text_part(part: Message, walk: _Defects) -> str:
    data = _payload_bytes(part, walk)
    charset = _param(part, "charset")
    text, used = decode_bytes(data, charset)
    if re.search(rb"[\x80-\xff]", data) and not _label_honoured(charset, used):
        declared = f"declared charset {charset}" if charset else "no declared charset"
        walk.defect(f"{part.get_content_type()}: 8-bit text with {declared}, decoded as {used}")
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if (_param(part, "format") or "").lower() == "flowed":
        text = _unflow(text, (_param(part, "delsp") or "").lower() == "yes")
    return text
