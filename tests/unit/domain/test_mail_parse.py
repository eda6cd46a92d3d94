"""parse_mail: the corpus in tests/data, header decoding, charsets and hostile input."""
from __future__ import annotations

import ast
import random
import re
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from shared_code.domain.mail import (
    MAX_DEPTH,
    MAX_PARTS,
    decode_bytes,
    decode_rfc2047,
    html_to_text,
    normalize_charset,
    normalize_message_id,
    parse_mail,
)
from tests.data import DATA_DIR, big_attachment_mail, load
from tests.work_budget import cpu_budget


def parse(name: str):
    return parse_mail(load(name))


# --- every corpus file ------------------------------------------------------------------------

ALL_FILES = sorted(path.name for path in DATA_DIR.glob("*.eml"))


@pytest.mark.parametrize("name", ALL_FILES)
def test_every_corpus_file_parses(name):
    mail = parse(name)
    assert mail.subject
    assert mail.text_body or mail.html_body or mail.parts
    assert mail.date is None or mail.date.tzinfo is not None


def test_message_ids_are_unique_across_the_corpus():
    ids = [parse(name).message_id for name in ALL_FILES]
    present = [i for i in ids if i]
    assert len(present) == len(set(present))


def test_plain():
    mail = parse("plain.eml")
    assert mail.message_id == "plain-0001@mail.example.com"
    assert mail.subject == "Checkout page error"
    assert (mail.from_name, mail.from_address) == ("Alice Example", "alice@example.com")
    assert mail.to == [("Contoso Support", "support@contoso.example")]
    assert mail.date == datetime(2025, 1, 6, 8, 15, tzinfo=timezone.utc)
    assert mail.date.utcoffset() == timedelta(hours=1)
    assert mail.text_body.startswith("Hello,\n\nthe checkout page shows \"Error 500\"")
    assert mail.html_body is None and mail.parts == [] and mail.defects == []
    assert mail.content_type == "text/plain" and mail.report_type is None
    assert mail.header("Received").startswith("from mail.example.com")  # unfolded
    assert "\n" not in mail.header("received")


def test_html_only_derives_text_with_line_breaks():
    mail = parse("html_only.eml")
    assert mail.html_body.startswith("<html>")
    assert mail.text_from_html
    assert mail.text_body == (
        "Hello support,\n\nplease change our invoice address to\nMüllerstraße 5\n50667 Köln\n\n"
        "- Customer 4711\n- Effective immediately\n\nThanks,\nBob"
    )
    assert "Mail" not in mail.text_body and "margin" not in mail.text_body  # title, style


def test_alternative():
    mail = parse("alternative.eml")
    assert "Café account: carol@example.com" in mail.text_body
    assert "<a href=\"mailto:carol@example.com\">" in mail.html_body
    assert not mail.text_from_html
    assert mail.cc == [("Dave Colleague", "dave@example.com"), ("Erin, Manager", "erin@example.com")]


def test_outlook_related_cid_images():
    mail = parse("outlook_related_cid.eml")
    assert mail.content_type == "multipart/related"
    assert [(p.filename, p.content_type, p.content_id, p.inline) for p in mail.parts] == [
        ("image001.png", "image/png", "image001.png@01DB6234.5A8B2C40", True),
        ("image002.jpg", "image/jpeg", "image002.jpg@01DB6234.5A8B2C40", True),
    ]
    assert mail.parts[0].data.startswith(b"\x89PNG")
    assert mail.parts[1].data.startswith(b"\xff\xd8")
    assert 'src="cid:image001.png@01DB6234.5A8B2C40"' in mail.html_body
    assert "\r" not in mail.text_body


def test_gmail_reply_threading_headers():
    mail = parse("gmail_reply.eml")
    assert mail.in_reply_to == ["ticket-108749.1736154000.1@contoso.example"]
    assert mail.references == ["plain-0001@mail.example.com", "ticket-108749.1736154000.1@contoso.example"]
    assert mail.subject == "Re: [#108749] Checkout page error"
    assert "> -- reply above this line --" in mail.text_body


