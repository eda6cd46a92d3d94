"""build_content: sanitizing, inline images, cutting replies, attachment limits."""
from __future__ import annotations

import base64

import pytest

from shared_code.domain.content import Content, build_content, format_size, is_forward_subject, sanitize_html
from shared_code.domain.mail import MailPart, ParsedMail, parse_mail
from shared_code.domain.quotes import DEFAULT_SEPARATOR
from tests.data import big_attachment_mail, load
from tests.work_budget import cpu_budget

MB = 1024 * 1024
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC")


def url_for(part: MailPart) -> str:
    return f"https://files.contoso.example/a/{part.filename}?sig=1&x=2"


def build(mail: ParsedMail, *, is_reply: bool = False, max_bytes: int = 10 * MB, max_count: int = 20) -> Content:
    return build_content(
        mail, url_for=url_for, separator=DEFAULT_SEPARATOR, is_reply=is_reply,
        max_attachment_bytes=max_bytes, max_attachments=max_count,
    )


def html_mail(html: str, parts: list[MailPart] | None = None, subject: str = "Re: [#1] x", text: str = "text") -> ParsedMail:
    return ParsedMail(
        message_id="m@example.com", in_reply_to=[], references=[], subject=subject, from_name="",
        from_address="a@example.com", to=[], cc=[], date=None, headers={}, content_type="multipart/related",
        report_type=None, text_body=text, html_body=html, parts=parts or [],
    )


def image(name: str = "image001.png", cid: str | None = "image001.png@01DB6234.5A8B2C40") -> MailPart:
    return MailPart(filename=name, content_type="image/png", data=PNG, content_id=cid, inline=cid is not None)


# --- sanitizer --------------------------------------------------------------------------------


def test_scripts_handlers_forms_and_remote_css_removed():
    content = build(parse_mail(load("html_with_scripts.eml")))
    html = content.body_html
    for forbidden in ("<script", "alert", "onclick", "onload", "onerror", "javascript:", "vbscript:", "<form",
                      "<input", "<button", "<iframe", "frame fallback", "<style", "@font-face", "tracker.example.net",
                      "position", "document.cookie", "<svg"):
        assert forbidden not in html, forbidden
    assert '<a href="https://www.example.net/help"' in html
    assert 'rel="noopener noreferrer nofollow"' in html
    assert "color:red" in html
    assert '<td style="font-weight:bold">Kept table cell</td>' in html
    assert "this link" in html  # the text of the neutralised link stays


@pytest.mark.parametrize(
    "dirty, absent",
    [
        ('<a href="JaVaScRiPt:alert(1)">x</a>', "alert"),
        ('<a href="java&#x09;script:alert(1)">x</a>', "alert"),
        ('<img src="javascript:alert(1)">', "alert"),
        ('<a href="cid:part">x</a>', "cid:"),
        ('<p style="width: expression(alert(1))">x</p>', "expression"),
        ('<p style="background: url(https://t.example.net/p.gif)">x</p>', "t.example.net"),
        ('<object data="x.swf"></object><embed src="x.swf">', "swf"),
        ("<meta http-equiv=refresh content='0;url=https://evil.example.net'>", "evil"),
        ('<base href="https://evil.example.net/">', "evil"),
        ('<link rel="stylesheet" href="https://evil.example.net/x.css">', "evil"),
        ("<div id=\"login\" class=\"x\">x</div>", "login"),
    ],
)
def test_sanitizer_cases(dirty, absent):
    assert absent not in sanitize_html(dirty)


def test_sanitizer_keeps_mail_formatting():
    html = ('<table width="100%" cellpadding="2"><tbody><tr><td colspan="2" bgcolor="#eeeeee">'
            '<font color="red" face="Arial">x</font></td></tr></tbody></table><img src="https://example.com/l.png" alt="l">')
    assert sanitize_html(html) == html


# --- inline images ----------------------------------------------------------------------------


