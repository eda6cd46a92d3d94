"""An inbound mail as the domain sees it, parsed from raw MIME.

`parse_mail(raw)` never raises on malformed input: whatever it could not read is
listed in `defects`, so a broken mail still becomes a ticket or is quarantined
with a reason.
"""
from __future__ import annotations

import base64
import binascii
import codecs
import html
import mimetypes
import quopri
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email import message_from_bytes
from email.generator import BytesGenerator
from email.header import Header
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses, parsedate_tz
from io import BytesIO

from .untrusted import clean_filename


@dataclass
class MailPart:
    """A non-body MIME part: a regular attachment or an inline (cid / data:) image."""

    filename: str
    content_type: str
    data: bytes
    content_id: str | None = None  # without angle brackets
    inline: bool = False


@dataclass
class ParsedMail:
    message_id: str | None  # normalized: no angle brackets, stripped; None when absent
    in_reply_to: list[str]
    references: list[str]
    subject: str  # RFC 2047 decoded, unfolded
    from_name: str
    from_address: str  # lower-case, "" when unreadable
    to: list[tuple[str, str]]
    cc: list[tuple[str, str]]
    date: datetime | None  # timezone-aware
    headers: dict[str, list[str]]  # lower-case header name -> decoded values, in order
    content_type: str  # of the top-level part, lower-case, e.g. "multipart/report"
    report_type: str | None  # the report-type parameter of a multipart/report
    text_body: str
    html_body: str | None  # as sent (unsanitized); None when the mail has no HTML part
    parts: list[MailPart] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    text_from_html: bool = False  # text_body was derived from html_body (the mail had no text/plain)

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None


# --------------------------------------------------------------------------------------------
# Parsing. Everything below is tolerant by design: mail in the wild is often broken, and one
# unreadable mail must never block a mailbox. Problems are recorded in ParsedMail.defects.
# --------------------------------------------------------------------------------------------

MAX_DEPTH = 20  # nesting of multiparts; real mail rarely exceeds 6
MAX_PARTS = 500  # leaf parts walked; the rest is ignored with a defect
MAX_CONTENT_TYPES = 5000  # more Content-Type headers than this is a MIME bomb: headers only
MAX_FALLBACK_TEXT = 1_000_000  # characters of raw body kept when MIME parsing is abandoned
MAX_PARAMETER_HEADER = 2048  # Content-Type / -Disposition characters given to the stdlib parser
MAX_ADDRESS_HEADER = 100_000  # characters of an address header given to the stdlib parser

_GEN_POLICY = compat32.clone(max_line_length=None)
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