def test_apple_reply_format_flowed_and_folded_references():
    mail = parse("apple_reply.eml")
    assert mail.references == ["apple-orig-0005@example.org", "ticket-108750.1736255000.2@contoso.example"]
    assert "This line is long enough to be wrapped by format=flowed." in mail.text_body
    assert "> On Jan 8, 2025, at 09:30, Contoso Support <support@contoso.example> wrote:" in mail.text_body


@pytest.mark.parametrize(
    "name, subject, sender",
    [
        ("subject_rfc2047_utf8.eml", "Grüße – ünïcödé ✓ test", "Jürgen Müller"),
        ("subject_rfc2047_latin1.eml", "Brücke über den Fluß (Anfrage)", "René François"),
        ("subject_rfc2047_cp1252.eml", "“Smart quotes” cost €50", "Pat Quote"),
        ("subject_rfc2047_iso2022jp.eml", "日本語の件名です", "山田"),
        ("subject_rfc2047_gb2312.eml", "中文主题测试", "Li Wei"),
        ("subject_rfc2047_koi8r.eml", "Привет из Москвы", "Ivan Petrov"),
        ("subject_rfc2047_malformed.eml", "Missing spacebetweenüberCaféno end", "Broken Name"),
    ],
)
def test_rfc2047_subjects(name, subject, sender):
    mail = parse(name)
    assert mail.subject == subject
    assert mail.from_name == sender
    assert mail.headers["subject"] == [subject]


def test_undeclared_charset_latin1():
    mail = parse("undeclared_charset.eml")
    assert mail.text_body.startswith("Grüße aus Köln,\nder Drucker im 3. Stock druckt nur noch »Fehler 42«.")
    assert any("no declared charset" in d for d in mail.defects)


def test_wrong_charset_utf8_label_on_windows_1252():
    mail = parse("wrong_charset.eml")
    assert mail.text_body.startswith("The quote “works” – but the price shows €99 instead of £99.")
    assert mail.text_body.endswith("Noël")
    assert any("declared charset utf-8" in d for d in mail.defects)


def test_bounce_dsn_parts_and_report_type():
    mail = parse("bounce_dsn.eml")
    assert mail.content_type == "multipart/report"
    assert mail.report_type == "delivery-status"
    assert mail.from_address == "mailer-daemon@mail.example.org"
    assert mail.header("return-path") == "<>"
    kinds = [(p.content_type, p.filename) for p in mail.parts]
    assert kinds == [
        ("message/delivery-status", "attachment-1.txt"),
        ("message/rfc822", "[#108752] Your request was received.eml"),
    ]
    assert b"Status: 5.1.1" in mail.parts[0].data
    original = parse_mail(mail.parts[1].data)
    assert original.message_id == "ticket-108752.1736758800.1@contoso.example"
    assert "This is the mail system" in mail.text_body


def test_exchange_ndr():
    mail = parse("bounce_exchange_ndr.eml")
    assert mail.from_address == "postmaster@example.com"
    assert mail.html_body and mail.text_from_html
    assert "Delivery has failed to these recipients or groups:" in mail.text_body
    assert [p.content_type for p in mail.parts] == ["message/rfc822"]


def test_no_message_id():
    mail = parse("no_message_id.eml")
    assert mail.message_id is None
    assert (mail.from_name, mail.from_address) == ("", "legacy-app@example.com")


def test_bad_mime_is_recovered_with_defects():
    mail = parse("bad_mime.eml")
    assert mail.subject == "Broken mail 💳"  # base64 word without padding
    assert mail.date is None  # "Someday at noon"
    assert mail.to == [("", "support@contoso.example")]
    assert mail.text_body == "The attached report is broken."
    assert [(p.filename, p.content_type) for p in mail.parts] == [
        ("report.pdf", "application/pdf"),
        ("image001.png", "image/png"),
    ]
    assert mail.parts[0].data.startswith(b"%PDF-1.4")
    assert mail.header("x-raw-bytes") == "café crème ÿþ"
    assert any("guessed 'real-boundary'" in d for d in mail.defects)
    assert any("damaged base64" in d for d in mail.defects)