def test_outlook_cid_images_become_inline():
    content = build(parse_mail(load("outlook_related_cid.eml")))
    assert [p.filename for p in content.inline] == ["image001.png", "image002.jpg"]
    assert all(p.inline for p in content.inline)
    assert content.attachments == [] and content.rejected == []
    assert 'src="https://files.contoso.example/a/image001.png?sig=1&amp;x=2"' in content.body_html
    assert 'src="https://files.contoso.example/a/image002.jpg?sig=1&amp;x=2"' in content.body_html
    assert "cid:" not in content.body_html
    assert "Aptos" not in content.body_html  # <style> dropped


@pytest.mark.parametrize(
    "src",
    [
        "cid:image001.png@01DB6234.5A8B2C40",
        "CID:image001.png@01db6234.5a8b2c40",
        "cid:&lt;image001.png@01DB6234.5A8B2C40&gt;",
        "cid:<image001.png@01DB6234.5A8B2C40>",
        "cid:%3Cimage001.png%4001DB6234.5A8B2C40%3E",
        "cid:image001.png%4001DB6234.5A8B2C40",
        " cid:image001.png@01DB6234.5A8B2C40 ",
        "image001.png",
        "IMAGE001.PNG",
        "image001.png@01DB6234.5A8B2C40",
    ],
)
def test_cid_references_in_all_forms(src):
    mail = html_mail(f'<p>see <img src="{src}" alt="shot"></p>', [image()])
    content = build(mail)
    assert [p.filename for p in content.inline] == ["image001.png"]
    assert content.attachments == []
    assert 'src="https://files.contoso.example/a/image001.png?sig=1&amp;x=2"' in content.body_html
    assert "cid" not in content.body_html.lower()


def test_single_quoted_and_unquoted_src():
    mail = html_mail("<img src='cid:a@x'><img src=cid:b@x>", [image("a.png", "a@x"), image("b.png", "b@x")])
    content = build(mail)
    assert [p.filename for p in content.inline] == ["a.png", "b.png"]
    assert content.body_html.count("https://files.contoso.example/") == 2


def test_unreferenced_cid_part_is_kept_as_attachment():
    signature = image("logo.png", "logo@example.com")
    mail = html_mail('<img src="cid:image001.png@01DB6234.5A8B2C40">', [image(), signature])
    content = build(mail)
    assert [p.filename for p in content.inline] == ["image001.png"]
    assert [(p.filename, p.inline, p.content_id) for p in content.attachments] == [("logo.png", False, "logo@example.com")]


def test_image_referenced_twice_is_stored_once():
    mail = html_mail('<img src="cid:image001.png@01DB6234.5A8B2C40"><img src="image001.png">', [image()])
    content = build(mail)
    assert len(content.inline) == 1
    assert content.body_html.count("files.contoso.example") == 2


def test_unknown_cid_left_alone_and_nothing_invented():
    content = build(html_mail('<img src="cid:missing@x">', [image()]))
    assert content.inline == [] and [p.filename for p in content.attachments] == ["image001.png"]
    assert 'src="cid:missing@x"' in content.body_html


def test_data_uri_image_is_extracted():
    content = build(parse_mail(load("data_uri_image.eml")))
    assert [(p.filename, p.content_type, p.inline) for p in content.inline] == [("embedded-image-1.png", "image/png", True)]
    assert content.inline[0].data.startswith(b"\x89PNG")
    assert "data:" not in content.body_html
    assert 'src="https://files.contoso.example/a/embedded-image-1.png?sig=1&amp;x=2"' in content.body_html
    assert '<img data-remote-src="https://www.example.com/logo.png" alt="logo">' in content.body_html  # not loaded


