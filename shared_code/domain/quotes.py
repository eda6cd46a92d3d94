"""Keep only the new text of a reply: cut the quoted history below it.

Cutting happens at the helpdesk's reply separator line or at the first recognised quote header
(Gmail, Apple Mail, Outlook, Thunderbird and their translations). The rules are conservative:
  * a forward ("---------- Forwarded message ---------", "Begin forwarded message:") is never cut,
    the forwarded mail is the content;
  * when cutting would leave nothing, the full text is kept: nothing a person wrote is lost.
The HTML variant finds the same text markers (on the visible text, mapped back to offsets in the
markup) and the clients' quote containers (div.gmail_quote, blockquote[type=cite], ...), cuts the
markup there and closes the elements left open.
"""
from __future__ import annotations

import html as html_lib
import re
from html.parser import HTMLParser

DEFAULT_SEPARATOR = "-- reply above this line --"

# --- line patterns shared by text and HTML ---------------------------------------------------

# Attribution lines, matched on up to three joined lines (Gmail wraps long ones). They must
# contain a digit (a date or time), so that "On the other hand, Bob wrote:" stays.
_ATTRIBUTIONS = tuple(
    re.compile(pattern, re.I)
    for pattern in (
        r"^on\b.{4,400}\b(?:wrote|writes)\s*:$",  # Gmail, Apple Mail, Thunderbird
        r"^am\b.{4,400}\bschrieb\b.{0,300}:$",  # German
        r"^le\b.{4,400}\ba\s+écrit\s*:$",  # French
        r"^el\b.{4,400}\bescribió\s*:$",  # Spanish
        r"^il\b.{4,400}\bha\s+scritto\s*:$",  # Italian
        r"^op\b.{4,400}\bschreef\b.{0,300}:$",  # Dutch
        r"^em\b.{4,400}\bescreveu\s*:$",  # Portuguese
        r"^den\b.{4,400}\bskrev\b.{0,300}:$",  # Scandinavian
    )
)
_ORIGINAL_MESSAGE = re.compile(
    r"^-{2,}\s*(?:original message|ursprüngliche nachricht|originalnachricht|message d'origine|"
    r"mensaje original|messaggio originale|oorspronkelijk bericht|originalmeddelande|"
    r"oprindelig meddelelse|opprinnelig melding|mensagem original|alkuperäinen viesti)\s*-{2,}$",
    re.I,
)
_FORWARD = re.compile(
    r"^(?:-{2,}\s*(?:forwarded message|weitergeleitete nachricht|message transféré|"
    r"mensaje reenviado|messaggio inoltrato|doorgestuurd bericht|mensagem encaminhada|"
    r"vidarebefordrat meddelande)\s*-{2,}|"
    r"begin forwarded message\s*:|anfang der weitergeleiteten nachricht\s*:|"
    r"début du message réexpédié\s*:|inicio del mensaje reenviado\s*:)",
    re.I,
)
_FROM_LINE = re.compile(r"^\*?(?:from|von|de|van|da|från|fra|od)\s*:\*?\s*\S", re.I)
_SENT_LINE = re.compile(
    r"^\*?(?:sent|date|gesendet|datum|envoyé|date d'envoi|enviado|fecha|verzonden|inviato|data|"
    r"skickat|sendt|wysłano)\s*:", re.I,
)
_SUBJECT_LINE = re.compile(r"^\*?(?:subject|betreff|objet|asunto|onderwerp|oggetto|ämne|emne|temat|assunto)\s*:", re.I)
_RULE_LINE = re.compile(r"^[\s_=\-]{5,}$")


def _normalize_line(line: str) -> str:
    """Visible content of a line: quote markers, surrounding space and nbsp removed."""
    return re.sub(r"\s+", " ", re.sub(r"^[\s>]*", "", line.replace("\xa0", " "))).strip()


def _is_separator(line: str, separator: str) -> bool:
    wanted = re.sub(r"\s+", " ", (separator or "").strip()).lower()
    return bool(wanted) and wanted in _normalize_line(line).lower()


def _is_attribution(lines: list[str], index: int) -> bool:
    first = _normalize_line(lines[index])
    if not re.match(r"(?i)^(?:on|am|le|el|il|op|em|den)\b", first):
        return False
    for span in (1, 2, 3):
        joined = " ".join(_normalize_line(line) for line in lines[index:index + span])
        if len(joined) <= 500 and re.search(r"\d", joined) and any(p.match(joined) for p in _ATTRIBUTIONS):
            return True
    return False


