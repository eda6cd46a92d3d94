"""What the rest of the domain sees of an inbound mail: plain dataclasses, no parsing here,
so the pipeline and the rules can import the types without the parser's machinery."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class MailPart:
    """A non-body MIME part: a regular attachment or an inline (cid / data:) image."""

    filename: str
    content_type: str
    data: bytes
    content_id: str | None = None  # without angle brackets
    inline: bool = False


@dataclass
class ParsedMail:
    """An inbound mail: decoded headers, bodies, parts, and the defects met on the way."""

    message_id: str | None  # normalized: no angle brackets, stripped; None when absent
    in_reply_to: list[str]
    references: list[str]
    subject: str  # RFC 2047 decoded, unfolded
    from_name: str
    from_address: str  # lower-case, "" when unreadable
    to: list[tuple[str, str]]
    cc: list[tuple[str, str]]
    date: datetime | None  # timezone-aware
    headers: dict[str, list[str]]  # lower-case header name -> decoded values, in order
    content_type: str  # of the top-level part, lower-case, e.g. "multipart/report"
    report_type: str | None  # the report-type parameter of a multipart/report
    text_body: str
    html_body: str | None  # as sent (unsanitized); None when the mail has no HTML part
    parts: list[MailPart] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    text_from_html: bool = False  # text_body was derived from html_body (the mail had no text/plain)

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None
