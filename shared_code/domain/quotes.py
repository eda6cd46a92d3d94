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

from .mail import iter_html

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


_QUOTE_MARKERS = re.compile(r"^[\s>]*")
_SPACES = re.compile(r"\s+")
_ATTRIBUTION_START = re.compile(r"(?i)^(?:on|am|le|el|il|op|em|den)\b")


def _normalize_line(line: str) -> str:
    """Visible content of a line: quote markers, surrounding space and nbsp removed."""
    return _SPACES.sub(" ", _QUOTE_MARKERS.sub("", line.replace("\xa0", " "))).strip()


def _is_attribution(visible: list[str], index: int) -> bool:
    if not _ATTRIBUTION_START.match(visible[index]):
        return False
    for span in (1, 2, 3):
        joined = " ".join(visible[index:index + span])
        if len(joined) <= 500 and re.search(r"\d", joined) and any(p.match(joined) for p in _ATTRIBUTIONS):
            return True
    return False


def _is_outlook_header(visible: list[str], index: int) -> bool:
    """'From: ...' followed within a few lines by 'Sent:'/'Date:' and 'Subject:' (any language)."""
    if not _FROM_LINE.match(visible[index]):
        return False
    following = visible[index + 1:index + 7]
    return any(_SENT_LINE.match(line) for line in following) and any(_SUBJECT_LINE.match(line) for line in following)


def _markers(lines: list[str], separator: str) -> tuple[int | None, int | None]:
    """(index of the first line where quoted history starts, index of the first forward marker)."""
    visible = [_normalize_line(line) for line in lines]
    wanted = _SPACES.sub(" ", (separator or "").strip()).lower()
    cut = forward = None
    for index, line in enumerate(visible):
        if forward is None and _FORWARD.match(line):
            forward = index
        if cut is None and (
            (wanted and wanted in line.lower())
            or _ORIGINAL_MESSAGE.match(line)
            or _is_attribution(visible, index)
            or _is_outlook_header(visible, index)
        ):
            cut = index
        if cut is not None and (forward is not None or cut < index):
            break
    return cut, forward


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


_LABEL_LINE = re.compile(r"^\*?[^\s:：>][^:：]{0,30}[:：]\*?(?:\s|$)")
_HEADING_RULE = re.compile(r"^-{2,}[^-]{1,60}-{2,}$")  # "-----Original Message-----", any language
MAX_HEADER_LINES = 8


def _header_block_start(lines: list[str], cut: int) -> int:
    """Where a mail client's header block above the cut starts: a rule line, then up to eight
    `Label: value` lines (the quoted mail's From, Sent, To, Subject in any language), then
    blank lines down to the cut. Outlook writes one above a quote whose words
    `_is_outlook_header` does not know (Japanese, Russian...): it names who got the quoted
    mail, so it goes with the quote. Without the rule nothing moves (`Note: ...` lines the
    writer typed above the quote stay)."""
    index = cut
    while index > 0 and not _normalize_line(lines[index - 1]):
        index -= 1
    labels = 0
    while index > 0 and labels < MAX_HEADER_LINES and _LABEL_LINE.match(_normalize_line(lines[index - 1])):
        index, labels = index - 1, labels + 1
    above = _normalize_line(lines[index - 1]) if index > 0 else ""
    if index > 0 and labels >= 2 and (_RULE_LINE.match(above or " ") or _HEADING_RULE.match(above)):
        return index - 1
    return cut


def _strip_trailing_rules(lines: list[str]) -> list[str]:
    """Drop blank lines and '____' / '-----' rules left above the cut (Outlook puts one there)."""
    end = len(lines)
    while end and (not lines[end - 1].strip() or _RULE_LINE.match(lines[end - 1])):
        end -= 1
    return lines[:end]


def cut_reply_text(text: str, separator: str = DEFAULT_SEPARATOR, keep_when_empty: bool = True) -> str:
    """The new part of a plain-text reply; the full text when nothing recognisable or (unless
    `keep_when_empty` is off: a staff reply asks whether anything is new) nothing would be left."""
    if not text:
        return text or ""
    lines = text.split("\n")
    cut, forward = _markers(lines, separator)
    if forward is not None and (cut is None or forward <= cut):
        return text  # a forward: the quoted mail is the content
    if cut is None:
        cut = _trailing_quote_start(lines)
    if cut is None:
        return text
    kept = _strip_trailing_rules(lines[:_header_block_start(lines, cut)])
    result = "\n".join(kept).rstrip()
    return result if result.strip() or not keep_when_empty else text


# --- HTML ------------------------------------------------------------------------------------
#
# Works on the tokens of mail.iter_html (linear time, offsets into the original markup), never on
# regular expressions over the whole markup or html.parser: both can be quadratic on hostile HTML.

_QUOTE_CLASSES = {"gmail_quote", "yahoo_quoted", "moz-cite-prefix"}  # Gmail, Yahoo, Thunderbird
_QUOTE_IDS = {
    "divrplyfwdmsg", "appendonsend",  # Outlook on the web / new Outlook
    "mail-editor-reference-message-container", "olk_src_body_section",  # Outlook for Mac
    "zwchr",  # Zimbra
}
_OUTLOOK_BORDER = re.compile(r"border-top\s*:\s*solid\s+#(?:e1e1e1|b5c4df)", re.I)  # Outlook desktop
_ATTRIBUTE = re.compile(r"""([^\s=/>"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?""")
_BLOCK_TAGS = {
    "p", "div", "br", "tr", "li", "table", "blockquote", "hr", "pre", "ul", "ol", "dl", "dt", "dd",
    "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "header", "footer", "center", "body",
}
_INVISIBLE = {"script", "style", "title", "head", "xml", "template"}
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}
_NOISE = {"div", "p", "span", "font", "o:p", "b", "i", "u", "strong", "em", "br", "hr"}


