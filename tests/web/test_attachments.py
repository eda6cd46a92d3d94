"""`GET /attachments/{sha256}/{name}`: what is served, how, and to whom."""
from __future__ import annotations

import re

import pytest

from shared_code.adapters.names import ATTACHMENTS

from .conftest import ADMIN, sign_in
from .ticket_setup import BLUE_PNG, HTML_FILE, RED_PNG, SVG, fetch, no_role_client, outlook_mail, sha


@pytest.fixture
def files(desk, graph):
    """A ticket from an Outlook mail: two inline PNGs, an SVG and an HTML attachment."""
    return fetch(desk, graph, outlook_mail(attachments=[
        ("drawing.svg", "image/svg+xml", SVG), ("page.html", "text/html", HTML_FILE),
        ("notes.txt", "text/plain", b"plain notes")]))


def test_inline_images_are_served_inline_with_their_type_and_cache_headers(as_staff, files):
    answer = as_staff.get(f"/attachments/{sha(RED_PNG)}/image001.png")
    assert answer.status_code == 200
    assert answer.content == RED_PNG
    assert answer.headers["content-type"] == "image/png"
    assert answer.headers["content-disposition"] == "inline"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["cache-control"] == "private, max-age=31536000, immutable"
    assert answer.headers["etag"] == f'"{sha(RED_PNG)}"'


def test_the_etag_answers_if_none_match_with_304(as_staff, files):
    answer = as_staff.get(f"/attachments/{sha(BLUE_PNG)}/image002.png",
                          headers={"If-None-Match": f'W/"x", "{sha(BLUE_PNG)}"'})
    assert answer.status_code == 304 and answer.content == b""
    assert answer.headers["etag"] == f'"{sha(BLUE_PNG)}"'
    other = as_staff.get(f"/attachments/{sha(BLUE_PNG)}/image002.png", headers={"If-None-Match": '"nope"'})
    assert other.status_code == 200


@pytest.mark.parametrize("data, name", [(SVG, "drawing.svg"), (HTML_FILE, "page.html")])
def test_svg_and_html_are_downloads_of_octet_stream(as_staff, files, data, name):
    answer = as_staff.get(f"/attachments/{sha(data)}/{name}")
    assert answer.status_code == 200 and answer.content == data
    assert answer.headers["content-type"] == "application/octet-stream"
    assert answer.headers["content-disposition"] == f"attachment; filename=\"{name}\"; filename*=UTF-8''{name}"


def test_a_png_link_to_an_html_blob_is_still_a_download(as_staff, files):
    """The name only names the download: the stored type decides."""
    answer = as_staff.get(f"/attachments/{sha(HTML_FILE)}/innocent.png")
    assert answer.headers["content-type"] == "application/octet-stream"
    assert answer.headers["content-disposition"].startswith("attachment;")


def test_allowed_non_image_types_keep_their_type_as_downloads(as_staff, files):
    answer = as_staff.get(f"/attachments/{sha(b'plain notes')}/notes.txt")
    assert answer.headers["content-type"].startswith("text/plain")
    assert answer.headers["content-disposition"].startswith("attachment;")


def test_a_blob_stored_with_a_type_off_the_allow_list_is_octet_stream(as_staff, desk):
    desk.blobs.put_once(ATTACHMENTS, sha(b"<b>x</b>"), b"<b>x</b>", "text/html")  # as older code might have
    answer = as_staff.get(f"/attachments/{sha(b'<b>x</b>')}/x.html")
    assert answer.headers["content-type"] == "application/octet-stream"


def test_a_non_ascii_name_is_encoded_in_the_disposition(as_staff, files):
    answer = as_staff.get(f"/attachments/{sha(SVG)}/Zeichnung%20M%C3%A4rz.svg")
    disposition = answer.headers["content-disposition"]
    assert "filename*=UTF-8''Zeichnung%20M%C3%A4rz.svg" in disposition
    assert re.fullmatch(r'[\x20-\x7e]*', disposition)


@pytest.mark.parametrize("path", ["/attachments/nothex/a.png", f"/attachments/{'a' * 63}/a.png",
                                  f"/attachments/{'0' * 64}/missing.png"])
def test_bad_or_unknown_sha_is_404(as_staff, desk, path):
    answer = as_staff.get(path)
    assert answer.status_code == 404
    assert "error" in answer.json()


def test_anonymous_gets_401_a_user_without_role_403_and_an_admin_200(web, desk, files):
    path = f"/attachments/{sha(RED_PNG)}/image001.png"
    anonymous = web.get(path)
    assert anonymous.status_code == 401 and anonymous.json() == {"error": "sign-in required"}
    with no_role_client() as client:
        refused = client.get(path)
        assert refused.status_code == 403 and "error" in refused.json()
    sign_in(web, ADMIN)
    assert web.get(path).status_code == 200
