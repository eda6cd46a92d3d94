"""What of an inbound mail is stored on the ticket: bodies, inline images, attachments.

`build_content` cuts quoted history off replies, sanitizes the HTML with an allow-list (nh3),
turns `cid:` references, bare file names and `data:` images into links to the stored parts, and
applies the attachment size / count limits, listing every refused part with a readable reason.
Remote images are kept unloaded (data-remote-src), relative ones removed, and every stored part
carries an allow-listed content type (untrusted.stored_content_type).
Nothing is silently lost: an image that the kept HTML does not show (never referenced, or only
referenced in the cut-off history) is kept as a regular attachment.
"""
from __future__ import annotations

import base64
import binascii
import html as html_lib
import re
from dataclasses import dataclass, field, replace
from typing import Callable
from urllib.parse import unquote

import nh3

from .mail import MailPart, ParsedMail, html_to_text
from .quotes import cut_reply_html, cut_reply_text
from .untrusted import INLINE_IMAGE_TYPES, stored_content_type


@dataclass
class Content:
    body_text: str
    body_html: str  # sanitized; "" when the mail had no HTML
    inline: list[MailPart] = field(default_factory=list)  # shown in body_html via url_for
    attachments: list[MailPart] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)  # why a part was not stored


# --- sanitizer --------------------------------------------------------------------------------
#
# Inline style is kept but filtered to layout/typography properties: mail without it loses tables
# and colours, but url()/position/background-image would load remote content or let a sender
# overlay the helpdesk page. <style> blocks are dropped entirely: nh3 cannot filter CSS rules, and
# they carry remote @font-face/@import loads and selectors that would restyle the host page.