# Normalized charset label (lower-case, only [a-z0-9]) -> Python codec; None = "not declared".
_CHARSET_ALIASES: dict[str, str | None] = {
    "utf8": "utf-8", "uft8": "utf-8", "utf": "utf-8", "xutf8": "utf-8", "unicode11utf8": "utf-8",
    "utf7": "utf-7", "unicode11utf7": "utf-7", "xunicode20utf7": "utf-7",
    "utf16": "utf-16", "unicode": "utf-16", "ucs2": "utf-16",
    "ascii": "ascii", "usascii": "ascii", "us": "ascii", "ansix341968": "ascii", "iso646us": "ascii",
    "latin1": "cp1252", "l1": "cp1252", "iso88591": "cp1252", "iso885911987": "cp1252",
    "latin9": "iso8859_15", "iso885915": "iso8859_15",
    "ksc56011987": "cp949", "ksc5601": "cp949", "euckr": "cp949", "xwindows949": "cp949",
    "windows949": "cp949", "ksc56011989": "cp949", "uhc": "cp949",
    "gb2312": "gb18030", "gbk": "gb18030", "xgbk": "gb18030", "cngb": "gb18030", "euccn": "gb18030",
    "xeuccn": "gb18030", "gb231280": "gb18030", "csgb2312": "gb18030", "chinese": "gb18030",
    "cp936": "gb18030", "windows936": "gb18030",
    "big5": "big5hkscs", "cnbig5": "big5hkscs", "xxbig5": "big5hkscs", "cp950": "big5hkscs",
    "shiftjis": "cp932", "sjis": "cp932", "xsjis": "cp932", "windows31j": "cp932",
    "mskanji": "cp932", "csshiftjis": "cp932", "cp932": "cp932",
    "iso2022jp": "iso2022_jp", "csiso2022jp": "iso2022_jp",
    "eucjp": "euc_jp", "xeucjp": "euc_jp",
    "koi8r": "koi8_r", "koi8u": "koi8_u", "tis620": "cp874", "windows874": "cp874",
    "macintosh": "mac_roman", "xmacroman": "mac_roman",
    "xunknown": None, "unknown": None, "unknown8bit": None, "xuserdefined": None,
    "default": None, "charset": None, "none": None, "8bit": None, "binary": None, "": None,
}
# Supersets tried after the declared codec fails (still "the declared charset")...
_CODEC_SUPERSETS = {
    "iso2022_jp": ("iso2022_jp_ext", "iso2022_jp_2004", "iso2022_jp_3", "iso2022_jp_2"),
    "cp932": ("shift_jis_2004",),
    "euc_jp": ("euc_jis_2004",),
    "cp1252": ("latin-1",),
}
# ...then charsets commonly mislabelled as the declared one: Japanese mail labelled ISO-2022-JP
# is often really EUC-JP or Shift_JIS (or UTF-8).
_CODEC_CONFUSED = {
    "iso2022_jp": ("utf-8", "euc_jp", "cp932"),
    "cp932": ("utf-8", "euc_jp"),
    "euc_jp": ("utf-8", "cp932"),
}
_WINDOWS_CODEPAGES = {"949": "cp949", "932": "cp932", "936": "gb18030", "950": "big5hkscs"}
_WESTERN = {"ascii", "cp1252", "latin-1", "iso8859_15"}
_NOT_TEXT_CODECS = {"undefined", "unicode_escape", "raw_unicode_escape", "punycode", "idna", "mbcs"}


def normalize_charset(label: object) -> str | None:
    """Map a declared charset label (aliases, misspellings, junk) to a Python codec name, or None."""
    if isinstance(label, tuple):  # RFC 2231 charset*= form
        label = label[2] if len(label) == 3 else ""
    text = str(label or "").strip().strip("\"'").strip().lower()
    key = re.sub(r"[^a-z0-9]", "", text)
    if key in _CHARSET_ALIASES:
        return _CHARSET_ALIASES[key]
    match = re.fullmatch(r"x?(?:windows|win|cp|ms)(125\d|874|949|932|936|950)", key)
    if match:
        return _WINDOWS_CODEPAGES.get(match.group(1), f"cp{match.group(1)}")
    match = re.fullmatch(r"iso8859(\d{1,2})", key)
    if match:
        key = f"iso8859_{match.group(1)}"
    for candidate in (text, key):
        try:
            info = codecs.lookup(candidate)
        except (LookupError, ValueError, TypeError):
            continue
        if getattr(info, "_is_text_encoding", True) and info.name.replace("-", "_") not in _NOT_TEXT_CODECS:
            return info.name
    return None


def _codec_chain(charset: str | None, data: bytes) -> list[str]:
    """Codecs to try, in order: BOM, declared (+ supersets), utf-8, windows-1252, latin-1."""
    chain: list[str] = []
    if data.startswith(codecs.BOM_UTF8):
        chain.append("utf-8-sig")
    elif data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        chain.append("utf-16")
    if charset:
        if charset in _WESTERN or charset.replace("-", "_") in _WESTERN:
            chain.append("utf-8")  # valid UTF-8 in a Western-labelled body is UTF-8 mislabelled
        chain.append(charset)
        chain.extend(_CODEC_SUPERSETS.get(charset, ()))
        chain.extend(_CODEC_CONFUSED.get(charset, ()))
    chain.extend(["utf-8", "cp1252", "latin-1"])
    return list(dict.fromkeys(chain))


def decode_bytes(data: bytes, charset: object = None) -> tuple[str, str]:
    """Decode text whatever its declared, missing or wrong charset; returns (text, codec used)."""
    codec = normalize_charset(charset) if charset is not None else None
    for name in _codec_chain(codec, data):
        try:
            return _clean_text(data.decode(name)), name
        except (UnicodeError, LookupError, ValueError):
            continue
    return _clean_text(data.decode("latin-1", "replace")), "latin-1"


