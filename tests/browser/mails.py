"""Mails for the browser tests: an Outlook-style mail with two inline PNGs, a hostile one, and
a way to turn a mail into a ticket through the real pipeline (Graph fake → fetch → tables)."""
from __future__ import annotations

import struct
import zlib
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, make_msgid
from datetime import datetime, timezone

from tests.integration.helpers import SUPPORT

CLIENT = "Ann Client <ann@example.org>"


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A solid-colour RGB PNG of `width` x `height`, written by hand (zlib + CRCs)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


# (content id, file name, width, height, colour): two inline images of different sizes
INLINE_IMAGES = (
    ("image001.png@01DB6234.5A8B2C40", "image001.png", 40, 20, (200, 30, 30)),
    ("image002.png@01DB6234.5A8B2C40", "image002.png", 30, 30, (30, 90, 200)),
)


def _envelope(message, subject: str, sender: str = CLIENT) -> bytes:
    message["From"] = sender
    message["To"] = f"Contoso Support <{SUPPORT}>"
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(timezone.utc))
    message["Message-ID"] = make_msgid(domain="example.org")
    message["X-Mailer"] = "Microsoft Outlook 16.0"
    return message.as_bytes()


def outlook_mail(subject: str = "Error dialog when printing") -> bytes:
    """As Outlook writes it: multipart/related around multipart/alternative, images by cid:."""
    html = ("<html><body><p>Hello, printing fails with this dialog:</p>"
            f'<p><img width="40" height="20" src="cid:{INLINE_IMAGES[0][0]}" alt="dialog"></p>'
            "<p>and the printer panel shows:</p>"
            f'<p><img width="30" height="30" src="cid:{INLINE_IMAGES[1][0]}" alt="panel"></p>'
            "<p>Regards,<br>Ann</p></body></html>")
    alternative = MIMEMultipart("alternative")
    alternative.attach(MIMEText("Hello, printing fails with this dialog: [image001.png]\n"
                                "and the printer panel shows: [image002.png]\n\nRegards,\nAnn", "plain"))
    alternative.attach(MIMEText(html, "html"))
    related = MIMEMultipart("related", type="multipart/alternative")
    related.attach(alternative)
    for cid, name, width, height, colour in INLINE_IMAGES:
        image = MIMEImage(png(width, height, colour), "png")
        image["Content-ID"] = f"<{cid}>"
        image.add_header("Content-Disposition", "inline", filename=name)
        related.attach(image)
    return _envelope(related, subject)


def hostile_mail(probe: str, subject: str = "Invoice attached") -> bytes:
    """HTML that would, if anything of it ran, change the title, call window.top and request
    `probe` URLs (the test watches the requests the browser makes)."""
    html = ("<html><head><script>document.title='pwned-script';"
            f"new Image().src='{probe}?from=script';try{{window.top.pwned=1}}catch(e){{}}</script>"
            "</head><body><p>Please see the invoice.</p>"
            f"<img src=x onerror=\"document.title='pwned-onerror';new Image().src='{probe}?from=onerror';"
            "try{window.top.pwned=2}catch(e){}\">"
            f"<svg onload=\"new Image().src='{probe}?from=svg'\"></svg>"
            f"<a href=\"javascript:new Image().src='{probe}?from=link'\" id=\"bad-link\">invoice</a>"
            "</body></html>")
    alternative = MIMEMultipart("alternative")
    alternative.attach(MIMEText("Please see the invoice.", "plain"))
    alternative.attach(MIMEText(html, "html"))
    return _envelope(alternative, subject)


def ticket_from(live_app, raw: bytes) -> str:
    """Put `raw` in the support mailbox, fetch it as the timer does; the new ticket's number."""
    from shared_code.services.fetch import fetch_all

    before = {t.number for t in live_app.desk.tickets.list()}
    live_app.graph.add_message(SUPPORT, raw)
    [summary] = fetch_all(live_app.desk, only=SUPPORT)
    assert summary.created == 1, summary.as_dict()
    [number] = {t.number for t in live_app.desk.tickets.list()} - before
    return number