def test_attachment_names():
    mail = parse("attachment_names.eml")
    assert [(p.filename, p.inline) for p in mail.parts] == [
        ("日本語の請求書.pdf", False),  # RFC 2231 with continuations
        ("Übersicht März.xlsx", False),  # RFC 2047 inside the quoted filename
        ("image001.gif", True),  # nameless inline image
        ("attachment-1.bin", False),  # nameless octet-stream
        ("winmail.dat", False),  # TNEF stays an attachment
        ("evil.sh", False),  # path removed
    ]
    assert mail.parts[0].data == b"%PDF-1.4\n"


def _one_attachment(disposition: bytes) -> bytes:
    return (b"From: a@example.org\nSubject: files\nMIME-Version: 1.0\n"
            b'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain\n\nsee file\n'
            b"--b\nContent-Type: application/octet-stream\nContent-Disposition: attachment; " + disposition
            + b"\nContent-Transfer-Encoding: base64\n\nTVqQAA==\n--b--\n")


@pytest.mark.parametrize("disposition, name", [
    # RFC 2231 and RFC 2047 forms of "invoice<U+202E>gpj.exe", which shows as "invoiceexe.jpg"
    (b"filename*=utf-8''invoice%E2%80%AEgpj.exe", "invoicegpj.exe"),
    (b'filename="=?utf-8?B?aW52b2ljZeKArmdwai5leGU=?="', "invoicegpj.exe"),
    (b"filename*=utf-8''%E2%81%A6report%E2%81%A9%E2%80%8F.pdf", "report.pdf"),  # isolates and RLM
    (b"filename*=utf-8''a%C2%9B%C2%85b%1B%5B2J.txt", "ab[2J.txt"),  # C1 controls, ESC
    (b"filename*=utf-8''..%5C..%5Cwindows%5Cx.bat", "x.bat"),  # backslash path
    (b"filename*=utf-8''%E2%80%AE%E2%80%8B", None),  # nothing left: a generated name
])
def test_attachment_name_loses_bidi_and_control_characters(disposition, name):
    mail = parse_mail(_one_attachment(disposition))
    assert [p.filename for p in mail.parts] == [name or "attachment-1.bin"]


def test_data_uri_mail_keeps_html():
    mail = parse("data_uri_image.eml")
    assert "data:image/png;base64," in mail.html_body
    assert mail.parts == []


def test_big_attachment_generator():
    raw = big_attachment_mail(size=2 * 1024 * 1024 + 3)
    mail = parse_mail(raw)
    assert [(p.filename, len(p.data)) for p in mail.parts] == [("big.zip", 2 * 1024 * 1024 + 3)]
    assert mail.message_id == f"big-attachment-{2 * 1024 * 1024 + 3}@example.com"


# --- headers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("<abc@example.com>", "abc@example.com"),
        ("  <abc@example.com>  ", "abc@example.com"),
        ("abc@example.com", "abc@example.com"),
        ("<abc@exa\n mple.com>", "abc@example.com"),
        ("<no-at-sign>", "no-at-sign"),
        ("", None),
        ("   ", None),
    ],
)
def test_normalize_message_id(raw, expected):
    assert normalize_message_id(raw) == expected


def test_references_split_robustly():
    raw = (
        b"From: a@example.com\nSubject: x\nMessage-ID: <m@example.com>\n"
        b"References: <one@example.com>,<two@example.com> (a comment <not@comment>)\n"
        b"  three@example.com\t<four@exam\n ple.com> <one@example.com>\n"
        b"In-Reply-To: <four@example.com> (Bob's message of Monday)\n\nbody"
    )
    mail = parse_mail(raw)
    assert mail.references == ["one@example.com", "two@example.com", "three@example.com", "four@example.com"]
    assert mail.in_reply_to == ["four@example.com"]


@pytest.mark.parametrize(
    "header, name, address",
    [
        ('"Doe, John" <John.Doe@Example.COM>', "Doe, John", "john.doe@example.com"),
        ("john@example.com", "", "john@example.com"),
        ("john@example.com (John Doe)", "John Doe", "john@example.com"),
        ("=?utf-8?Q?Doe=2C_J=C3=BCrgen?= <j@example.com>", "Doe, Jürgen", "j@example.com"),
        ("garbage without address", "", ""),
        ("<<<>>>", "", ""),
        ("Mail Delivery Subsystem <MAILER-DAEMON>", "", ""),
    ],
)
def test_from_address(header, name, address):
    mail = parse_mail(f"From: {header}\nSubject: s\n\nbody".encode())
    assert mail.from_address == address
    if address:
        assert mail.from_name == name