def _label_honoured(declared: object, used: str) -> bool:
    """Whether decoding used the declared charset (or a superset, or a BOM)."""
    codec = normalize_charset(declared) if declared is not None else None
    if codec is None:
        return False
    return used in (codec, "utf-8-sig", "utf-16") or used in _CODEC_SUPERSETS.get(codec, ()) or (
        codec in _WESTERN and used == "utf-8"
    )


def _clean_text(text: str) -> str:
    """Drop NULs and lone surrogates (UTF-7/UTF-16 can produce them): storage rejects both."""
    text = text.replace("\x00", "")
    if re.search("[\ud800-\udfff]", text):
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


# --- headers --------------------------------------------------------------------------------


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


def normalize_message_id(value: str | None) -> str | None:
    """'<abc@host>' -> 'abc@host'; whitespace removed; None when empty."""
    ids = _message_ids(value or "")
    if ids:
        return ids[0]
    text = re.sub(r"\s+", "", re.sub(r"\([^()]*\)", "", value or "")).strip("<>")
    return text or None


def _message_ids(value: str) -> list[str]:
    """All message ids in a References / In-Reply-To value: bracketed, comma-separated or bare
    (bare ones need an '@'). Comments are dropped."""
    text = re.sub(r"\([^()]*\)", " ", value)
    found = []
    for match in re.finditer(r"<([^<>]*)>|[^\s,<>;]+", text):
        if match.group(1) is not None:
            ident = re.sub(r"\s+", "", match.group(1))
        else:
            ident = match.group(0) if "@" in match.group(0).strip("@") else ""
        if ident:
            found.append(ident)
    return list(dict.fromkeys(found))


def _parse_addresses(raw: str) -> list[tuple[str, str]]:
    """(display name, lower-case address) pairs; names RFC 2047 decoded; garbage skipped."""
    pairs = []
    raw = raw[:MAX_ADDRESS_HEADER]
    try:
        parsed = getaddresses([raw])
    except Exception:  # noqa: BLE001 - stdlib address parser on hostile input (RecursionError)
        parsed = []
    for name, address in parsed:
        address = address.strip().strip("<>").strip().lower()
        if "@" in address and " " not in address:
            pairs.append((decode_header_value(name).strip().strip('"').strip(), address))
    if not pairs:
        for token in re.findall(r"[^\s<>\"'(),;:]+", raw):
            local, _, domain = token.partition("@")
            if local and domain:
                pairs.append(("", token.lower().rstrip(".")))
                break
    return pairs


def _parse_date(value: str | None) -> datetime | None:
    """A timezone-aware datetime, UTC when the zone is missing; None when unreadable."""
    if not value:
        return None
    try:
        parts = parsedate_tz(value)
        if parts is None:
            return None
        offset = parts[9] or 0
        return datetime(*parts[:6], tzinfo=timezone(timedelta(seconds=offset)))
    except (ValueError, OverflowError, TypeError, IndexError):
        return None


# --- bodies -------------------------------------------------------------------------------


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


def _payload_bytes(part: Message, walk: "_Walk") -> bytes:
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


def _decode_text_part(part: Message, walk: "_Walk") -> str:
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


# --- HTML to text ---------------------------------------------------------------------------
#
# A small tokenizer instead of html.parser: HTMLParser in this Python is quadratic on input such
# as "<a<a<a..." (200 kB took over a minute), and mail HTML is hostile input. Every alternative
# below consumes at least one character and stops at the next "<", so tokenizing is linear.

_HTML_TOKEN = re.compile(
    r"(?P<comment><!--.*?(?:-->|\Z))"
    r"|(?P<decl><[!?][^<>]*>?)"
    r"|<(?P<end>/?)(?P<tag>[a-zA-Z][^\s/<>]*)(?P<attrs>(?:\"[^\"]*\"|'[^']*'|[^<>\"'])*)>?"
    r"|(?P<text>[^<]+|<)",
    re.S,
)
_RAW_TEXT = ("script", "style", "title", "textarea", "xmp")
_RAW_TEXT_END = {tag: re.compile(rf"</{tag}\s*>", re.I) for tag in _RAW_TEXT}


