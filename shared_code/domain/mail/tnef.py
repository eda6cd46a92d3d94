"""A small reader of Microsoft's TNEF (`winmail.dat`, application/ms-tnef): Outlook wraps the
real attachments and the formatted body in it, so a client who sends from Outlook would
otherwise give staff one opaque file. Only what a ticket needs is read: each attachment's name,
MIME type and data, and the message body (plain, HTML, or compressed RTF, which is inflated).
Every length is checked against the buffer; anything unreadable raises TnefError, and the
caller keeps the original file (see mime_walk)."""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

SIGNATURE = 0x223E9F78
LVL_MESSAGE, LVL_ATTACHMENT = 1, 2

ATT_BODY = 0x0002800C
ATT_ATTACH_TITLE = 0x00018010
ATT_ATTACH_DATA = 0x0006800F
ATT_ATTACH_RENDDATA = 0x00069002  # starts a new attachment
ATT_MSG_PROPS = 0x00069003
ATT_ATTACHMENT = 0x00069005
ATT_OEM_CODEPAGE = 0x00069007

PR_BODY = 0x1000
PR_RTF_COMPRESSED = 0x1009
PR_HTML = 0x1013
PR_ATTACH_DATA = 0x3701
PR_ATTACH_FILENAME = 0x3704
PR_ATTACH_LONG_FILENAME = 0x3707
PR_ATTACH_MIME_TAG = 0x370E
PR_DISPLAY_NAME = 0x3001

PT_STRING8, PT_UNICODE, PT_BINARY, PT_OBJECT = 0x001E, 0x001F, 0x0102, 0x000D
MV_FLAG = 0x1000
_FIXED = {0x0002: 4, 0x0003: 4, 0x0004: 4, 0x000A: 4, 0x000B: 4, 0x0005: 8, 0x0006: 8,
          0x0007: 8, 0x0014: 8, 0x0040: 8, 0x0048: 16, 0x0001: 0}

MAX_ATTRIBUTES = 10_000
MAX_FILES = 500
MAX_PROPS = 10_000
MAX_RTF = 4_000_000  # inflated RTF bytes; a larger claim is a bomb (about 1 s of CPU)


class TnefError(ValueError):
    """The data is not TNEF or is damaged: keep the original winmail.dat."""


@dataclass
class TnefFile:
    name: str
    data: bytes
    content_type: str | None = None  # PR_ATTACH_MIME_TAG when Outlook recorded one


@dataclass
class TnefContent:
    files: list[TnefFile] = field(default_factory=list)
    text: str | None = None
    html: str | None = None
    rtf: bytes | None = None  # decompressed RTF body, only when there is no text or HTML body
    rtf_compressed: bytes | None = None
    defects: list[str] = field(default_factory=list)


@dataclass
class _Attachment:
    title: str | None = None
    long_name: str | None = None
    mime: str | None = None
    data: bytes | None = None


