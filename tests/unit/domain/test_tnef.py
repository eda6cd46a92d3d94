"""The TNEF (winmail.dat) reader and its place in parse_mail: the real files replace the
wrapper; a damaged one is kept as it is with a defect, and parse_mail never raises."""
from __future__ import annotations

import random
import struct

import pytest

from shared_code.domain.mail import parse_mail
import shared_code.domain.mail.tnef as t
from tests.data.tnef_writer import (
    attachment, attribute, compress_rtf_literal, mapi_props, outlook_mail, tnef,
)

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 100


def _two_files() -> bytes:
    return tnef(
        attribute(1, t.ATT_OEM_CODEPAGE, struct.pack("<II", 1252, 0)),
        attribute(1, t.ATT_BODY, "Plain body from TNEF\r\nsecond line\0".encode()),
        attachment("QUOTE~1.PDF", PDF, long_name="Quote März 2025.pdf"),
        attachment("IMAGE0~1.PNG", PNG, mime="image/png"),
    )


def test_unpack_reads_names_data_and_body():
    content = t.unpack(_two_files())
    assert [(f.name, f.data, f.content_type) for f in content.files] == [
        ("Quote März 2025.pdf", PDF, None), ("IMAGE0~1.PNG", PNG, "image/png"),
    ]
    assert content.text == "Plain body from TNEF\r\nsecond line"
    assert content.defects == []


def test_message_props_give_html_and_inflated_rtf():
    rtf = b"{\\rtf1\\ansi Hello {\\b bold} world}"
    props = mapi_props((t.PT_BINARY, t.PR_HTML, b"<p>Hi <b>there</b></p>"),
                       (t.PT_BINARY, t.PR_RTF_COMPRESSED, compress_rtf_literal(rtf)),
                       (t.PT_UNICODE, 0x0037, "Subject"))
    content = t.unpack(tnef(attribute(1, t.ATT_MSG_PROPS, props)))
    assert content.html == "<p>Hi <b>there</b></p>"
    assert content.rtf is None  # not inflated: the HTML body is used
    assert t.decompress_rtf(content.rtf_compressed) == rtf


def test_an_rtf_bomb_costs_the_body_not_the_files():
    # every reference copies 17 bytes (never the end marker): it would inflate past MAX_RTF
    write, groups = len(t.RTF_PREBUF), []
    for _ in range(80_000):
        words = []
        for _ in range(8):
            words.append(struct.pack(">H", (((write + 100) % 4096) << 4) | 15))
            write = (write + 17) % 4096
        groups.append(bytes([0xFF]) + b"".join(words))
    refs = b"".join(groups)
    bomb = struct.pack("<IIII", len(refs) + 12, 10, 0x75465A4C, 0) + refs
    stream = tnef(attribute(1, t.ATT_MSG_PROPS, mapi_props((t.PT_BINARY, t.PR_RTF_COMPRESSED, bomb))),
                  attachment("A.TXT", b"abc"))
    content = t.unpack(stream)
    assert [f.data for f in content.files] == [b"abc"] and content.rtf is None
    assert any("RTF body unreadable" in d for d in content.defects)
    claimed = struct.pack("<IIII", 12, t.MAX_RTF + 1, 0x75465A4C, 0)
    with pytest.raises(t.TnefError):
        t.decompress_rtf(claimed)


def test_rtf_back_reference_into_the_preloaded_dictionary():
    # one reference: offset 0 of the ring, 17 bytes = "{\rtf1\ansi\mac\de", then the end marker
    write = len(t.RTF_PREBUF) + 17
    body = bytes([0b11]) + struct.pack(">H", (0 << 4) | 15) + struct.pack(">H", write << 4)
    data = struct.pack("<IIII", len(body) + 12, 17, 0x75465A4C, 0) + body
    assert t.decompress_rtf(data) == t.RTF_PREBUF[:17]


def test_attached_file_in_pt_object_data_is_read():
    props = mapi_props((t.PT_UNICODE, t.PR_ATTACH_LONG_FILENAME, "inner.txt"),
                       (t.PT_OBJECT, t.PR_ATTACH_DATA, b"object bytes"))
    stream = tnef(attribute(2, t.ATT_ATTACH_RENDDATA, b"\0" * 14), attribute(2, t.ATT_ATTACHMENT, props))
    [item] = t.unpack(stream).files
    assert (item.name, item.data) == ("inner.txt", b"object bytes")