def iter_html(markup: str):
    """Yield (kind, value, attributes, offset) for each token of an HTML string, where kind is
    "start", "end" (value: lower-case tag name) or "text" (value: text with entities decoded).
    Comments and declarations are skipped; script/style/title content is one text token."""
    position, length = 0, len(markup)
    while position < length:
        match = _HTML_TOKEN.match(markup, position)
        if match.group("text") is not None:
            yield "text", html.unescape(match.group("text")), "", position
        elif match.group("tag") is not None:
            tag = match.group("tag").lower()
            if match.group("end"):
                yield "end", tag, "", position
            else:
                yield "start", tag, match.group("attrs"), position
                if tag in _RAW_TEXT:
                    closing = _RAW_TEXT_END[tag].search(markup, match.end())
                    stop = closing.start() if closing else length
                    yield "text", markup[match.end():stop], "", match.end()
                    position = stop
                    continue
        position = match.end()


_BLOCK = {
    "div", "tr", "li", "dt", "dd", "section", "article", "header", "footer", "address", "center",
    "form", "fieldset", "tbody", "thead", "tfoot", "caption", "hr", "pre",
}
_PARAGRAPH = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "ul", "ol", "dl"}
_SKIP = {"script", "style", "title", "xml", "template"}


class _TextExtractor:
    """Collects visible text: <br> breaks a line, block elements start a new line, paragraphs
    are separated by a blank line and blockquotes are rendered as '> ' quotes. The current line
    is a list of chunks, so long lines stay linear."""

    def __init__(self) -> None:
        self.lines: list[tuple[int, str]] = []
        self.chunks: list[str] = []
        self.has_text = False
        self.depth = 0
        self.line_depth = 0
        self.skip = 0
        self.pre = 0

    def hard_break(self) -> None:
        self.lines.append((self.line_depth, "".join(self.chunks).strip()))
        self.chunks, self.has_text = [], False
        self.line_depth = self.depth

    def soft_break(self) -> None:
        if self.has_text:
            self.hard_break()

    def paragraph_break(self) -> None:
        self.soft_break()
        if self.lines and self.lines[-1][1]:
            self.lines.append((0, ""))

    def add(self, chunk: str) -> None:
        if chunk.strip() and not self.has_text:
            self.has_text = True
            self.line_depth = self.depth
        self.chunks.append(chunk)

    def start(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip += 1
        elif tag == "br":
            self.hard_break()
        elif tag in ("td", "th") and self.has_text:
            self.chunks.append("\t")
        elif tag in _PARAGRAPH:
            self.paragraph_break()
            self.depth += tag == "blockquote"
            self.line_depth = self.depth
        elif tag in _BLOCK:
            self.soft_break()
            self.pre += tag == "pre"
            if tag == "li":
                self.add("- ")

    def end(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in _PARAGRAPH:
            self.paragraph_break()
            if tag == "blockquote":
                self.depth = max(0, self.depth - 1)
            self.line_depth = self.depth
        elif tag in _BLOCK:
            self.soft_break()
            if tag == "pre":
                self.pre = max(0, self.pre - 1)

    def data(self, data: str) -> None:
        if self.skip:
            return
        data = data.replace("\xa0", " ")
        if self.pre:
            for index, chunk in enumerate(data.split("\n")):
                if index:
                    self.hard_break()
                self.add(chunk)
            return
        self.add(_WHITESPACE.sub(" ", data))

    def text(self) -> str:
        self.soft_break()
        rendered = [("> " * depth + line).rstrip() if line else "" for depth, line in self.lines]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(rendered)).strip()


_WHITESPACE = re.compile(r"\s+")


def html_to_text(markup: str) -> str:
    """Plain text of an HTML body, keeping paragraph and line breaks; never raises."""
    extractor = _TextExtractor()
    handlers = {"start": extractor.start, "end": extractor.end, "text": extractor.data}
    for kind, value, _, _ in iter_html(markup or ""):
        handlers[kind](value)
    return _clean_text(extractor.text())


# --- walking the MIME tree ------------------------------------------------------------------


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
    walk.parts.append(_mail_part(part, ctype, filename, disposition, walk))


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


# --- entry point ----------------------------------------------------------------------------


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