@pytest.mark.parametrize(
    "value, expected",
    [
        ("Mon, 06 Jan 2025 09:15:00 +0100", datetime(2025, 1, 6, 8, 15, tzinfo=timezone.utc)),
        ("6 Jan 2025 09:15:00 GMT", datetime(2025, 1, 6, 9, 15, tzinfo=timezone.utc)),
        ("Mon, 06 Jan 2025 09:15:00", datetime(2025, 1, 6, 9, 15, tzinfo=timezone.utc)),  # no zone: UTC
        ("Mon, 06 Jan 25 09:15:00 -0500 (EST)", datetime(2025, 1, 6, 14, 15, tzinfo=timezone.utc)),
        ("not a date", None),
        ("Mon, 45 Foo 2025 99:99:99 +9999", None),
    ],
)
def test_dates(value, expected):
    mail = parse_mail(f"From: a@example.com\nDate: {value}\n\nx".encode())
    assert mail.date == expected
    assert mail.date is None or mail.date.tzinfo is not None


@pytest.mark.parametrize(
    "encoded, expected",
    [
        ("=?utf-8?q?caf=C3=A9?=", "café"),
        ("=?UTF-8?B?Y2Fmw6k=?=", "café"),
        ("=?utf-8?B?Y2Fmw6k?=", "café"),  # missing padding
        ("a =?utf-8?q?b?= c", "a b c"),
        ("=?utf-8?q?a?= =?utf-8?q?b?=", "ab"),  # space between words dropped
        ("=?utf-8*en?q?lang?=", "lang"),  # RFC 2231 language
        ("=?bogus-charset?q?caf=E9?=", "café"),
        ("=?utf-8?q?unterminated", "unterminated"),
        ("x=?utf-8?q?y?=z", "xyz"),
        ("plain text", "plain text"),
        ("=?ks_c_5601-1987?B?x9Gxub7u?=", "한국어"),
    ],
)
def test_decode_rfc2047(encoded, expected):
    assert decode_rfc2047(encoded) == expected


@pytest.mark.parametrize(
    "label",
    ["cp949", "cp932", "x-cp1252", "utf-16", "utf-32", "base64", "rot13", "idna", "unicode-escape", "undefined",
     "'", "?", "*", "utf-8*", "a" * 64, "hz-gb-2312", "iso-2022-kr", "mac-roman", "tis-620"],
)
def test_encoded_words_with_odd_charsets_never_raise(label):
    assert isinstance(decode_rfc2047(f"x =?{label}?B?SGVsbG8gV29ybGQ=?= =?{label}?Q?=FF=00_y?= z"), str)


def test_header_bom_and_leading_blank_lines():
    mail = parse_mail(b"\xef\xbb\xbf\r\n\r\nFrom: a@example.com\r\nSubject: BOM\r\n\r\nbody")
    assert mail.subject == "BOM" and mail.from_address == "a@example.com"


# --- charsets ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "label, codec",
    [
        ("utf8", "utf-8"),
        ("UTF-8", "utf-8"),
        ('"utf-8"', "utf-8"),
        ("uft-8", "utf-8"),
        ("latin1", "cp1252"),
        ("ISO-8859-1", "cp1252"),
        ("x-unknown", None),
        ("unknown-8bit", None),
        ("unicode-1-1-utf-7", "utf-7"),
        ("ks_c_5601-1987", "cp949"),
        ("cp949", "cp949"),
        ("CP-936", "gb18030"),
        ("ms932", "cp932"),
        ("big5", "big5hkscs"),
        ("gb2312", "gb18030"),
        ("Shift_JIS", "cp932"),
        ("win-1251", "cp1251"),
        ("windows-1252", "cp1252"),
        ("koi8-r", "koi8_r"),
        ("iso-8859-15", "iso8859_15"),
        ("base64", None),  # a codec, but not a text encoding
        ("rot13", None),
        ("no-such-charset", None),
        ("", None),
    ],
)
def test_normalize_charset(label, codec):
    assert normalize_charset(label) == codec


