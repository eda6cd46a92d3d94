"""Rule 5, content: bodies, sanitized HTML with images rewritten to stored URLs, attachments
stored content-addressed in the `attachments` container, refused parts in the system log."""
from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from urllib.parse import quote

from shared_code.adapters.names import ATTACHMENTS
from shared_code.domain.thread_match import ThreadMatch
from shared_code.pipeline.content import content

from . import SUPPORT, compose, inbound, make_ctx

PNG = b"\x89PNG\r\n\x1a\n" + b"logo-pixels" * 20
PDF = b"%PDF-1.4\n" + b"invoice " * 50
LOGO_HTML = '<p>Hi <img src="cid:logo@mail.example.org" alt="logo"></p><script>alert(1)</script>'


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _rich_mail(**changes):
    fields = dict(html=LOGO_HTML, related=[("logo.png", "image/png", PNG, "logo@mail.example.org")],
                  attachments=[("Rechnung März #1.pdf", "application/pdf", PDF)])
    fields.update(changes)
    return inbound(compose(**fields))


def _etag(desk, name: str) -> str:
    return desk.connection.blob_service.get_blob_client(ATTACHMENTS, name).get_blob_properties().etag


def test_a_plain_mail_keeps_its_text_and_stores_nothing(desk, ctx):
    mail = inbound(compose(body="Hello, the printer is on fire."))

    content(mail, ctx)

    assert mail.content.body_text.strip() == "Hello, the printer is on fire."
    assert mail.content.body_html == ""
    assert mail.attachments == []
    assert desk.blobs.names(ATTACHMENTS) == []
    assert mail.outcome is None


def test_inline_images_and_attachments_are_stored_by_content_hash(desk, ctx):
    mail = _rich_mail()

    content(mail, ctx)

    assert sorted(desk.blobs.names(ATTACHMENTS)) == sorted([_sha(PNG), _sha(PDF)])
    assert desk.blobs.get(ATTACHMENTS, _sha(PNG)) == PNG
    assert desk.blobs.get(ATTACHMENTS, _sha(PDF)) == PDF
    properties = desk.connection.blob_service.get_blob_client(ATTACHMENTS, _sha(PDF)).get_blob_properties()
    assert properties.content_settings.content_type == "application/pdf"
    logo, invoice = mail.attachments
    assert (logo.name, logo.inline, logo.sha256, logo.size, logo.content_id) == (
        "logo.png", True, _sha(PNG), len(PNG), "logo@mail.example.org")
    assert (invoice.name, invoice.inline, invoice.sha256, invoice.content_type) == (
        "Rechnung März #1.pdf", False, _sha(PDF), "application/pdf")


def test_cid_references_become_host_free_attachment_references(ctx):
    mail = _rich_mail()

    content(mail, ctx)

    logo, invoice = mail.attachments
    assert logo.url == f"attachment:{_sha(PNG)}/logo.png"
    assert invoice.url == f"attachment:{_sha(PDF)}/{quote('Rechnung März #1.pdf', safe='')}"
    assert "://" not in mail.content.body_html  # no host: moving the app breaks nothing
    assert f'src="{logo.url}"' in mail.content.body_html
    assert "cid:" not in mail.content.body_html
    assert "<script" not in mail.content.body_html and "alert(1)" not in mail.content.body_html


def test_a_data_uri_image_is_stored_and_linked(desk, ctx):
    encoded = base64.b64encode(PNG).decode()
    mail = inbound(compose(html=f'<p>Look: <img src="data:image/png;base64,{encoded}"></p>'))

    content(mail, ctx)

    [image] = mail.attachments
    assert image.inline is True and image.sha256 == _sha(PNG)
    assert desk.blobs.get(ATTACHMENTS, _sha(PNG)) == PNG
    assert "data:" not in mail.content.body_html
    assert image.url in mail.content.body_html


def test_the_same_file_in_two_mails_is_stored_once(desk, ctx):
    first = _rich_mail()
    content(first, ctx)
    etags = {name: _etag(desk, name) for name in desk.blobs.names(ATTACHMENTS)}

    second = _rich_mail(html='<p>Again <img src="cid:logo@mail.example.org"></p>')
    content(second, ctx)

    assert {name: _etag(desk, name) for name in desk.blobs.names(ATTACHMENTS)} == etags  # not rewritten
    assert [a.url for a in second.attachments] == [a.url for a in first.attachments]