def _attributes(attrs: str) -> dict[str, str]:
    found = {}
    for match in _ATTRIBUTE.finditer(attrs):
        value = next((g for g in match.groups()[1:] if g is not None), "")
        found.setdefault(match.group(1).lower(), html_lib.unescape(value))
    return found


def _is_quote_container(tag: str, attrs: str) -> bool:
    """The element a mail client wraps quoted history in."""
    if tag not in ("div", "blockquote", "hr", "span"):
        return False
    attributes = _attributes(attrs)
    if _QUOTE_CLASSES & set(attributes.get("class", "").split()):
        return True
    if tag == "blockquote" and attributes.get("type", "").strip().lower() == "cite":
        return True
    if attributes.get("id", "").strip().lower() in _QUOTE_IDS:
        return True
    return tag == "div" and bool(_OUTLOOK_BORDER.search(attributes.get("style", "")))


def _visible_lines(tokens: list) -> list[tuple[str, int]]:
    """Visible text lines, each with the offset in the markup where it begins (the first tag
    after the previous line), so a text rule can cut the markup."""
    lines: list[tuple[str, int]] = []
    chunks: list[str] = []
    has_text, start, hidden = False, None, 0
    for kind, value, _, offset in tokens:
        if kind == "text":
            if hidden:
                continue
            start = offset if start is None else start
            chunks.append(value)
            has_text = has_text or bool(value.strip())
            continue
        if value in _INVISIBLE:
            hidden = max(0, hidden + (1 if kind == "start" else -1))
        elif value == "body":
            hidden = 0
        if value in _BLOCK_TAGS and has_text:
            lines.append(("".join(chunks), start or 0))
            chunks, has_text, start = [], False, None
        if kind == "start" and start is None and value != "img":  # a picture (a signature
            start = offset  # logo just above the quote) is no quote line's start: it stays
    if has_text:
        lines.append(("".join(chunks), start or 0))
    return lines


def _text_markers(tokens: list, separator: str) -> tuple[int | None, int | None]:
    """(offset of the first text quote marker, offset of the first forward marker)."""
    entries = _visible_lines(tokens)
    cut, forward = _markers([text for text, _ in entries], separator)
    return (
        entries[cut][1] if cut is not None else None,
        entries[forward][1] if forward is not None else None,
    )


def _close_open_tags(prefix: str) -> str:
    """Append end tags for the elements left open in a markup prefix."""
    stack: list[str] = []
    counts: dict[str, int] = {}
    for kind, tag, _, _ in iter_html(prefix):
        if kind == "start" and tag not in _VOID:
            stack.append(tag)
            counts[tag] = counts.get(tag, 0) + 1
        elif kind == "end" and counts.get(tag):
            while stack:
                popped = stack.pop()
                counts[popped] -= 1
                if popped == tag:
                    break
    return prefix + "".join(f"</{tag}>" for tag in reversed(stack))


def _has_visible_content(markup: str) -> bool:
    hidden = 0
    for kind, value, _, _ in iter_html(markup):
        if kind == "start" and value == "img":
            return True
        if kind != "text" and value in _INVISIBLE:
            hidden = max(0, hidden + (1 if kind == "start" else -1))
        elif kind == "text" and not hidden and value.replace("\xa0", " ").strip():
            return True
    return False


def _trim_trailing_space(prefix: str) -> str:
    """Remove <br>s, &nbsp;, rules and empty or just-opened elements just above the cut; the
    elements whose end tags go are closed again by _close_open_tags."""
    cut = len(prefix)
    for kind, value, _, offset in reversed(list(iter_html(prefix))):
        if kind == "text" and value.replace("\xa0", " ").strip():
            break
        if kind != "text" and value not in _NOISE:
            break
        cut = offset
    return prefix[:cut]


def cut_reply_html(html: str, separator: str = DEFAULT_SEPARATOR) -> str:
    """The new part of an HTML reply, as balanced markup; the full HTML when nothing
    recognisable, when a forward comes first, or when nothing visible would be left."""
    if not html:
        return html or ""
    try:
        return _cut_html(html, separator)
    except Exception:  # noqa: BLE001 - never lose a message over a markup oddity: keep everything
        return html


def _cut_html(markup: str, separator: str) -> str:
    tokens = list(iter_html(markup))
    text_cut, forward = _text_markers(tokens, separator)
    containers = (offset for kind, tag, attrs, offset in tokens if kind == "start" and _is_quote_container(tag, attrs))
    candidates = [offset for offset in (next(containers, None), text_cut) if offset is not None]
    if not candidates:
        return markup
    cut = min(candidates)
    if forward is not None and forward <= cut:  # the quote container is the forwarded mail
        return markup
    prefix = _trim_trailing_space(markup[:cut])
    if not _has_visible_content(prefix):
        return markup
    return _close_open_tags(prefix)
