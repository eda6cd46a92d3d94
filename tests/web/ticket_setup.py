"""Tickets for the web tests: the directory, client mails fetched through the real pipeline
(Graph fake → fetch_all → Azurite), and small PNG/SVG/HTML files to attach."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
import zlib
from contextlib import contextmanager
from email.message import EmailMessage
from email.utils import make_msgid

from shared_code.services.fetch import fetch_all

from tests.integration.helpers import SUPPORT, make_mail, run_cli

from .conftest import AGENT, OUTSIDER

MANAGER = "boss@contoso.example"


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A valid PNG of one colour (browsers decode it: natural width > 0)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


# two images of different content (so different sha256)
RED_PNG = png(40, 20, (200, 30, 30))
BLUE_PNG = png(30, 30, (30, 60, 200))
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
HTML_FILE = b"<html><body><script>alert(1)</script></body></html>"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def directory() -> None:
    for args in (["departments", "add", "Support", "--manager", MANAGER, "--alert-recipients", MANAGER],
                 ["departments", "add", "Billing", "--alert-recipients", "billing-lead@contoso.example"],
                 ["staff", "add", "--name", "Andy Agent", "--email", AGENT, "--department", "Support"],
                 ["staff", "add", "--name", "Bea Boss", "--email", MANAGER, "--department", "Support"]):
        assert run_cli(*args)[0] == 0


def fetch(desk, graph, raw: bytes):
    """Deliver one client mail and fetch it; the ticket it opened or joined."""
    graph.add_message(SUPPORT, raw)
    summary = fetch_all(desk)[0]
    assert summary.created + summary.threaded == 1 and not summary.errors, summary
    return max(desk.tickets.list(), key=lambda t: t.last_message_at)


def plain_ticket(desk, graph, subject="Printer on fire", sender="Ann Client <ann@example.org>"):
    return fetch(desk, graph, make_mail(subject=subject, sender=sender)[0])


def quiet_ticket(desk, graph):
    """`directory()` and a plain ticket whose own mails (auto-response, alerts) are sent and
    forgotten: `graph.sent` holds only what the test sends."""
    from shared_code.services.outbound_queue import drain_outbound

    directory()
    found = plain_ticket(desk, graph)
    drain_outbound(desk, release_after=0)
    graph.sent.clear()
    return found


def outlook_mail(subject="Two screenshots", html=None, attachments=()) -> bytes:
    """An Outlook-style mail: multipart/alternative text + multipart/related HTML whose two
    images are cid: parts (image001.png, image002.png), plus optional attachments."""
    msg = EmailMessage()
    msg["From"] = "Ann Client <ann@example.org>"
    msg["To"] = SUPPORT
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="example.org")
    msg.set_content("See the two screenshots.")
    markup = html or ('<html><body><p>First:</p><p><img id="Picture_x0020_1" '
                      'src="cid:image001.png@01DA0A0A.12345670" alt="first"></p><p>Second:</p>'
                      '<p><img src="cid:image002.png@01DA0A0A.12345670" alt="second"></p></body></html>')
    msg.add_alternative(markup, subtype="html")
    html_part = msg.get_payload()[1]
    for name, data in (("image001.png", RED_PNG), ("image002.png", BLUE_PNG)):
        html_part.add_related(data, maintype="image", subtype="png", cid=f"<{name}@01DA0A0A.12345670>",
                              filename=name, disposition="inline")
    for name, ctype, data in attachments:
        main, sub = ctype.split("/")
        msg.add_attachment(data, maintype=main, subtype=sub, filename=name)
    return msg.as_bytes()


@contextmanager
def no_role_client():
    """A client signed in through Easy Auth headers as a user with neither app role."""
    from fastapi.testclient import TestClient

    from shared_code.web.app import create_app

    saved = {name: os.environ.get(name) for name in ("DESKMAIL_AUTH", "WEBSITE_AUTH_ENABLED")}
    os.environ.update(DESKMAIL_AUTH="easyauth", WEBSITE_AUTH_ENABLED="True")
    try:
        app = create_app()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    claims = [{"typ": "preferred_username", "val": OUTSIDER}]
    header = base64.b64encode(json.dumps({"auth_typ": "aad", "claims": claims}).encode()).decode()
    with TestClient(app, follow_redirects=False, headers={"X-MS-CLIENT-PRINCIPAL": header}) as client:
        yield client
