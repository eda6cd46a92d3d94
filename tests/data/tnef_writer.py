"""A small TNEF (winmail.dat) writer for the tests, so the reader is checked against streams
built here byte by byte instead of an opaque committed binary."""
from __future__ import annotations

import base64
import struct

import shared_code.domain.mail.tnef as t


def attribute(level: int, attr: int, data: bytes, checksum: int | None = None) -> bytes:
    check = sum(data) & 0xFFFF if checksum is None else checksum
    return bytes([level]) + struct.pack("<II", attr, len(data)) + data + struct.pack("<H", check)


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def mapi_props(*props: tuple[int, int, object]) -> bytes:
    """(type, id, value) triples; strings and bytes only, plus one PT_LONG to be skipped."""
    out = struct.pack("<I", len(props))
    for ptype, pid, value in props:
        out += struct.pack("<HH", ptype, pid)
        if ptype == 0x0003:
            out += struct.pack("<i", value)
            continue
        if ptype == t.PT_UNICODE:
            raw = str(value).encode("utf-16-le") + b"\0\0"
        elif ptype == t.PT_STRING8:
            raw = str(value).encode("cp1252") + b"\0"
        elif ptype == t.PT_OBJECT:
            raw = b"\x07\x03\x02\x00" + b"\0" * 12 + bytes(value)
        else:
            raw = bytes(value)
        out += struct.pack("<II", 1, len(raw)) + _pad(raw)
    return out


def attachment(name: str, data: bytes, long_name: str | None = None, mime: str | None = None) -> bytes:
    props = [(0x0003, 0x3705, 1)]  # PR_ATTACH_METHOD, skipped by the reader
    if long_name:
        props.append((t.PT_UNICODE, t.PR_ATTACH_LONG_FILENAME, long_name))
    if mime:
        props.append((t.PT_STRING8, t.PR_ATTACH_MIME_TAG, mime))
    return (attribute(2, t.ATT_ATTACH_RENDDATA, b"\0" * 14)
            + attribute(2, t.ATT_ATTACH_TITLE, name.encode("cp1252") + b"\0")
            + attribute(2, t.ATT_ATTACH_DATA, data)
            + attribute(2, t.ATT_ATTACHMENT, mapi_props(*props)))


def tnef(*attributes: bytes) -> bytes:
    return struct.pack("<IH", t.SIGNATURE, 0x0102) + b"".join(attributes)


def compress_rtf_literal(rtf: bytes) -> bytes:
    """PR_RTF_COMPRESSED with literals only, then the end marker (a reference to the write
    position): valid LZFu that any reader must inflate."""
    body = bytearray()
    items: list[bytes] = [bytes([b]) for b in rtf]
    write = (len(t.RTF_PREBUF) + len(rtf)) % 4096
    items.append(struct.pack(">H", write << 4))
    for start in range(0, len(items), 8):
        chunk = items[start:start + 8]
        control = sum(1 << i for i, item in enumerate(chunk) if len(item) == 2)
        body.append(control)
        for item in chunk:
            body += item
    return struct.pack("<IIII", len(body) + 12, len(rtf), 0x75465A4C, 0) + bytes(body)


def outlook_mail(winmail: bytes, subject: str = "Quote attached", text: str = "See attached.",
                 message_id: str = "<tnef-1@example.org>") -> bytes:
    """A mail as Outlook sends it with rich text on: a text body and a winmail.dat part."""
    encoded = base64.encodebytes(winmail).decode()
    return (
        "From: Ann Client <ann@example.org>\r\nTo: support@contoso.example\r\n"
        f"Subject: {subject}\r\nDate: Mon, 20 Jan 2025 08:00:00 +0000\r\nMessage-ID: {message_id}\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="tnef-b"\r\n\r\n'
        f"--tnef-b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
        '--tnef-b\r\nContent-Type: application/ms-tnef; name="winmail.dat"\r\n'
        'Content-Disposition: attachment; filename="winmail.dat"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        f"{encoded}--tnef-b--\r\n"
    ).encode()
