"""untrusted: terminal-safe text, clean file names, the stored content-type allow-list."""
from __future__ import annotations

import pytest

from shared_code.domain.untrusted import OCTET_STREAM, STORED_TYPES, clean_filename, stored_content_type, terminal_safe


@pytest.mark.parametrize("text, shown", [
    ("\x1b]0;pwned\x07Invoice", "Invoice"),  # OSC: window title
    ("a\x1b[2Jb\x1b[31;1mc\x1b[0m", "abc"),  # CSI: clear screen, colours
    ("\x1b]52;c;cHduZWQ=\x1b\\copy", "copy"),  # OSC 52 clipboard write, ST-terminated
    ("\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\", "link"),  # OSC 8 hyperlink
    ("\x1bPq#0;2;0;0;0\x1b\\sixel", "sixel"),  # DCS
    ("x\x1b7y\x1b8z\x1bcw", "xyzw"),  # two-character escapes (save/restore cursor, reset)
    ("\x1b]0;unterminated title", "0;unterminated title"),  # text stays readable
    ("8-bit\u009b2J\u009d0;t\u0007csi", "8-bit2J0;tcsi"),  # C1 controls removed one by one
    ("over\rwrite\bback\x7fdel\x00", "overwritebackdel"),
    ("gpj.exe\u202e \u2066iso\u2069 \u200fmark\u200e \u061c", "gpj.exe iso mark "),
    ("keeps\ttabs\nand lines, é 日本 👩\u200d💻", "keeps\ttabs\nand lines, é 日本 👩\u200d💻"),
])
def test_terminal_safe(text, shown):
    assert terminal_safe(text) == shown


def test_unterminated_sequences_in_bulk_are_removed_whole():
    hostile = "\x1b]" * 100_000 + "\x1b[" * 100_000 + "\x1bP" * 100_000 + "end"
    assert terminal_safe(hostile) == "end"


@pytest.mark.parametrize("name, clean", [
    ("invoice\u202egpj.exe", "invoicegpj.exe"),
    ("C:\\Users\\x\\report.pdf", "report.pdf"),
    ("../../etc/passwd", "passwd"),
    ("a\u0085b\u009b\x1b.txt", "ab.txt"),
    ("\u200b\ufeffhidden\u2028.doc", "hidden.doc"),
    ("Übersicht März 日本語.xlsx", "Übersicht März 日本語.xlsx"),
    (" . \u202e . ", ""),
])
def test_clean_filename(name, clean):
    assert clean_filename(name) == clean


def test_allow_list_has_no_active_content():
    for ctype in ("text/html", "image/svg+xml", "application/xhtml+xml", "text/xml", "application/xml",
                  "text/javascript", "application/javascript", "message/rfc822", "multipart/related",
                  "application/x-shockwave-flash", "text/css"):
        assert ctype not in STORED_TYPES
        assert stored_content_type(ctype) == OCTET_STREAM
    assert stored_content_type("Application/PDF; name=\"x.pdf\"") == "application/pdf"
    assert stored_content_type("") == stored_content_type(None) == OCTET_STREAM