def _is_outlook_header(lines: list[str], index: int) -> bool:
    """'From: ...' followed within a few lines by 'Sent:'/'Date:' and 'Subject:' (any language)."""
    if not _FROM_LINE.match(_normalize_line(lines[index])):
        return False
    following = [_normalize_line(line) for line in lines[index + 1:index + 7]]
    return any(_SENT_LINE.match(line) for line in following) and any(_SUBJECT_LINE.match(line) for line in following)


def _quote_start(lines: list[str], separator: str) -> tuple[int | None, bool]:
    """(index of the first line to cut, whether a forward marker came first)."""
    for index, line in enumerate(lines):
        visible = _normalize_line(line)
        if _FORWARD.match(visible):
            return None, True
        if (
            _is_separator(line, separator)
            or _ORIGINAL_MESSAGE.match(visible)
            or _is_attribution(lines, index)
            or _is_outlook_header(lines, index)
        ):
            return index, False
    return None, False


def _trailing_quote_start(lines: list[str]) -> int | None:
    """Start of the block of '>'-quoted lines (blank lines allowed) that ends the text."""
    start = None
    for index in range(len(lines) - 1, -1, -1):
        stripped = lines[index].strip()
        if stripped.startswith(">"):
            start = index
        elif stripped:
            break
    return start


def _strip_trailing_rules(lines: list[str]) -> list[str]:
    """Drop blank lines and '____' / '-----' rules left above the cut (Outlook puts one there)."""
    while lines and (not lines[-1].strip() or _RULE_LINE.match(lines[-1])):
        lines = lines[:-1]
    return lines


def cut_reply_text(text: str, separator: str = DEFAULT_SEPARATOR) -> str:
    """The new part of a plain-text reply; the full text when nothing recognisable or nothing
    would be left."""
    if not text:
        return text or ""
    lines = text.split("\n")
    cut, forwarded = _quote_start(lines, separator)
    if cut is None and not forwarded:
        cut = _trailing_quote_start(lines)
    if cut is None:
        return text
    kept = _strip_trailing_rules(lines[:cut])
    result = "\n".join(kept).rstrip()
    return result if result.strip() else text


# --- HTML ------------------------------------------------------------------------------------

# Quote containers of mail clients; the cut goes before the element.
_HTML_CONTAINERS = tuple(
    re.compile(pattern, re.I)
    for pattern in (
        r"<div\b[^>]*\bclass\s*=\s*[\"']?[^\"'>]*\bgmail_quote\b",  # Gmail
        r"<blockquote\b[^>]*\btype\s*=\s*[\"']?cite\b",  # Apple Mail, Thunderbird
        r"<div\b[^>]*\bid\s*=\s*[\"']?(?:divRplyFwdMsg|appendonsend)\b",  # Outlook web / new
        r"<div\b[^>]*\bstyle\s*=\s*[\"'][^\"'>]*border-top\s*:\s*solid\s+#(?:E1E1E1|B5C4DF)",  # Outlook
        r"<div\b[^>]*\bid\s*=\s*[\"']?mail-editor-reference-message-container\b",  # Outlook for Mac
        r"<[a-z]+\b[^>]*\bid\s*=\s*[\"']?OLK_SRC_BODY_SECTION\b",  # older Outlook for Mac
        r"<div\b[^>]*\bclass\s*=\s*[\"']?[^\"'>]*\b(?:yahoo_quoted|moz-cite-prefix)\b",  # Yahoo, Thunderbird
        r"<hr\b[^>]*\bid\s*=\s*[\"']?zwchr\b",  # Zimbra
    )
)
_BLOCK_TAGS = {
    "p", "div", "br", "tr", "li", "table", "blockquote", "hr", "pre", "ul", "ol", "dl", "dt", "dd",
    "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "header", "footer", "center", "body",
}
_INVISIBLE = {"script", "style", "title", "head", "xml", "template"}
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}