def test_the_same_file_twice_in_one_mail_is_one_blob(desk, ctx):
    mail = inbound(compose(attachments=[("a.pdf", "application/pdf", PDF), ("copy of a.pdf", "application/pdf", PDF)]))

    content(mail, ctx)

    assert [a.name for a in mail.attachments] == ["a.pdf", "copy of a.pdf"]
    assert desk.blobs.names(ATTACHMENTS) == [_sha(PDF)]


def test_an_attachment_over_the_size_limit_is_refused_and_logged(desk):
    ctx = make_ctx(desk, settings=replace(desk.settings, max_attachment_bytes=len(PDF) - 1))
    mail = inbound(compose(attachments=[("big.pdf", "application/pdf", PDF), ("small.txt", "text/plain", b"ok")]))
    mail.key = "refused@example.org"

    content(mail, ctx)

    assert [a.name for a in mail.attachments] == ["small.txt"]
    assert _sha(PDF) not in desk.blobs.names(ATTACHMENTS)
    [reason] = mail.content.rejected
    assert "big.pdf" in reason and "limit" in reason
    [entry] = [e for e in desk.syslog.list() if e["title"] == "Attachment not stored"]
    assert entry["level"] == "warning"
    assert entry["account"] == SUPPORT
    assert reason in entry["message"]
    assert "refused@example.org" in entry["message"] and SUPPORT in entry["message"]


def test_attachments_over_the_count_limit_are_refused_and_logged(desk):
    ctx = make_ctx(desk, settings=replace(desk.settings, max_attachments=1))
    mail = inbound(compose(attachments=[("one.pdf", "application/pdf", PDF), ("two.txt", "text/plain", b"2")]))

    content(mail, ctx)

    assert [a.name for a in mail.attachments] == ["one.pdf"]
    assert desk.blobs.names(ATTACHMENTS) == [_sha(PDF)]
    assert any("two.txt" in e["message"] for e in desk.syslog.list() if e["title"] == "Attachment not stored")


def test_nothing_is_logged_when_every_part_is_stored(desk, ctx):
    content(_rich_mail(), ctx)

    assert [e for e in desk.syslog.list() if e["title"] == "Attachment not stored"] == []


REPLY = ("Thanks, it works now.\n\n"
         "On Mon, 23 Nov 2026 at 10:00, Contoso Support <support@contoso.example> wrote:\n"
         "> Please restart the printer.\n")


def test_quoted_history_is_cut_from_a_reply(ctx):
    mail = inbound(compose(subject="Re: Printer on fire", body=REPLY))
    mail.thread = ThreadMatch("482913", "in-reply-to")

    content(mail, ctx)

    assert mail.content.body_text.strip() == "Thanks, it works now."


def test_quoted_history_is_kept_in_a_new_ticket(ctx):
    mail = inbound(compose(subject="Re: Printer on fire", body=REPLY))

    content(mail, ctx)

    assert "Please restart the printer." in mail.content.body_text


def test_a_replay_gives_the_same_content_and_stores_nothing_new(desk, ctx):
    first = _rich_mail(message_id="<replayed@example.org>")
    content(first, ctx)
    etags = {name: _etag(desk, name) for name in desk.blobs.names(ATTACHMENTS)}

    replay = inbound(compose(html=LOGO_HTML, related=[("logo.png", "image/png", PNG, "logo@mail.example.org")],
                             attachments=[("Rechnung März #1.pdf", "application/pdf", PDF)],
                             message_id="<replayed@example.org>"))
    replay.claim = {"ticket": "482913", "new_ticket": True, "entry_id": "E"}
    content(replay, ctx)

    assert replay.attachments == first.attachments
    assert replay.content.body_html == first.content.body_html
    assert {name: _etag(desk, name) for name in desk.blobs.names(ATTACHMENTS)} == etags


def test_sender_chosen_html_and_svg_are_stored_as_octet_stream(desk, ctx):
    page = b"<html><script>fetch('/api/tickets')</script></html>"
    svg = b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>"
    mail = inbound(compose(attachments=[("invoice\u202egpj.exe", "text/html", page), ("logo.svg", "image/svg+xml", svg),
                                        ("Rechnung.pdf", "application/pdf", PDF)]))

    content(mail, ctx)

    def stored_type(data: bytes) -> str:
        blob = desk.connection.blob_service.get_blob_client(ATTACHMENTS, _sha(data))
        return blob.get_blob_properties().content_settings.content_type

    assert [(a.name, a.content_type) for a in mail.attachments] == [
        ("invoicegpj.exe", "application/octet-stream"), ("logo.svg", "application/octet-stream"),
        ("Rechnung.pdf", "application/pdf")]
    assert [stored_type(data) for data in (page, svg, PDF)] == [
        "application/octet-stream", "application/octet-stream", "application/pdf"]
