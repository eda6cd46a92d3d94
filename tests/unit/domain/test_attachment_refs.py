"""Stable attachment references and the display URLs built from them (domain/attachment_refs.py)."""
from __future__ import annotations

import pytest

from shared_code.domain.attachment_refs import attachment_path, display_html, display_url, stable_html, stable_reference

SHA = "ab" * 32


def test_a_reference_names_no_host_and_quotes_the_name():
    assert stable_reference(SHA, "Rechnung März #1.pdf") == f"attachment:{SHA}/Rechnung%20M%C3%A4rz%20%231.pdf"
    assert attachment_path(SHA.upper(), "a b.png") == f"/attachments/{SHA}/a%20b.png"


@pytest.mark.parametrize("stored", [
    f"attachment:{SHA}/logo.png",
    f"https://files.contoso.example/api/attachments/{SHA}/logo.png",
    f"http://localhost:7071/api/attachments/{SHA}/logo.png",
    f"https://old-host.example/{SHA}/logo.png",
    f"//cdn.contoso.example/x/{SHA}/logo.png",
    f"HTTPS://FILES.CONTOSO.EXAMPLE/API/ATTACHMENTS/{SHA.upper()}/logo.png",
])
def test_references_and_legacy_absolute_urls_become_app_urls(stored):
    assert display_url(stored) == f"/attachments/{SHA}/logo.png"


@pytest.mark.parametrize("stored", [
    "https://www.example.com/logo.png", f"https://x.example/{SHA[:-1]}/logo.png", "cid:logo@x",
    f"/attachments/{SHA}/logo.png", f"https://x.example/{SHA}/logo.png?tracking=1", "",
    f"attachment:{SHA}/a/b.png",
])
def test_other_sources_are_not_attachment_urls(stored):
    assert display_url(stored) is None


def test_display_html_rewrites_only_img_sources_of_stored_parts():
    stored = (f'<p><img src="attachment:{SHA}/a%20b.png" alt="attachment:{SHA}/x.png">'
              f'<img src="https://files.contoso.example/api/attachments/{SHA}/c.png?sig=1&amp;x=2">'
              f'<img src="https://files.contoso.example/api/attachments/{SHA}/old.png" width="10">'
              '<img data-remote-src="https://tracker.example/p.gif" alt="p">'
              f'<a href="https://files.contoso.example/api/attachments/{SHA}/d.pdf">file</a></p>')
    shown = display_html(stored)
    assert f'<img src="/attachments/{SHA}/a%20b.png" alt="attachment:{SHA}/x.png">' in shown
    assert f'src="https://files.contoso.example/api/attachments/{SHA}/c.png?sig=1&amp;x=2"' in shown
    assert f'<img src="/attachments/{SHA}/old.png" width="10">' in shown
    assert '<img data-remote-src="https://tracker.example/p.gif" alt="p">' in shown
    assert f'href="https://files.contoso.example/api/attachments/{SHA}/d.pdf"' in shown
    assert display_html("") == ""


def test_stable_html_keeps_only_images_of_stored_attachments_as_references():
    markup = (f'<img src="/attachments/{SHA}/a.png"><img src="https://x.example/t.gif">'
              '<img src="/auth/sign-out"><img src="cid:x">')
    assert stable_html(markup) == f'<img src="attachment:{SHA}/a.png"><img><img><img>'