@pytest.mark.parametrize(
    "data, charset, expected",
    [
        ("Grüße".encode("utf-8"), "utf-8", "Grüße"),
        ("Grüße".encode("cp1252"), "utf-8", "Grüße"),  # wrong label
        ("Grüße".encode("utf-8"), "iso-8859-1", "Grüße"),  # UTF-8 labelled Latin-1
        ("Grüße".encode("cp1252"), None, "Grüße"),
        ("Привет".encode("koi8-r"), "koi8-r", "Привет"),
        ("+ACI-quoted+ACI-".encode("ascii"), "unicode-1-1-utf-7", '"quoted"'),
        ("日本".encode("euc_jp"), "iso-2022-jp", "日本"),  # mislabelled Japanese
        (b"\x81\x8d\x8f", "windows-1252", "\x81\x8d\x8f"),  # bytes cp1252 leaves undefined
        (b"a\x00b", "utf-8", "ab"),  # NUL removed
        ("\ufeffBOM".encode("utf-8"), None, "BOM"),
    ],
)
def test_decode_bytes(data, charset, expected):
    assert decode_bytes(data, charset)[0] == expected


def test_body_charset_aliases():
    raw = "From: a@example.com\nContent-Type: text/plain; charset=latin1\nContent-Transfer-Encoding: 8bit\n\nK\xf6ln"
    assert parse_mail(raw.encode("latin-1")).text_body == "Köln"


# --- html to text -----------------------------------------------------------------------------


def test_html_to_text_quotes_and_entities():
    text = html_to_text("<p>A&amp;B&nbsp;C</p><blockquote><p>quoted</p></blockquote><script>x()</script>after")
    assert text == "A&B C\n\n> quoted\n\nafter"


def test_html_to_text_never_raises():
    assert html_to_text("<a href='<<<'>x</a><!-- unclosed") is not None
    assert html_to_text("") == ""


# --- hostile input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\x01\x02",
        b"\n\n\n",
        b"no headers at all",
        b"Content-Type: multipart/mixed\n\n--x\n",
        b"Content-Type: multipart/mixed; boundary=\n\n",
        b"Content-Type: text/plain; charset=\"\n\nx",
        b"Content-Type: message/rfc822\n\n",
        b"Content-Transfer-Encoding: base64\n\n====",
        b"Content-Transfer-Encoding: x-uuencode\n\nbegin 644 x\n`\nend\n",
        b"Subject: =?=?=?\n\n",
        b"From: \xff\xfe\xfd\nSubject: \xc3\x28\n\n\xff",
        "From: a@b\nSubject: ok\n\n".encode() * 1000,
    ],
)
def test_never_raises_on_garbage(raw):
    mail = parse_mail(raw)
    assert isinstance(mail.text_body, str)


def test_never_raises_on_non_bytes():
    assert parse_mail("From: a@example.com\n\nx").from_address == "a@example.com"  # type: ignore[arg-type]
    assert parse_mail(None).defects  # type: ignore[arg-type]


def test_random_bytes_never_raise():
    rng = random.Random(1234)
    for _ in range(200):
        raw = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
        parse_mail(b"Content-Type: multipart/mixed; boundary=b\n\n--b\n" + raw)
        parse_mail(raw)


def _nested(depth: int) -> bytes:
    head = b"".join(b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (i, i) for i in range(depth))
    tail = b"".join(b"\n--b%d--\n" % i for i in reversed(range(depth)))
    return b"From: a@example.com\nSubject: bomb\n" + head + b"Content-Type: text/plain\n\ndeep\n" + tail


def test_deep_nesting_is_bounded():
    mail = parse_mail(_nested(MAX_DEPTH + 5))
    assert mail.subject == "bomb"
    assert any("nesting deeper" in d for d in mail.defects)


def test_nesting_beyond_recursion_limit_falls_back_to_headers():
    mail = parse_mail(_nested(1500))
    assert mail.subject == "bomb"
    assert mail.defects


def test_part_count_is_bounded():
    raw = b"From: a@example.com\nSubject: wide\nContent-Type: multipart/mixed; boundary=x\n\n"
    raw += b"--x\nContent-Type: application/octet-stream\n\nA\n" * (MAX_PARTS + 50) + b"--x--\n"
    mail = parse_mail(raw)
    assert len(mail.parts) < MAX_PARTS
    assert any(f"more than {MAX_PARTS}" in d for d in mail.defects)


