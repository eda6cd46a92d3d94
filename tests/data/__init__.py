"""Test mails written for deskmail (see README.md), plus generators for mails too big to commit."""
from __future__ import annotations

import base64
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent


def load(name: str) -> bytes:
    """Raw bytes of one corpus file, e.g. load("plain.eml")."""
    return (DATA_DIR / name).read_bytes()


def big_attachment_mail(size: int = 10 * 1024 * 1024, filename: str = "big.zip") -> bytes:
    """A mail with one attachment of exactly `size` decoded bytes (10 MB by default), built on
    demand instead of committing a 10 MB file. Message-ID: <big-attachment-<size>@example.com>."""
    pattern = bytes(range(256))
    payload = (pattern * (size // len(pattern) + 1))[:size]
    encoded = base64.encodebytes(payload)  # 76-character lines, as mailers send them
    head = (
        "From: Oscar Oversize <oscar@example.com>\r\n"
        "To: support@contoso.example\r\n"
        "Subject: Log files attached\r\n"
        "Date: Mon, 20 Jan 2025 08:00:00 +0000\r\n"
        f"Message-ID: <big-attachment-{size}@example.com>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="big-boundary"\r\n'
        "\r\n"
        "--big-boundary\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        "The log files are attached.\r\n"
        "\r\n"
        "--big-boundary\r\n"
        f'Content-Type: application/zip; name="{filename}"\r\n'
        f'Content-Disposition: attachment; filename="{filename}"\r\n'
        "Content-Transfer-Encoding: base64\r\n"
        "\r\n"
    ).encode("ascii")
    return head + encoded.replace(b"\n", b"\r\n") + b"\r\n--big-boundary--\r\n"
