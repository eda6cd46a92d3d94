"""The benchmarks' mail: new-ticket mails, replies threading onto them, auto-replies and
bounces, the mixed stream, and the 25 MB mail with 10 inline images.

Every builder returns raw RFC 5322 bytes (what Graph's ``$value`` serves) and the outcomes
the inbound pipeline should reach for them.
"""
from __future__ import annotations

import base64
import random
from collections import Counter
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

MB = 1024 * 1024

# a 1x1 PNG, as an inline logo in the HTML mails
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def _mail(sender: str, to: str, subject: str, body: str, *, html: bool = False,
          in_reply_to: str | None = None, headers: dict[str, str] | None = None) -> tuple[bytes, str]:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Date"] = format_datetime(datetime.now(timezone.utc))
    msg["Message-ID"] = message_id = make_msgid(domain="bench.example")
    if in_reply_to:
        msg["In-Reply-To"] = msg["References"] = in_reply_to
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    if html:
        msg.add_alternative(f"<p>{body}</p><p><img src=\"cid:logo@bench.example\"></p>",
                            subtype="html")
        msg.get_payload()[1].add_related(PIXEL, "image", "png", cid="<logo@bench.example>",
                                         filename="logo.png")
    return msg.as_bytes(), message_id


SENDERS = ["Ann Client <ann@example.org>", "Bob Buyer <bob@example.net>",
           "Chen Wei <chen@example.com>", "Dora Diaz <dora@example.org>"]


def new_mail(i: int, to: str) -> tuple[bytes, str]:
    """A mail that creates a ticket: plain text for even `i`, HTML with an inline image for odd."""
    sender = SENDERS[i % len(SENDERS)]
    if i % 2 == 0:
        return _mail(sender, to, f"Printer {i} is on fire",
                     f"Hello,\n\nprinter {i} on floor {i % 7} is on fire again.\n"
                     "Please send someone.\n\nAnn")
    return _mail(sender, to, f"Invoice question {i}",
                 f"Could you resend invoice 2026-{i:04d}? Our logo is below.", html=True)


def reply_mail(i: int, to: str, original_id: str) -> bytes:
    """A client's reply that threads onto the ticket of `original_id` (by In-Reply-To)."""
    return _mail(SENDERS[i % len(SENDERS)], to, f"Re: Printer {i} is on fire",
                 "It works again, thanks!\n\nOn Mon, Ann wrote:\n> Hello,\n"
                 f"> printer {i} is on fire again.", in_reply_to=original_id)[0]


def auto_reply_mail(i: int, to: str) -> bytes:
    """A mail the pipeline discards: an out-of-office reply (even `i`) or a bounce (odd)."""
    if i % 2 == 0:
        return _mail(SENDERS[i % len(SENDERS)], to, f"Automatic reply: ticket {i}",
                     "I am out of the office until Monday.",
                     in_reply_to=f"<bench-notice-{i}@{to.split('@')[1]}>",
                     headers={"Auto-Submitted": "auto-replied",
                              "X-Auto-Response-Suppress": "All"})[0]
    return _mail("Mail Delivery System <MAILER-DAEMON@mx.example.net>", to,
                 "Undelivered Mail Returned to Sender",
                 f"This is the mail system at host mx.example.net.\n\n<gone{i}@example.net>: "
                 "host mx.example.net said: 550 5.1.1 User unknown",
                 headers={"Auto-Submitted": "auto-generated", "Return-Path": "<>"})[0]


def phase_mails(to: str, new: int, replies: int, auto: int) -> list[tuple[list[bytes], Counter]]:
    """The three request-count phases of the issue: `new` new-ticket mails, then `replies`
    replies to the first of them, then `auto` auto-replies and bounces."""
    firsts = [new_mail(i, to) for i in range(new)]
    return [
        ([raw for raw, _ in firsts], Counter(created=new)),
        ([reply_mail(i, to, firsts[i % new][1]) for i in range(replies)], Counter(threaded=replies)),
        ([auto_reply_mail(i, to) for i in range(auto)], Counter(discarded=auto)),
    ]


def mixed_mails(count: int, to: str) -> tuple[list[bytes], Counter]:
    """`count` mails cycling new plain / new HTML with an inline image / a reply to the plain
    mail two before it / an auto-reply or bounce (the issue's 60 : 30 : 30 mix, interleaved).
    Returns the raws and the expected outcomes."""
    raws, expected, last_new = [], Counter(), None
    for i in range(count):
        kind = i % 4
        if kind in (0, 1):
            raw, message_id = new_mail(i, to)
            last_new = last_new if kind else message_id
            expected["created"] += 1
        elif kind == 2:
            raw = reply_mail(i - 2, to, last_new)
            expected["threaded"] += 1
        else:
            raw = auto_reply_mail(i, to)
            expected["discarded"] += 1
        raws.append(raw)
    return raws, expected


def big_inline_mail(to: str, images: int = 10, target_bytes: int = 25 * MB) -> tuple[bytes, int]:
    """multipart/related HTML referencing `images` cid images of random bytes, base64-encoded,
    sized so the raw mail is about `target_bytes`. Returns (raw, decoded bytes per image)."""
    # base64 with 76-character lines and CRLF: 4/3 x 78/76 raw bytes per decoded byte
    per_image = int(target_bytes / images / (4 / 3 * 78 / 76))
    rng = random.Random(25)
    boundary_rel, boundary_alt = "bench-related-boundary", "bench-alternative-boundary"
    cids = [f"image{n:02d}@bench.example" for n in range(images)]
    html = ("<html><body><p>Photos of the damage, as requested.</p>"
            + "".join(f'<p><img src="cid:{cid}" alt="photo {n}"></p>' for n, cid in enumerate(cids))
            + "</body></html>")
    head = (
        "From: Paula Photos <paula@example.org>\r\n"
        f"To: {to}\r\n"
        "Subject: Photos of the water damage\r\n"
        f"Date: {format_datetime(datetime.now(timezone.utc))}\r\n"
        f"Message-ID: {make_msgid(domain='bench.example')}\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/related; boundary="{boundary_rel}"; type="multipart/alternative"\r\n'
        "\r\n"
        f"--{boundary_rel}\r\n"
        f'Content-Type: multipart/alternative; boundary="{boundary_alt}"\r\n'
        "\r\n"
        f"--{boundary_alt}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        "Photos of the damage, as requested.\r\n"
        f"--{boundary_alt}\r\n"
        "Content-Type: text/html; charset=utf-8\r\n\r\n"
        f"{html}\r\n"
        f"--{boundary_alt}--\r\n"
    ).encode("ascii")
    chunks = [head]
    for n, cid in enumerate(cids):
        data = rng.randbytes(per_image)
        chunks.append((
            f"--{boundary_rel}\r\n"
            f'Content-Type: image/jpeg; name="photo{n:02d}.jpg"\r\n'
            "Content-Transfer-Encoding: base64\r\n"
            f"Content-ID: <{cid}>\r\n"
            f'Content-Disposition: inline; filename="photo{n:02d}.jpg"\r\n'
            "\r\n"
        ).encode("ascii"))
        chunks.append(base64.encodebytes(data).replace(b"\n", b"\r\n"))
    chunks.append(f"--{boundary_rel}--\r\n".encode("ascii"))
    return b"".join(chunks), per_image