def test_data_uri_svg_becomes_attachment_not_inline():
    svg = base64.b64encode(b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>").decode()
    content = build(html_mail(f'<p>x</p><img src="data:image/svg+xml;base64,{svg}">'))
    assert content.inline == []
    assert [(p.filename, p.inline) for p in content.attachments] == [("embedded-image-1.svg", False)]
    assert "data:" not in content.body_html and "alert" not in content.body_html


def test_data_uri_name_does_not_collide():
    mail = html_mail(f'<img src="data:image/png;base64,{base64.b64encode(PNG).decode()}">',
                     [MailPart("embedded-image-1.png", "application/octet-stream", b"x")])
    names = {p.filename for p in build(mail).inline}
    assert names == {"embedded-image-1-2.png"}


def test_parse_mail_is_not_modified():
    mail = parse_mail(load("outlook_related_cid.eml"))
    before = [(p.filename, p.inline) for p in mail.parts], mail.html_body
    build(mail)
    assert ([(p.filename, p.inline) for p in mail.parts], mail.html_body) == before


def test_text_only_mail_keeps_inline_parts_as_attachments():
    mail = parse_mail(load("attachment_names.eml"))
    content = build(mail)
    assert content.body_html == ""
    assert content.inline == []
    assert len(content.attachments) == 6 and not any(p.inline for p in content.attachments)


# --- replies ----------------------------------------------------------------------------------


def test_reply_is_cut_in_text_and_html():
    content = build(parse_mail(load("gmail_reply.eml")), is_reply=True)
    assert content.body_text == "Thanks, clearing the cache fixed it. You can close the ticket.\n\nAlice"
    assert "Thanks, clearing the cache" in content.body_html
    assert "reply above" not in content.body_html and "wrote" not in content.body_html


def test_not_cut_when_not_a_reply():
    content = build(parse_mail(load("gmail_reply.eml")), is_reply=False)
    assert "reply above this line" in content.body_text
    assert "reply above this line" in content.body_html


def test_forward_is_never_cut_even_as_a_reply():
    mail = parse_mail(load("forward.eml"))
    content = build(mail, is_reply=True)
    assert content.body_text == mail.text_body
    assert "invoice 2025-001 lists 12 licences" in content.body_html


@pytest.mark.parametrize("subject", ["Fwd: x", "FW: x", "WG: x", "TR: x", "[#1] Fwd: x", "fwd:x"])
def test_forward_subjects(subject):
    assert is_forward_subject(subject)


@pytest.mark.parametrize("subject", ["Re: Fwd: x", "Forward planning", "Re: x", ""])
def test_not_forward_subjects(subject):
    assert not is_forward_subject(subject)


def test_image_only_in_cut_history_is_kept_as_attachment():
    html = ('<div>Thanks!</div><div class="gmail_quote">On Mon, Jan 6, 2025 Support wrote:'
            '<blockquote><img src="cid:image001.png@01DB6234.5A8B2C40"></blockquote></div>')
    content = build(html_mail(html, [image()]), is_reply=True)
    assert content.inline == []
    assert [p.filename for p in content.attachments] == ["image001.png"]
    assert "img" not in content.body_html


def test_html_only_reply_text_follows_the_cut_html():
    mail = parse_mail(
        b"From: a@example.com\nSubject: Re: [#1] x\nContent-Type: text/html\n\n"
        b'<div>Yes, works now.</div><div class="gmail_quote"><div>On Mon, Jan 6, 2025 Support wrote:</div>'
        b"<blockquote>old text</blockquote></div>"
    )
    content = build(mail, is_reply=True)
    assert content.body_text == "Yes, works now."


# --- limits -----------------------------------------------------------------------------------


def test_big_attachment_is_rejected_with_a_reason():
    mail = parse_mail(big_attachment_mail(size=12 * MB + 300 * 1024))
    content = build(mail, max_bytes=10 * MB)
    assert content.attachments == []
    assert content.rejected == ["big.zip (12.3 MB) exceeds the 10 MB attachment limit"]
    assert content.body_text == "The log files are attached."


def test_attachment_exactly_at_the_limit_is_accepted():
    mail = parse_mail(big_attachment_mail())  # exactly 10 MB
    content = build(mail, max_bytes=10 * MB)
    assert [(p.filename, len(p.data)) for p in content.attachments] == [("big.zip", 10 * MB)]
    assert content.rejected == []


def test_attachment_count_limit():
    parts = [MailPart(f"file{i}.txt", "text/plain", b"x" * 10) for i in range(5)]
    content = build(html_mail("<p>files</p>", parts), max_count=3)
    assert [p.filename for p in content.attachments] == ["file0.txt", "file1.txt", "file2.txt"]
    assert content.rejected == [
        "file3.txt (10 bytes) was not stored: more than 3 attachments",
        "file4.txt (10 bytes) was not stored: more than 3 attachments",
    ]


def test_rejected_inline_image_loses_its_src_but_keeps_alt():
    big = MailPart("huge.png", "image/png", b"\x89PNG" + b"0" * (2 * MB), "huge@x", True)
    content = build(html_mail('<p><img src="cid:huge@x" alt="diagram"></p>', [big]), max_bytes=1 * MB)
    assert content.inline == []
    assert content.rejected == ["huge.png (2.0 MB) exceeds the 1 MB attachment limit"]
    assert '<img alt="diagram">' in content.body_html


def test_inline_images_count_first():
    parts = [MailPart("a.txt", "text/plain", b"a"), image()]
    content = build(html_mail('<img src="cid:image001.png@01DB6234.5A8B2C40">', parts), max_count=1)
    assert [p.filename for p in content.inline] == ["image001.png"]
    assert content.rejected == ["a.txt (1 bytes) was not stored: more than 1 attachments"]


@pytest.mark.parametrize(
    "size, text", [(0, "0 bytes"), (1023, "1023 bytes"), (1536, "1.5 KB"), (10 * MB, "10 MB"), (12 * MB + 300 * 1024, "12.3 MB")]
)
def test_format_size(size, text):
    assert format_size(size) == text


@pytest.mark.parametrize(
    "html",
    ["<img " * 50_000, '<img "' * 50_000, "<img " + "a='x' " * 20_000 + "src",
     '<img src="data:image/png;base64,' + "A" * 2_000_000, "<img src=cid:x>" * 20_000],
    ids=lambda h: repr(h[:8]),
)
def test_build_content_is_fast_on_hostile_markup(html):
    with cpu_budget(10):
        build(html_mail(html, [image("x.png", "x")]))


def test_src_inside_alt_is_not_taken_for_the_src():
    content = build(html_mail('<img alt="x src=cid:image001.png@01DB6234.5A8B2C40" src="https://example.com/a.png">', [image()]))
    assert content.inline == []
    assert ' data-remote-src="https://example.com/a.png"' in content.body_html


# --- remote and relative images, links, CSS loads ---------------------------------------------


def _img_attributes(html: str) -> list[str]:
    import re

    return re.findall(r"<img\b[^>]*>", html)


def test_tracking_pixel_is_kept_unloaded():
    content = build(html_mail('<p>Hi</p><img src="https://t.example.net/open?id=42&amp;u=7" width="1" height="1" alt="">'))
    assert _img_attributes(content.body_html) == [
        '<img data-remote-src="https://t.example.net/open?id=42&amp;u=7" width="1" height="1" alt="">']
    assert " src=" not in content.body_html


@pytest.mark.parametrize("src", [
    "http://t.example.net/p.gif", "HTTPS://t.example.net/p.gif", " https://t.example.net/p.gif ",
    "ht&#x09;tps://t.example.net/p.gif", "https&#58;//t.example.net/p.gif",
])
def test_remote_image_spellings_are_not_loaded(src):
    html = build(html_mail(f'<img src="{src}" alt="a">')).body_html
    assert " src=" not in html
    assert 'data-remote-src="http' in html.lower()


@pytest.mark.parametrize("src", [
    "/api/tickets/close?number=1", "../x.png", "logo.png", "//t.example.net/p.gif", "\\\\t.example.net\\p.gif",
    "https:/t.example.net/p.gif", "https:t.example.net", "ftp://t.example.net/p.gif",
])
def test_relative_and_protocol_relative_images_are_removed(src):
    html = build(html_mail(f'<p><img src="{src}" alt="pic"></p>', [image()])).body_html
    assert _img_attributes(html) == ['<img alt="pic">']
    assert "t.example.net" not in html


def test_stored_and_remote_images_side_by_side():
    html = build(html_mail('<img src="cid:image001.png@01DB6234.5A8B2C40"><img src="https://t.example.net/x.png">',
                           [image()])).body_html
    assert _img_attributes(html) == ['<img src="https://files.contoso.example/a/image001.png?sig=1&amp;x=2">',
                                     '<img data-remote-src="https://t.example.net/x.png">']


@pytest.mark.parametrize("markup", [
    '<img srcset="https://t.example.net/a.png 1x, https://t.example.net/b.png 2x" alt="a">',
    '<img lowsrc="https://t.example.net/a.png" dynsrc="https://t.example.net/b.avi">',
    '<table background="https://t.example.net/bg.png"><tr><td background="https://t.example.net/c.png">x</td></tr></table>',
    '<p style="background-image: url(https://t.example.net/u.png)">x</p>',
    '<p style="list-style-type: u\\72l(https://t.example.net/u.png)">x</p>',
    '<p style="font-family: \\75 rl(https://t.example.net/u.png)">x</p>',
    '<p style="width: image-set(\'https://t.example.net/u.png\' 1x)">x</p>',
    '<p style="color:red;/**/width: u/**/rl(https://t.example.net/u.png)">x</p>',
    '<video poster="https://t.example.net/v.png"></video><input type="image" src="https://t.example.net/i.png">',
    '<body background="https://t.example.net/b.png">x</body>',
])
def test_no_other_attribute_or_css_loads_a_remote_resource(markup):
    html = build(html_mail(markup)).body_html
    assert "t.example.net" not in html


def test_relative_and_protocol_relative_links_are_removed():
    html = build(html_mail('<a href="/api/tickets/1/close">a</a><a href="//evil.example.net/x">b</a>'
                           '<a href="https://ok.example.org/">c</a><a href="https:api/tickets">d</a>'
                           '<a href="https:/api/tickets">e</a>')).body_html
    assert "/api/tickets" not in html and "evil.example.net" not in html and "api/tickets" not in html
    assert '<a href="https://ok.example.org/"' in html
    assert ">a</a>" in html and ">b</a>" in html  # the link text stays


# --- stored content types ---------------------------------------------------------------------


@pytest.mark.parametrize("declared, stored", [
    ("text/html", "application/octet-stream"),
    ("image/svg+xml", "application/octet-stream"),
    ("application/javascript", "application/octet-stream"),
    ("application/x-unknown-thing", "application/octet-stream"),
    ("message/rfc822", "application/octet-stream"),
    ("application/pdf", "application/pdf"),
    ("image/jpg", "image/jpeg"),
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("application/zip", "application/zip"),
    ("text/plain", "text/plain"),
])
def test_stored_content_type_comes_from_the_allow_list(declared, stored):
    part = MailPart("file", declared, b"<html><script>alert(1)</script></html>")
    for mail in (html_mail("<p>x</p>", [part]), html_mail(None, [part])):  # HTML and text-only mails
        content = build(mail)
        assert [p.content_type for p in content.attachments] == [stored]
    assert part.content_type == declared  # the parsed mail is not changed


def test_svg_referenced_as_inline_image_is_an_attachment_not_shown():
    svg = MailPart("logo.svg", "image/svg+xml", b"<svg onload='alert(1)'/>", "logo@x", True)
    content = build(html_mail('<img src="cid:logo@x" alt="logo"><img src="logo.svg">', [svg]))
    assert content.inline == []
    assert [(p.filename, p.content_type, p.inline) for p in content.attachments] == [
        ("logo.svg", "application/octet-stream", False)]
    assert "files.contoso.example" not in content.body_html
