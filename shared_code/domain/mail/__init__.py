"""An inbound mail as the domain sees it, parsed from raw MIME.

`parse_mail(raw)` never raises on malformed input: whatever it could not read is
listed in `defects`, so a broken mail still becomes a ticket or is quarantined
with a reason. Everything in this package is tolerant by design: mail in the wild
is often broken, and one unreadable mail must never block a mailbox.

One module per concern: `charsets` (bytes to text), `headers` (RFC 2047, unfolding,
parameters), `addresses` (addresses, Message-IDs, dates), `payload` (transfer
encodings, text parts), `html_text` (HTML to text), `mime_walk` (parts, attachments,
limits), `parse` (the entry point) and `parsed` (the result types). This module is
the public API; import from here.
"""
from __future__ import annotations

from .addresses import normalize_message_id
from .charsets import decode_bytes, normalize_charset
from .headers import decode_header_value, decode_rfc2047
from .html_text import html_to_text, iter_html
from .mime_walk import MAX_DEPTH, MAX_PARTS
from .parse import parse_mail
from .parsed import MailPart, ParsedMail

__all__ = [
    "MAX_DEPTH",
    "MAX_PARTS",
    "MailPart",
    "ParsedMail",
    "decode_bytes",
    "decode_header_value",
    "decode_rfc2047",
    "html_to_text",
    "iter_html",
    "normalize_charset",
    "normalize_message_id",
    "parse_mail",
]
