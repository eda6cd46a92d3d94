"""Sender-chosen text and types, made safe to store and to show.

A mail's sender picks its attachment names, their declared content types and every header the
CLI prints. A right-to-left override makes `invoice\u202egpj.exe` read as `invoiceexe.jpg`, an
attachment declared text/html or image/svg+xml runs script when a viewer serves it inline, and
an ANSI/OSC escape in a subject rewrites the admin's terminal (title, screen, clipboard). The
functions here are the one place that decides what of it survives.
"""
from __future__ import annotations

import re

OCTET_STREAM = "application/octet-stream"

# Types a stored attachment may keep. Everything else, in particular text/html, image/svg+xml,
# XML, JavaScript, message/rfc822 (some browsers render it as MHTML) and unknown types, is stored
# as application/octet-stream, so a viewer offers a download instead of rendering it.
STORED_TYPES = frozenset({
    # images that browsers render as pictures only (never SVG: it is a document with script)
    "image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "image/tiff",
    "image/heic", "image/heif", "image/avif",
    "application/pdf",
    # office documents
    "application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint",
    "application/rtf", "application/vnd.ms-outlook",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.template",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.openxmlformats-officedocument.presentationml.slideshow",
    "application/vnd.openxmlformats-officedocument.presentationml.template",
    "application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
    "text/plain",
    # archives
    "application/zip", "application/gzip", "application/x-tar", "application/x-7z-compressed",
    "application/vnd.rar", "application/x-rar-compressed", "application/x-bzip2",
})
# Common non-standard spellings, mapped to the registered type before the allow-list check.
_ALIASES = {
    "image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "image/x-png": "image/png",
    "image/x-ms-bmp": "image/bmp", "application/x-pdf": "application/pdf",
    "application/x-zip-compressed": "application/zip", "application/x-zip": "application/zip",
    "application/x-gzip": "application/gzip",
}
# Of the stored types, the images a ticket's HTML may show inline (every browser renders them).
INLINE_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"})


def stored_content_type(declared: str | None) -> str:
    """The content type to store an attachment with: the declared one when it is on the
    allow-list (after alias mapping), else application/octet-stream."""
    ctype = (declared or "").split(";", 1)[0].strip().lower()
    ctype = _ALIASES.get(ctype, ctype)
    return ctype if ctype in STORED_TYPES else OCTET_STREAM


# --- characters -------------------------------------------------------------------------------

# Bidirectional embeddings, overrides, isolates and marks: they reorder what is shown.
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
# C0 controls, DEL and C1 controls.
_CONTROLS = "\x00-\x1f\x7f-\x9f"
# Invisible characters that only hide or break a file name (zero-width space, BOM, line and
# paragraph separators). Zero-width (non-)joiners stay: scripts and emoji need them.
_INVISIBLE = "\u200b\u2028\u2029\ufeff"

_NAME_UNSAFE = re.compile(f"[{_CONTROLS}{_BIDI}{_INVISIBLE}]")


def clean_filename(name: str) -> str:
    """A file name without path, control, bidirectional-override or invisible characters;
    "" when nothing is left."""
    name = re.split(r"[\\/]", name or "")[-1]
    return _NAME_UNSAFE.sub("", name).strip().strip(".").strip()


# Escape sequences as terminals parse them: CSI (ESC [, parameters, a final byte), the string
# sequences OSC/DCS/SOS/PM/APC (ESC ] P X ^ _ up to BEL or ST) and other two-character escapes.
# Whatever a pattern misses, the ESC itself goes with the controls below; C1 characters (the
# 8-bit forms) are removed one by one, so a stray one in mis-decoded text costs no other text.
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"
    r"|\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)"
    r"|\x1b[ -/]*[0-~]?"
)
_TERMINAL_UNSAFE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}]")  # keeps \t and \n


def terminal_safe(text: str) -> str:
    """Text for a terminal: escape sequences (ANSI CSI, OSC, DCS...), C0/C1 controls other than
    newline and tab, and bidirectional overrides removed."""
    return _TERMINAL_UNSAFE.sub("", _ESCAPE_SEQUENCE.sub("", text))