def test_message_rfc822_encoded_in_base64_is_decoded():
    inner = b"From: x@example.com\nSubject: inner\n\nhello\n"
    import base64

    raw = (
        b"From: a@example.com\nSubject: outer\nContent-Type: multipart/mixed; boundary=z\n\n--z\n"
        b"Content-Type: text/plain\n\nsee attached\n--z\nContent-Type: message/rfc822\n"
        b"Content-Transfer-Encoding: base64\n\n" + base64.encodebytes(inner) + b"--z--\n"
    )
    mail = parse_mail(raw)
    assert parse_mail(mail.parts[0].data).subject == "inner"


# --- no quadratic blow-ups on hostile input ------------------------------------------------------

HOSTILE_HTML = [
    "<a" * 100_000,
    "</" * 100_000,
    "< a" * 100_000,
    "<!" * 100_000,
    "<div>" * 100_000,
    "<img " * 50_000,
    '<a x="' * 50_000,
    "<p>" + "word " * 200_000,
]


@pytest.mark.parametrize("markup", HOSTILE_HTML, ids=lambda m: repr(m[:6]))
def test_html_only_mail_with_hostile_markup_is_fast(markup):
    raw = b"From: a@example.com\nSubject: s\nContent-Type: text/html; charset=utf-8\n\n" + markup.encode()
    with cpu_budget(5):
        mail = parse_mail(raw)
    assert mail.text_from_html


def test_hostile_content_type_parameters_are_fast():
    raw = b'From: a@example.com\nContent-Type: multipart/mixed; a="' + b";" * 200_000 + b'"; boundary=x\n\n--x\n\nhi\n--x--\n'
    with cpu_budget(5):
        parse_mail(raw)


@pytest.mark.parametrize("header", ["References", "In-Reply-To", "From", "To", "Message-ID"])
def test_hostile_id_and_address_headers_are_fast(header):
    for value in ("a" * 300_000, "(" * 50_000, "<" * 300_000, "a@" * 100_000):
        with cpu_budget(5, f"parse_mail on {value[:5]!r}..."):
            parse_mail(f"{header}: {value}\nSubject: s\n\nx".encode())


# --- the package's shape (issue 7 §3) ----------------------------------------------------------


def _mail_modules():
    import shared_code.domain.mail as package

    return {path.stem: path for path in Path(package.__file__).parent.glob("*.py")}


def test_mail_is_a_package_of_small_modules_not_named_like_the_stdlib():
    modules = _mail_modules()
    assert {"charsets", "headers", "addresses", "payload", "html_text", "mime_walk", "parse"} <= set(modules)
    for name, path in modules.items():
        assert len(path.read_text().splitlines()) <= 300, f"{name}.py is over 300 lines"
        assert name == "__init__" or name not in sys.stdlib_module_names, f"{name}.py shadows the stdlib"


def test_mail_modules_import_each_other_without_cycles():
    graph = {}
    for name, path in _mail_modules().items():
        graph[name] = {
            node.module for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module
        }
    done: set[str] = set()

    def visit(name: str, chain: tuple[str, ...]) -> None:
        assert name not in chain, f"import cycle: {' -> '.join(chain + (name,))}"
        if name not in done:
            for imported in graph.get(name, ()):
                visit(imported, chain + (name,))
            done.add(name)

    for name in graph:
        visit(name, ())
    assert "mime_walk" in graph["parse"] and "charsets" in graph["payload"]  # the graph was read


def test_mail_package_exports_the_names_the_repo_imports():
    import shared_code.domain.mail as package

    root = Path(package.__file__).parents[3]
    imported: set[str] = set()
    for folder in ("shared_code", "tests", "benchmarks", "scripts"):
        for path in (root / folder).rglob("*.py"):
            for match in re.finditer(r"from (?:shared_code\.domain|\.\.domain|)\.mail import (\([^)]*\)|[^\n]*)", path.read_text()):
                imported |= {name.strip() for name in match.group(1).strip("()").split(",") if name.strip()}
    assert {"parse_mail", "ParsedMail", "MailPart"} <= imported
    assert imported <= set(package.__all__)
    assert all(hasattr(package, name) for name in package.__all__)
