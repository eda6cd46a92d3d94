"""HTML bodies as plain text, and the linear HTML tokenizer that the quote cutter reuses:
mail HTML is hostile input, so nothing here may be slower than linear or raise."""
from __future__ import annotations

import html
import re

from .charsets import _clean_text


# A small tokenizer instead of html.parser: HTMLParser in this Python is quadratic on input such
# as "<a<a<a..." (200 kB took over a minute), and mail HTML is hostile input. Every alternative
# below consumes at least one character and stops at the next "<", so tokenizing is linear.

_HTML_TOKEN = re.compile(
    r"(?P<comment><!--.*?(?:-->|\Z))"
    r"|(?P<decl><[!?][^<>]*>?)"
    r"|<(?P<end>/?)(?P<tag>[a-zA-Z][^\s/<>]*)(?P<attrs>(?:\"[^\"]*\"|'[^']*'|[^<>\"'])*)>?"
    r"|(?P<text>[^<]+|<)",
    re.S,
)
_RAW_TEXT = ("script", "style", "title", "textarea", "xmp")
_RAW_TEXT_END = {tag: re.compile(rf"</{tag}\s*>", re.I) for tag in _RAW_TEXT}


def iter_html(markup: str):
    """Yield (kind, value, attributes, offset) for each token of an HTML string, where kind is
    "start", "end" (value: lower-case tag name) or "text" (value: text with entities decoded).
    Comments and declarations are skipped; script/style/title content is one text token."""
    position, length = 0, len(markup)
    while position < length:
        match = _HTML_TOKEN.match(markup, position)
        if match.group("text") is not None:
            yield "text", html.unescape(match.group("text")), "", position
        elif match.group("tag") is not None:
            tag = match.group("tag").lower()
            if match.group("end"):
                yield "end", tag, "", position
            else:
                yield "start", tag, match.group("attrs"), position
                if tag in _RAW_TEXT:
                    closing = _RAW_TEXT_END[tag].search(markup, match.end())
                    stop = closing.start() if closing else length
                    yield "text", markup[match.end():stop], "", match.end()
                    position = stop
                    continue
        position = match.end()


_BLOCK = {
    "div", "tr", "li", "dt", "dd", "section", "article", "header", "footer", "address", "center",
    "form", "fieldset", "tbody", "thead", "tfoot", "caption", "hr", "pre",
}
_PARAGRAPH = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "ul", "ol", "dl"}
_SKIP = {"script", "style", "title", "xml", "template"}


class _TextExtractor:
    """Collects visible text: <br> breaks a line, block elements start a new line, paragraphs
    are separated by a blank line and blockquotes are rendered as '> ' quotes. The current line
    is a list of chunks, so long lines stay linear."""

    def __init__(self) -> None:
        self.lines: list[tuple[int, str]] = []
        self.chunks: list[str] = []
        self.has_text = False
        self.depth = 0
        self.line_depth = 0
        self.skip = 0
        self.pre = 0

    def hard_break(self) -> None:
        self.lines.append((self.line_depth, "".join(self.chunks).strip()))
        self.chunks, self.has_text = [], False
        self.line_depth = self.depth

    def soft_break(self) -> None:
        if self.has_text:
            self.hard_break()

    def paragraph_break(self) -> None:
        self.soft_break()
        if self.lines and self.lines[-1][1]:
            self.lines.append((0, ""))

    def add(self, chunk: str) -> None:
        if chunk.strip() and not self.has_text:
            self.has_text = True
            self.line_depth = self.depth
        self.chunks.append(chunk)

    def start(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip += 1
        elif tag == "br":
            self.hard_break()
        elif tag in ("td", "th") and self.has_text:
            self.chunks.append("\t")
        elif tag in _PARAGRAPH:
            self.paragraph_break()
            self.depth += tag == "blockquote"
            self.line_depth = self.depth
        elif tag in _BLOCK:
            self.soft_break()
            self.pre += tag == "pre"
            if tag == "li":
                self.add("- ")

    def end(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in _PARAGRAPH:
            self.paragraph_break()
            if tag == "blockquote":
                self.depth = max(0, self.depth - 1)
            self.line_depth = self.depth
        elif tag in _BLOCK:
            self.soft_break()
            if tag == "pre":
                self.pre = max(0, self.pre - 1)

    def data(self, data: str) -> None:
        if self.skip:
            return
        data = data.replace("\xa0", " ")
        if self.pre:
            for index, chunk in enumerate(data.split("\n")):
                if index:
                    self.hard_break()
                self.add(chunk)
            return
        self.add(_WHITESPACE.sub(" ", data))

    def text(self) -> str:
        self.soft_break()
        rendered = [("> " * depth + line).rstrip() if line else "" for depth, line in self.lines]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(rendered)).strip()


_WHITESPACE = re.compile(r"\s+")


def html_to_text(markup: str) -> str:
    """Plain text of an HTML body, keeping paragraph and line breaks; never raises."""
    extractor = _TextExtractor()
    handlers = {"start": extractor.start, "end": extractor.end, "text": extractor.data}
    for kind, value, _, _ in iter_html(markup or ""):
        handlers[kind](value)
    return _clean_text(extractor.text())