_TAGS = {
    "a", "abbr", "b", "bdi", "bdo", "blockquote", "br", "caption", "center", "cite", "code", "col",
    "colgroup", "dd", "del", "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure",
    "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol",
    "p", "pre", "q", "s", "samp", "small", "span", "strike", "strong", "sub", "summary", "sup",
    "table", "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul", "var", "wbr",
}
_CELL = {"width", "height", "colspan", "rowspan", "valign", "bgcolor", "nowrap"}
_ATTRIBUTES = {
    "*": {"style", "title", "dir", "lang", "align"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height", "border"},
    "table": {"width", "border", "cellpadding", "cellspacing", "bgcolor", "summary"},
    "td": _CELL,
    "th": _CELL,
    "tr": {"valign", "bgcolor"},
    "col": {"span", "width"},
    "colgroup": {"span", "width"},
    "font": {"color", "face", "size"},
    "ol": {"start", "type"},
    "ul": {"type"},
    "li": {"value"},
    "hr": {"width", "size", "noshade"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "del": {"cite", "datetime"},
    "ins": {"cite", "datetime"},
}
# Elements removed with their content (the rest of the unknown elements keep their text).
_CLEAN_CONTENT = {
    "script", "style", "title", "template", "xml", "head", "iframe", "frame", "frameset",
    "object", "embed", "applet", "noembed", "noframes", "select", "textarea", "button", "svg", "math",
}
_STYLE_PROPERTIES = {
    "color", "background-color", "font", "font-family", "font-size", "font-style", "font-weight",
    "font-variant", "text-align", "text-decoration", "text-indent", "text-transform",
    "letter-spacing", "word-spacing", "line-height", "white-space", "vertical-align", "direction",
    "margin", "margin-top", "margin-right", "margin-bottom", "margin-left",
    "padding", "padding-top", "padding-right", "padding-bottom", "padding-left",
    "border", "border-top", "border-right", "border-bottom", "border-left", "border-color",
    "border-style", "border-width", "border-collapse", "border-spacing", "border-radius",
    "width", "height", "max-width", "min-width", "list-style-type", "float", "clear",
}
# A declaration that names a CSS function able to load something is dropped; so is one with a
# CSS escape or comment, which nh3 decodes after this filter ran (`u\72l(` became `url(`).
_UNSAFE_CSS = re.compile(
    r"url\s*\(|image-set|\bimage\s*\(|src\s*\(|cross-fade|element\s*\(|expression\s*\("
    r"|javascript:|vbscript:|@import|behavior|-moz-binding|\\|/\*",
    re.I,
)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    """Second line of defence after nh3's scheme check: cid: only on images, no CSS loads, no
    links relative to (or protocol-relative from) the page that shows the ticket."""
    if attribute == "style":
        kept = [decl for decl in value.split(";") if decl.strip() and not _UNSAFE_CSS.search(decl)]
        return ";".join(kept) or None
    if attribute == "href":
        url = _url_text(value)
        if url.lower().startswith("cid:") or not _SCHEME.match(url):
            return None
        if re.match(r"(?i)https?:", url) and not _REMOTE_URL.match(url):
            return None  # "https:x" and "https:/x" resolve against the page's own host
    if attribute == "src" and re.match(r"(?i)\s*(?:mailto|tel):", value):
        return None
    return value


_CLEANER = nh3.Cleaner(
    tags=_TAGS,
    clean_content_tags=_CLEAN_CONTENT,
    attributes=_ATTRIBUTES,
    attribute_filter=_attribute_filter,
    url_schemes={"http", "https", "mailto", "tel", "cid"},
    link_rel="noopener noreferrer nofollow",
    set_tag_attribute_values={"a": {"target": "_blank"}},
    filter_style_properties=_STYLE_PROPERTIES,
    strip_comments=True,
)


def sanitize_html(markup: str) -> str:
    """Allow-list sanitizing: no script, event handlers, forms, frames, javascript: URLs,
    <style> blocks, remote CSS or relative links. img src still keeps http(s), cid: and
    relative references: build_content resolves the ones that name a part, then neutralises
    the rest (see _unresolved_source)."""
    return _CLEANER.clean(markup or "")


def _url_text(value: str) -> str:
    """A URL as a browser reads it: tabs and newlines removed, spaces/controls trimmed."""
    return re.sub(r"[\t\n\r]", "", value).strip("\x00- ")


# --- remote images ----------------------------------------------------------------------------
#
# An http(s) image would be fetched when staff open the ticket: a tracking pixel tells the
# sender when, from where and with which browser. It is kept, unloaded, in data-remote-src for
# a viewer that offers "show remote images". Any other src that names no stored part (relative,
# protocol-relative, an unknown scheme) would load from the helpdesk's own host or a host the
# page's scheme picks, so it is removed. cid: references that match no part load nothing and stay.

REMOTE_SRC_ATTRIBUTE = "data-remote-src"
_REMOTE_URL = re.compile(r"(?i)^https?://[^/\\\s]")


@dataclass(frozen=True)
class _Remote:
    url: str


def _unresolved_source(source: str) -> object:
    """What becomes of an img src that names no stored part: KEEP, _Remote(url) or None."""
    value = _url_text(html_lib.unescape(source or ""))
    if value.lower().startswith("cid:"):
        return KEEP
    if _REMOTE_URL.match(value):
        return _Remote(value)
    return None


# --- forwards ---------------------------------------------------------------------------------

_FORWARD_SUBJECT = re.compile(r"^\s*(?:\[[^\]]{0,80}\]\s*)*(?:fwd?|wg|tr|rv|enc|doorst|vb|vl|pd)\s*:", re.I)


def is_forward_subject(subject: str) -> bool:
    """'Fwd: ...', 'WG: ...', 'TR: ...': a forward, whose quoted part is the content."""
    return bool(_FORWARD_SUBJECT.match(subject or ""))


# --- img tags ---------------------------------------------------------------------------------
#
# Img tags are found with a pattern that stops at the next "<" (linear on hostile markup), then
# their src attribute is read by skipping the other attributes whole, so "src=" inside alt="..."
# or data-src is never taken for it.

_IMG_TAG = re.compile(r"""(?i)<img\b(?:"[^"]*"|'[^']*'|[^<>"'])*>?""")
_OTHER_ATTRIBUTE = r"""\s+(?!src\s*=)[^\s=>"'<]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>"'<][^\s>]*))?"""
_SRC = re.compile(rf"""(?is)(<img\b(?:{_OTHER_ATTRIBUTE})*\s+src\s*=\s*)(?:"([^"]*)"|'([^']*)'|([^\s>"']+))""")
KEEP = object()


def _img_sources(markup: str) -> list[str]:
    """The src values of all img tags, as written (entities not decoded)."""
    sources = []
    for tag in _IMG_TAG.finditer(markup):
        match = _SRC.match(tag.group(0))
        if match:
            sources.append(next(g for g in match.groups()[1:] if g is not None))
    return sources


def map_img_src(markup: str, change: Callable[[str], object]) -> str:
    """Rewrite img src values: `change(src)` returns a new URL, None to drop the attribute,
    _Remote(url) to move it to data-remote-src, or KEEP. New values are escaped, so the result
    stays well-formed."""

    def per_tag(tag: re.Match[str]) -> str:
        text = tag.group(0)
        match = _SRC.match(text)
        if not match:
            return text
        result = change(next(g for g in match.groups()[1:] if g is not None))
        if result is KEEP:
            return text
        if result is None:
            return re.sub(r"\s*\bsrc\s*=\s*$", "", match.group(1)) + text[match.end():]
        if isinstance(result, _Remote):
            prefix = re.sub(r"\bsrc\s*=\s*$", f"{REMOTE_SRC_ATTRIBUTE}=", match.group(1))
            return f'{prefix}"{html_lib.escape(result.url, quote=True)}"' + text[match.end():]
        return f'{match.group(1)}"{html_lib.escape(str(result), quote=True)}"' + text[match.end():]

    return _IMG_TAG.sub(per_tag, markup)


# --- data: images -----------------------------------------------------------------------------

_DATA_URI = re.compile(r"(?is)^data:(image/[a-z0-9.+-]+)((?:;[^,;]*)*?);base64,(.*)$")
_DATA_EXT = {"image/jpeg": "jpg", "image/jpg": "jpg", "image/svg+xml": "svg"}


def _extract_data_images(markup: str, taken: set[str]) -> tuple[str, list[MailPart]]:
    """Turn <img src="data:image/...;base64,..."> into parts referenced as cid:, so they are
    stored and served like any inline image. SVG is kept as an attachment, never inline."""
    parts: list[MailPart] = []

    def convert(source: str) -> object:
        match = _DATA_URI.match(html_lib.unescape(source).strip())
        if not match:
            return KEEP
        ctype = match.group(1).lower()
        try:
            data = base64.b64decode(re.sub(r"[^A-Za-z0-9+/]", "", match.group(3)) + "==")
        except (binascii.Error, ValueError):
            return None
        number = len(parts) + 1
        extension = _DATA_EXT.get(ctype, ctype.split("/", 1)[1].split("+", 1)[0])
        name = _unique_name(f"embedded-image-{number}.{extension}", taken)
        content_id = f"embedded-image-{number}@deskmail.invalid"
        stored = stored_content_type(ctype)
        inline = stored in INLINE_IMAGE_TYPES
        parts.append(MailPart(filename=name, content_type=stored, data=data, content_id=content_id, inline=inline))
        return f"cid:{content_id}" if inline else None

    return map_img_src(markup, convert), parts


def _unique_name(name: str, taken: set[str]) -> str:
    stem, dot, extension = name.rpartition(".")
    candidate, counter = name, 1
    while candidate.lower() in taken:
        counter += 1
        candidate = f"{stem}-{counter}{dot}{extension}"
    taken.add(candidate.lower())
    return candidate


# --- references -------------------------------------------------------------------------------


class _Resolver:
    """Finds the part an img src means: cid:<id> (any case, URL-encoded, with or without angle
    brackets), a bare Content-ID, or a bare file name of an image part."""

    def __init__(self, parts: list[MailPart]) -> None:
        self.by_cid: dict[str, MailPart] = {}
        self.by_name: dict[str, MailPart] = {}
        for part in parts:
            if part.content_id:
                self.by_cid.setdefault(self._key(part.content_id), part)
            if part.content_type.startswith("image/"):
                self.by_name.setdefault(part.filename.lower(), part)

    @staticmethod
    def _key(value: str) -> str:
        return unquote(value).strip().strip("<>").strip().lower()

    def resolve(self, source: str) -> MailPart | None:
        value = html_lib.unescape(source or "").strip()
        if value.lower().startswith("cid:"):
            return self.by_cid.get(self._key(value[4:]))
        if not value or "/" in value or re.match(r"^[a-z][a-z0-9+.-]*:", value, re.I):
            return None
        key = self._key(value)
        return self.by_cid.get(key) or self.by_name.get(key)


def _referenced(markup: str, resolver: _Resolver) -> list[MailPart]:
    """Parts shown by the HTML, in order of first reference, each once."""
    found: dict[int, MailPart] = {}
    for source in _img_sources(markup):
        part = resolver.resolve(source)
        if part is not None:
            found.setdefault(id(part), part)
    return list(found.values())


def _rewrite_sources(markup: str, resolver: _Resolver, urls: dict[int, str | None]) -> str:
    """Point each resolved img src at its stored part; drop the src of refused parts; keep
    remote images unloaded and drop relative ones (_unresolved_source)."""

    def change(source: str) -> object:
        part = resolver.resolve(source)
        if part is None or id(part) not in urls:
            return _unresolved_source(source)
        return urls[id(part)]

    return map_img_src(markup, change)


# --- limits -----------------------------------------------------------------------------------

_MB = 1024 * 1024


def format_size(size: int) -> str:
    """12.3 MB / 45.6 KB / 12 bytes, and whole limits without decimals ('10 MB')."""
    if size >= _MB:
        return f"{size // _MB} MB" if size % _MB == 0 else f"{size / _MB:.1f} MB"
    if size >= 1024:
        return f"{size // 1024} KB" if size % 1024 == 0 else f"{size / 1024:.1f} KB"
    return f"{size} bytes"


def _apply_limits(parts: list[MailPart], max_bytes: int, max_count: int) -> tuple[list[MailPart], list[str]]:
    """Keep parts within the size limit, up to max_count of them, in order; explain the rest."""
    accepted: list[MailPart] = []
    rejected: list[str] = []
    for part in parts:
        size = len(part.data)
        if size > max_bytes:
            limit = format_size(max_bytes)
            rejected.append(f"{part.filename} ({format_size(size)}) exceeds the {limit} attachment limit")
        elif len(accepted) >= max_count:
            rejected.append(f"{part.filename} ({format_size(size)}) was not stored: more than {max_count} attachments")
        else:
            accepted.append(part)
    return accepted, rejected


# --- entry point ------------------------------------------------------------------------------


def build_content(
    mail: ParsedMail,
    *,
    url_for: Callable[[MailPart], str],
    separator: str,
    is_reply: bool,
    max_attachment_bytes: int,
    max_attachments: int,
) -> Content:
    """Bodies and parts to store for one inbound mail (see the module docstring).

    Quoted history is cut only from replies, and never from forwards (subject 'Fwd:'/'WG:'...).
    Inline images come first when the count limit applies: they are part of the message.
    """
    cut = is_reply and not is_forward_subject(mail.subject)
    text = cut_reply_text(mail.text_body, separator) if cut else mail.text_body
    if mail.html_body is None:
        parts = [replace(p, inline=False, content_type=stored_content_type(p.content_type)) for p in mail.parts]
        attachments, rejected = _apply_limits(parts, max_attachment_bytes, max_attachments)
        return Content(body_text=text, body_html="", attachments=attachments, rejected=rejected)

    markup = cut_reply_html(mail.html_body, separator) if cut else mail.html_body
    if cut and mail.text_from_html:
        text = html_to_text(markup)
    markup, embedded = _extract_data_images(markup, {p.filename.lower() for p in mail.parts})
    # copies, with the content type they are stored with: the ParsedMail is not changed
    parts = [replace(p, content_type=stored_content_type(p.content_type)) for p in list(mail.parts) + embedded]
    resolver = _Resolver(parts)
    markup = sanitize_html(markup)  # before resolving: only images that survive it are shown
    shown = {id(part) for part in _referenced(markup, resolver)}
    for part in parts:  # a part the kept HTML never shows, or cannot show as a picture, is an attachment
        part.inline = id(part) in shown and part.content_type in INLINE_IMAGE_TYPES
    inline = [part for part in parts if part.inline]
    others = [part for part in parts if not part.inline]
    kept, rejected = _apply_limits(inline + others, max_attachment_bytes, max_attachments)
    kept_ids = {id(part) for part in kept}
    urls = {id(part): (url_for(part) if id(part) in kept_ids else None) for part in inline}
    body_html = _rewrite_sources(markup, resolver, urls)
    return Content(
        body_text=text,
        body_html=body_html,
        inline=[part for part in inline if id(part) in kept_ids],
        attachments=[part for part in others if id(part) in kept_ids],
        rejected=rejected,
    )
