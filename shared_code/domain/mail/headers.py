"""Header access and decoding: RFC 2047 encoded-words (also malformed ones), unfolding, 8-bit
bytes in headers, MIME parameters, and the bounded stdlib parser that reads them."""
from __future__ import annotations

import base64
import binascii
import re
from email import message_from_bytes
from email.header import Header
from email.message import Message
from email.policy import compat32

from .charsets import _clean_text, decode_bytes

MAX_PARAMETER_HEADER = 2048  # Content-Type / -Disposition characters given to the stdlib parser


class _BoundedMessage(Message):
    """compat32 Message whose Content-Type / Content-Disposition values are cut to a sane length
    before the stdlib parameter parser sees them: that parser is quadratic in the value's length
    (a 40 kB hostile header takes seconds), and the feed parser calls it for every boundary."""

    def get(self, name, failobj=None):
        value = super().get(name, failobj)
        if value is not failobj and name.lower() in ("content-type", "content-disposition"):
            text = str(value)
            if len(text) > MAX_PARAMETER_HEADER:
                return text[:MAX_PARAMETER_HEADER]
        return value


def _message_from_bytes(data: bytes) -> Message:
    return message_from_bytes(data, _class=_BoundedMessage, policy=compat32)


_ENCODED_WORD = re.compile(
    r"=\?(?P<charset>[^?\s]{1,64})\?(?P<enc>[qQbB])\?(?P<text>[^?]*)(?:\?=|(?=\s|$))"
)


def _str_to_bytes(value: str) -> bytes:
    """Recover the original bytes of a value the email package decoded with surrogateescape."""
    return value.encode("utf-8", "surrogateescape")


def _decode_b(text: str) -> bytes:
    """Base64 that tolerates missing padding, stray characters and URL-safe letters."""
    clean = re.sub(r"[^A-Za-z0-9+/]", "", text.replace("-", "+").replace("_", "/"))
    if len(clean) % 4 == 1:
        clean = clean[:-1]
    try:
        return base64.b64decode(clean + "=" * (-len(clean) % 4))
    except (binascii.Error, ValueError):
        return b""


def _decode_q(text: str) -> bytes:
    data = text.replace("_", " ").encode("utf-8", "surrogateescape")
    return re.sub(rb"=([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), data)


def decode_rfc2047(text: str) -> str:
    """Decode RFC 2047 encoded-words, also malformed ones (no separating space, missing ?=).

    Adjacent words in one charset are decoded together, because mailers split multi-byte
    characters across words; whitespace between encoded-words is dropped as the RFC says.
    """
    if "=?" not in text:
        return text
    out: list[str] = []
    pending: list[tuple[str, bytes]] = []
    pos = 0
    for match in _ENCODED_WORD.finditer(text):
        between = text[pos:match.start()]
        if between and (not pending or between.strip()):
            _flush_words(pending, out)
            out.append(between)
        charset = match.group("charset").split("*", 1)[0]
        raw = _decode_b(match.group("text")) if match.group("enc") in "bB" else _decode_q(match.group("text"))
        if pending and pending[-1][0].lower() == charset.lower():
            pending[-1] = (charset, pending[-1][1] + raw)
        else:
            pending.append((charset, raw))
        pos = match.end()
    _flush_words(pending, out)
    out.append(text[pos:])
    return "".join(out)


def _flush_words(pending: list[tuple[str, bytes]], out: list[str]) -> None:
    for charset, raw in pending:
        out.append(decode_bytes(raw, charset)[0])
    pending.clear()


def _unfold(value: str) -> str:
    return re.sub(r"\r?\n|\r", "", value)


def decode_header_value(value: object) -> str:
    """A raw header value as text: 8-bit bytes decoded, unfolded, RFC 2047 decoded, one line."""
    if isinstance(value, Header):
        value = str(value)
    text = _unfold(str(value if value is not None else ""))
    if re.search("[\udc80-\udcff]", text):
        text = decode_bytes(_str_to_bytes(text), None)[0]
    text = decode_rfc2047(text)
    return _clean_text(re.sub(r"[\r\n\t]", " ", text)).strip()


def _raw_headers(part: Message) -> list[tuple[str, str]]:
    """Header (name, value) pairs as stored, undecoded; unfolded text with 8-bit bytes decoded."""
    result = []
    for name, value in part.raw_items():
        text = _unfold(str(value))
        if re.search("[\udc80-\udcff]", text):
            text = decode_bytes(_str_to_bytes(text), None)[0]
        result.append((str(name).strip().lower(), text))
    return result


def _raw_header(part: Message, name: str) -> str | None:
    for key, value in _raw_headers(part):
        if key == name:
            return value
    return None


def _param(part: Message, name: str, header: str = "content-type") -> str | None:
    try:
        value = part.get_param(name, header=header)
    except Exception:  # noqa: BLE001 - malformed parameters
        return None
    if value is None:
        return None
    if isinstance(value, tuple):
        charset, _, text = value
        return decode_bytes(bytes(text, "raw-unicode-escape"), charset or "utf-8")[0]
    return decode_header_value(value)
