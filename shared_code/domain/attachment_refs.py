"""Stable references to stored attachments, and the URLs a viewer builds from them.

Ticket HTML and `Attachment.url` keep `attachment:<sha256>/<quoted file name>`: no scheme
host or path of any deployment, so renaming the host or moving the app breaks no ticket.
A view turns each reference into a URL at display time (`display_html`, `attachment_path`):
`/attachments/<sha256>/<quoted name>`, relative to the web app. Tickets stored by the earlier
code carry absolute URLs (`<base>/<sha256>/<name>`, the removed ATTACHMENT_BASE_URL setting,
any scheme and host); they are rewritten on read by the same function, so they display too.
"""
from __future__ import annotations

import html as html_lib
import re
from urllib.parse import quote

from .content import KEEP, map_img_src

SCHEME = "attachment:"
ROUTE = "/attachments"
_SHA = r"[0-9a-f]{64}"
_REFERENCE = re.compile(rf"(?i)^attachment:({_SHA})/([^/?#\s]+)$")
# what the earlier code wrote: an absolute (or protocol-relative) URL whose path ends /<sha>/<name>
_LEGACY = re.compile(rf"(?i)^(?:[a-z][a-z0-9+.-]*:)?//[^/\s]+(?:/[^\s]*)?/({_SHA})/([^/?#\s]+)$")
SHA256 = re.compile(rf"^{_SHA}$")


def stable_reference(sha256: str, name: str) -> str:
    """What is stored for an attachment: `attachment:<sha256>/<quoted name>`."""
    return f"{SCHEME}{sha256}/{quote(name, safe='')}"


def attachment_path(sha256: str, name: str) -> str:
    """The app-relative URL that serves an attachment (web/attachments.py)."""
    return f"{ROUTE}/{sha256.lower()}/{quote(name, safe='')}"


def display_url(stored: str) -> str | None:
    """The URL to show for a stored img src: a stable reference or a legacy absolute URL of
    a stored attachment becomes `/attachments/...`; None for anything else (left as it is)."""
    value = html_lib.unescape(stored or "").strip()
    match = _REFERENCE.match(value) or _LEGACY.match(value)
    if not match:
        return None
    return f"{ROUTE}/{match.group(1).lower()}/{match.group(2)}"


def display_html(markup: str) -> str:
    """Stored (sanitized) ticket HTML with its attachment references turned into URLs."""
    if not markup:
        return markup

    def change(source: str) -> object:
        url = display_url(source)
        return KEEP if url is None else url

    return map_img_src(markup, change)


_PATH = re.compile(rf"(?i)^{ROUTE}/({_SHA})/([^/?#\s]+)$")


def stable_html(markup: str) -> str:
    """Staff-written HTML (API replies and notes), already sanitized, made fit to store: an
    img showing a stored attachment (`/attachments/...`, a reference or a legacy URL) keeps
    it as a reference; any other img source is dropped (nothing loads from elsewhere)."""

    def change(source: str) -> object:
        value = html_lib.unescape(source or "").strip()
        match = _PATH.match(value) or _REFERENCE.match(value) or _LEGACY.match(value)
        return f"{SCHEME}{match.group(1).lower()}/{match.group(2)}" if match else None

    return map_img_src(markup, change)