def test_bad_checksum_is_a_defect_not_a_failure():
    stream = tnef(attachment("A.TXT", b"abc"), attribute(1, t.ATT_BODY, b"x", checksum=7))
    content = t.unpack(stream)
    assert [f.data for f in content.files] == [b"abc"]
    assert any("checksum" in d for d in content.defects)


@pytest.mark.parametrize("data", [b"", b"not tnef at all", _two_files()[:40], _two_files()[:-3],
                                  tnef(attribute(9, t.ATT_BODY, b"x"))])
def test_damaged_streams_raise_tnef_error(data):
    with pytest.raises(t.TnefError):
        t.unpack(data)


def test_parse_mail_replaces_winmail_dat_by_the_files_inside():
    mail = parse_mail(outlook_mail(_two_files()))
    assert [(p.filename, p.content_type, p.data) for p in mail.parts] == [
        ("Quote März 2025.pdf", "application/pdf", PDF), ("IMAGE0~1.PNG", "image/png", PNG),
    ]
    assert mail.text_body == "See attached."  # the mail's own text body wins
    assert not any("TNEF" in d for d in mail.defects)


def test_tnef_body_is_used_when_the_mail_has_none():
    stream = tnef(attribute(1, t.ATT_MSG_PROPS, mapi_props((t.PT_BINARY, t.PR_HTML, b"<p>Only here</p>"))))
    raw = outlook_mail(stream).replace(b"Content-Type: text/plain; charset=utf-8\r\n\r\nSee attached.\r\n",
                                       b"Content-Type: application/octet-stream\r\n\r\nx\r\n")
    mail = parse_mail(raw)
    assert mail.html_body == "<p>Only here</p>"
    assert "Only here" in mail.text_body


def test_rtf_only_body_becomes_message_rtf():
    rtf = b"{\\rtf1 formatted}"
    stream = tnef(attribute(1, t.ATT_MSG_PROPS, mapi_props((t.PT_BINARY, t.PR_RTF_COMPRESSED, compress_rtf_literal(rtf)))))
    mail = parse_mail(outlook_mail(stream))
    assert [(p.filename, p.content_type, p.data) for p in mail.parts] == [("message.rtf", "application/rtf", rtf)]


def test_file_names_from_tnef_are_cleaned():
    stream = tnef(attachment("X", b"1", long_name="..\\..\\evil\u202egpj.exe"), attachment("", b"2"))
    mail = parse_mail(outlook_mail(stream))
    assert [p.filename for p in mail.parts] == ["evilgpj.exe", "attachment-2.bin"]


def test_corrupt_tnef_keeps_the_original_and_logs_a_defect():
    broken = _two_files()[:-10]
    mail = parse_mail(outlook_mail(broken))
    assert [(p.filename, p.data) for p in mail.parts] == [("winmail.dat", broken)]
    assert any(d.startswith("TNEF winmail.dat unreadable") for d in mail.defects)


def test_random_damage_never_raises():
    rng = random.Random(10)
    good = _two_files()
    for _ in range(300):
        data = bytearray(good)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        mail = parse_mail(outlook_mail(bytes(data[:rng.randint(6, len(data))])))
        assert mail.parts  # the files, or the original winmail.dat


def test_only_one_rtf_body_per_mail_is_inflated():
    rtf = b"{\\rtf1 one}"
    stream = tnef(attribute(1, t.ATT_MSG_PROPS, mapi_props((t.PT_BINARY, t.PR_RTF_COMPRESSED, compress_rtf_literal(rtf)))))
    part = outlook_mail(stream).split(b"--tnef-b\r\nContent-Type: application/ms-tnef", 1)[1].rsplit(b"--tnef-b--", 1)[0]
    raw = outlook_mail(stream).replace(b"--tnef-b--", b"--tnef-b\r\nContent-Type: application/ms-tnef" + part + b"--tnef-b--")
    mail = parse_mail(raw)
    assert [p.filename for p in mail.parts] == ["message.rtf"]  # the second one gave no body