class _LineMapper(HTMLParser):
    """Visible text lines of an HTML body, each with the offset in the markup where it begins
    (the first block tag after the previous line), so a text rule can cut the markup."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", markup)]
        self.lines: list[tuple[str, int]] = []
        self.text = ""
        self.start: int | None = None
        self.hidden = 0

    def position(self) -> int:
        line, column = self.getpos()
        return self.line_starts[line - 1] + column

    def mark(self) -> None:
        if self.start is None:
            self.start = self.position()

    def newline(self) -> None:
        if self.text.strip():
            self.lines.append((self.text, self.start if self.start is not None else 0))
            self.text, self.start = "", None

    def handle_starttag(self, tag, attrs):
        if tag in _INVISIBLE:
            self.hidden += 1
        elif tag in _BLOCK_TAGS:
            self.newline()
        self.mark()

    def handle_startendtag(self, tag, attrs):
        if tag in _BLOCK_TAGS:
            self.newline()
        self.mark()

    def handle_endtag(self, tag):
        if tag in _INVISIBLE:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BLOCK_TAGS:
            self.newline()

    def handle_data(self, data):
        if self.hidden:
            return
        self.mark()
        self.text += data

    def result(self) -> list[tuple[str, int]]:
        self.newline()
        return self.lines


class _OpenTags(HTMLParser):
    """Elements left open at the end of a markup prefix, outermost first."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in self.stack:
            while self.stack and self.stack.pop() != tag:
                pass


def _text_cut_offset(markup: str, separator: str) -> tuple[int | None, int | None]:
    """(offset of the first text quote marker, offset of the first forward marker)."""
    mapper = _LineMapper(markup)
    mapper.feed(markup)
    mapper.close()
    entries = mapper.result()
    lines = [text for text, _ in entries]
    cut = forward = None
    for index, line in enumerate(lines):
        visible = _normalize_line(line)
        if forward is None and _FORWARD.match(visible):
            forward = entries[index][1]
        if cut is None and (
            _is_separator(line, separator)
            or _ORIGINAL_MESSAGE.match(visible)
            or _is_attribution(lines, index)
            or _is_outlook_header(lines, index)
        ):
            cut = entries[index][1]
    return cut, forward


def _outside_tag(markup: str, offset: int) -> int:
    """Move an offset that falls inside a tag back to that tag's '<'."""
    opening = markup.rfind("<", 0, offset)
    if opening != -1 and markup.rfind(">", opening, offset) == -1:
        return opening
    return offset


def _close_open_tags(prefix: str) -> str:
    parser = _OpenTags()
    parser.feed(prefix)
    parser.close()
    return prefix + "".join(f"</{tag}>" for tag in reversed(parser.stack))


def _has_visible_content(markup: str) -> bool:
    if re.search(r"(?i)<img\b", markup):
        return True
    text = re.sub(r"(?is)<(script|style|title|head)\b.*?</\1\s*>", "", markup)
    text = html_lib.unescape(re.sub(r"<[^>]*>", "", text))
    return bool(text.replace("\xa0", " ").strip())


_TRAILING_NOISE = re.compile(
    r"(?is)(?:\s|&nbsp;|&#160;|<br\s*/?>|<hr\b[^>]*>"  # space, line breaks, rules
    r"|<(?:div|p|span|font|o:p|b|i|u)\b[^>]*>"  # an element opened just before the cut
    r"|<(div|p|span|font|o:p)\b[^>]*>(?:\s|&nbsp;|&#160;|<(?!img\b)[^>]*>)*</\1>)+$"  # an empty one
)


def _trim_trailing_space(prefix: str) -> str:
    """Remove <br>s, &nbsp;, rules and empty or just-opened elements above the cut."""
    while True:
        trimmed = _TRAILING_NOISE.sub("", prefix)
        if trimmed == prefix:
            return trimmed
        prefix = trimmed


def cut_reply_html(html: str, separator: str = DEFAULT_SEPARATOR) -> str:
    """The new part of an HTML reply, as balanced markup; the full HTML when nothing
    recognisable, when a forward comes first, or when nothing visible would be left."""
    if not html:
        return html or ""
    try:
        return _cut_html(html, separator)
    except Exception:  # noqa: BLE001 - HTMLParser on hostile markup: keep everything
        return html


def _cut_html(markup: str, separator: str) -> str:
    text_cut, forward = _text_cut_offset(markup, separator)
    candidates = [m.start() for pattern in _HTML_CONTAINERS for m in [pattern.search(markup)] if m]
    if text_cut is not None:
        candidates.append(text_cut)
    if not candidates:
        return markup
    cut = _outside_tag(markup, min(candidates))
    if forward is not None and forward <= cut:  # the quote container is the forwarded mail
        return markup
    prefix = _trim_trailing_space(markup[:cut])
    if not _has_visible_content(prefix):
        return markup
    return _close_open_tags(prefix)