class _Reader:
    """Bounds-checked little-endian reads."""

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data, self.pos = data, pos

    def take(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise TnefError(f"truncated at byte {self.pos} (needs {size})")
        chunk = self.data[self.pos:self.pos + size]
        self.pos += size
        return chunk

    def u16(self) -> int:
        return struct.unpack("<H", self.take(2))[0]

    def u32(self) -> int:
        return struct.unpack("<I", self.take(4))[0]

    def done(self) -> bool:
        return self.pos >= len(self.data)


def is_tnef(content_type: str, filename: str | None) -> bool:
    return content_type == "application/ms-tnef" or (filename or "").lower() == "winmail.dat"


def unpack(data: bytes, inflate_rtf: bool = True) -> TnefContent:
    """The files and body inside a TNEF stream. Raises TnefError when it cannot be read.
    `inflate_rtf=False` skips the (CPU-bound) RTF body: the walk inflates one per mail."""
    reader = _Reader(data)
    if len(data) < 6 or reader.u32() != SIGNATURE:
        raise TnefError("no TNEF signature")
    reader.u16()  # legacy key
    out = TnefContent()
    attachments: list[_Attachment] = []
    codepage = "cp1252"
    for count in range(MAX_ATTRIBUTES + 1):
        if reader.done():
            break
        if count == MAX_ATTRIBUTES:
            raise TnefError(f"more than {MAX_ATTRIBUTES} attributes")
        level = reader.take(1)[0]
        attr, length = reader.u32(), reader.u32()
        value = reader.take(length)
        checksum = reader.u16()
        if sum(value) & 0xFFFF != checksum:
            _defect(out, f"TNEF checksum mismatch in attribute {attr:#010x}")
        if level not in (LVL_MESSAGE, LVL_ATTACHMENT):
            raise TnefError(f"unknown attribute level {level}")
        if attr == ATT_OEM_CODEPAGE and len(value) >= 4:
            codepage = _codepage(struct.unpack("<I", value[:4])[0])
        elif level == LVL_ATTACHMENT:
            if attr == ATT_ATTACH_RENDDATA:
                if len(attachments) >= MAX_FILES:
                    raise TnefError(f"more than {MAX_FILES} attachments")
                attachments.append(_Attachment())
            elif attachments:
                _attachment_attr(attachments[-1], attr, value, codepage)
        elif attr == ATT_BODY:
            out.text = _string8(value, codepage)
        elif attr == ATT_MSG_PROPS:
            _message_props(out, _props(value, codepage))
    if inflate_rtf and out.rtf_compressed and not (out.text or out.html):
        try:  # a damaged body costs the body, not the files
            out.rtf = decompress_rtf(out.rtf_compressed)
        except TnefError as error:
            _defect(out, f"TNEF RTF body unreadable ({error})")
    for number, item in enumerate(attachments, 1):
        if item.data is None:
            continue
        name = item.long_name or item.title or f"attachment-{number}.bin"
        out.files.append(TnefFile(name=name, data=item.data, content_type=item.mime))
    return out


def _defect(out: TnefContent, text: str) -> None:
    if text not in out.defects:
        out.defects.append(text)


def _codepage(number: int) -> str:
    name = "utf-8" if number == 65001 else f"cp{number}"
    try:
        "".encode(name)
    except LookupError:
        return "cp1252"
    return name


def _string8(value: bytes, codepage: str) -> str:
    return value.split(b"\0", 1)[0].decode(codepage, "replace")


def _attachment_attr(item: _Attachment, attr: int, value: bytes, codepage: str) -> None:
    if attr == ATT_ATTACH_TITLE:
        item.title = _string8(value, codepage) or None
    elif attr == ATT_ATTACH_DATA:
        item.data = value
    elif attr == ATT_ATTACHMENT:
        props = _props(value, codepage)
        name = props.get(PR_ATTACH_LONG_FILENAME) or props.get(PR_ATTACH_FILENAME) or props.get(PR_DISPLAY_NAME)
        if isinstance(name, str) and name:
            item.long_name = name
        mime = props.get(PR_ATTACH_MIME_TAG)
        if isinstance(mime, str) and "/" in mime:
            item.mime = mime.strip().lower()
        data = props.get(PR_ATTACH_DATA)
        if item.data is None and isinstance(data, bytes):
            item.data = data


def _message_props(out: TnefContent, props: dict[int, object]) -> None:
    body, html, rtf = props.get(PR_BODY), props.get(PR_HTML), props.get(PR_RTF_COMPRESSED)
    if isinstance(body, str) and body:
        out.text = body
    if isinstance(html, bytes) and html:
        out.html = html.decode("utf-8", "replace")
    elif isinstance(html, str) and html:
        out.html = html
    if isinstance(rtf, bytes) and rtf:
        out.rtf_compressed = rtf


def _props(data: bytes, codepage: str) -> dict[int, object]:
    """A MAPI property list: id -> str, bytes or None (fixed-size values are not needed)."""
    reader = _Reader(data)
    count = reader.u32()
    if count > MAX_PROPS:
        raise TnefError(f"{count} MAPI properties")
    props: dict[int, object] = {}
    for _ in range(count):
        ptype, pid = reader.u16(), reader.u16()
        if pid >= 0x8000:  # named property: GUID, kind, then number or name
            reader.take(16)
            if reader.u32() == 0:
                reader.u32()
            else:
                reader.take(_padded(reader.u32()))
        base = ptype & ~MV_FLAG
        values = [_value(reader, base, codepage) for _ in range(reader.u32() if ptype & MV_FLAG else 1)]
        props[pid] = values[0] if values and not ptype & MV_FLAG else None
    return props


def _value(reader: _Reader, ptype: int, codepage: str) -> object:
    if ptype in _FIXED:
        reader.take(_FIXED[ptype])
        return None
    if ptype not in (PT_STRING8, PT_UNICODE, PT_BINARY, PT_OBJECT):
        raise TnefError(f"unknown MAPI property type {ptype:#06x}")
    value = None
    for _ in range(reader.u32()):  # a count of values, each with its length, padded to 4
        size = reader.u32()
        raw = reader.take(size)
        reader.take(_padded(size) - size)
        if ptype == PT_UNICODE:
            value = raw.decode("utf-16-le", "replace").split("\0", 1)[0]
        elif ptype == PT_STRING8:
            value = _string8(raw, codepage)
        elif ptype == PT_OBJECT:
            value = raw[16:]  # after the interface GUID
        else:
            value = raw
    return value


def _padded(size: int) -> int:
    return (size + 3) & ~3


RTF_PREBUF = (
    b"{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss \\fmodern "
    b"\\fscript \\fdecor MS Sans SerifSymbolArialTimes New RomanCourier{\\colortbl\\red0\\green0"
    b"\\blue0\r\n\\par \\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx"
)
_LZFU, _MELA = 0x75465A4C, 0x414C454D


def decompress_rtf(data: bytes) -> bytes:
    """Inflate PR_RTF_COMPRESSED ([MS-OXRTFCP]): LZ77 over a 4096-byte ring preloaded with
    common RTF words."""
    reader = _Reader(data)
    size, raw_size, magic = reader.u32(), reader.u32(), reader.u32()
    reader.u32()  # CRC: damage shows as bad RTF, which is still only an attachment
    if raw_size > MAX_RTF:
        raise TnefError(f"compressed RTF claims {raw_size} bytes")
    if magic == _MELA:
        return reader.take(min(raw_size, len(data) - 16))
    if magic != _LZFU:
        raise TnefError("unknown compressed RTF format")
    body = data[16:size + 4]
    ring = bytearray(4096)
    ring[:len(RTF_PREBUF)] = RTF_PREBUF
    write = len(RTF_PREBUF)
    out = bytearray()
    pos = 0
    while pos < len(body):
        control = body[pos]
        pos += 1
        for bit in range(8):
            if pos >= len(body):
                break
            if not control & (1 << bit):
                byte = body[pos]
                pos += 1
                out.append(byte)
                ring[write] = byte
                write = (write + 1) % 4096
                continue
            if pos + 2 > len(body):
                raise TnefError("compressed RTF truncated")
            word = (body[pos] << 8) | body[pos + 1]
            pos += 2
            offset, length = word >> 4, (word & 0xF) + 2
            if offset == write:
                return bytes(out)
            for index in range(length):
                byte = ring[(offset + index) % 4096]
                out.append(byte)
                ring[write] = byte
                write = (write + 1) % 4096
            if len(out) > MAX_RTF:
                raise TnefError("compressed RTF inflates too far")
    return bytes(out)
