"""Decoding bytes to text whatever the charset label says: declared, missing, misspelt or
wrong. Mail in the wild mislabels its charset often, and a body must still become text."""
from __future__ import annotations

import codecs
import re


# Normalized charset label (lower-case, only [a-z0-9]) -> Python codec; None = "not declared".
_CHARSET_ALIASES: dict[str, str | None] = {
    "utf8": "utf-8", "uft8": "utf-8", "utf": "utf-8", "xutf8": "utf-8", "unicode11utf8": "utf-8",
    "utf7": "utf-7", "unicode11utf7": "utf-7", "xunicode20utf7": "utf-7",
    "utf16": "utf-16", "unicode": "utf-16", "ucs2": "utf-16",
    "ascii": "ascii", "usascii": "ascii", "us": "ascii", "ansix341968": "ascii", "iso646us": "ascii",
    "latin1": "cp1252", "l1": "cp1252", "iso88591": "cp1252", "iso885911987": "cp1252",
    "latin9": "iso8859_15", "iso885915": "iso8859_15",
    "ksc56011987": "cp949", "ksc5601": "cp949", "euckr": "cp949", "xwindows949": "cp949",
    "windows949": "cp949", "ksc56011989": "cp949", "uhc": "cp949",
    "gb2312": "gb18030", "gbk": "gb18030", "xgbk": "gb18030", "cngb": "gb18030", "euccn": "gb18030",
    "xeuccn": "gb18030", "gb231280": "gb18030", "csgb2312": "gb18030", "chinese": "gb18030",
    "cp936": "gb18030", "windows936": "gb18030",
    "big5": "big5hkscs", "cnbig5": "big5hkscs", "xxbig5": "big5hkscs", "cp950": "big5hkscs",
    "shiftjis": "cp932", "sjis": "cp932", "xsjis": "cp932", "windows31j": "cp932",
    "mskanji": "cp932", "csshiftjis": "cp932", "cp932": "cp932",
    "iso2022jp": "iso2022_jp", "csiso2022jp": "iso2022_jp",
    "eucjp": "euc_jp", "xeucjp": "euc_jp",
    "koi8r": "koi8_r", "koi8u": "koi8_u", "tis620": "cp874", "windows874": "cp874",
    "macintosh": "mac_roman", "xmacroman": "mac_roman",
    "xunknown": None, "unknown": None, "unknown8bit": None, "xuserdefined": None,
    "default": None, "charset": None, "none": None, "8bit": None, "binary": None, "": None,
}
# Supersets tried after the declared codec fails (still "the declared charset")...
_CODEC_SUPERSETS = {
    "iso2022_jp": ("iso2022_jp_ext", "iso2022_jp_2004", "iso2022_jp_3", "iso2022_jp_2"),
    "cp932": ("shift_jis_2004",),
    "euc_jp": ("euc_jis_2004",),
    "cp1252": ("latin-1",),
}
# ...then charsets commonly mislabelled as the declared one: Japanese mail labelled ISO-2022-JP
# is often really EUC-JP or Shift_JIS (or UTF-8).
_CODEC_CONFUSED = {
    "iso2022_jp": ("utf-8", "euc_jp", "cp932"),
    "cp932": ("utf-8", "euc_jp"),
    "euc_jp": ("utf-8", "cp932"),
}
_WINDOWS_CODEPAGES = {"949": "cp949", "932": "cp932", "936": "gb18030", "950": "big5hkscs"}
_WESTERN = {"ascii", "cp1252", "latin-1", "iso8859_15"}
_NOT_TEXT_CODECS = {"undefined", "unicode_escape", "raw_unicode_escape", "punycode", "idna", "mbcs"}


def normalize_charset(label: object) -> str | None:
    """Map a declared charset label (aliases, misspellings, junk) to a Python codec name, or None."""
    if isinstance(label, tuple):  # RFC 2231 charset*= form
        label = label[2] if len(label) == 3 else ""
    text = str(label or "").strip().strip("\"'").strip().lower()
    key = re.sub(r"[^a-z0-9]", "", text)
    if key in _CHARSET_ALIASES:
        return _CHARSET_ALIASES[key]
    match = re.fullmatch(r"x?(?:windows|win|cp|ms)(125\d|874|949|932|936|950)", key)
    if match:
        return _WINDOWS_CODEPAGES.get(match.group(1), f"cp{match.group(1)}")
    match = re.fullmatch(r"iso8859(\d{1,2})", key)
    if match:
        key = f"iso8859_{match.group(1)}"
    for candidate in (text, key):
        try:
            info = codecs.lookup(candidate)
        except (LookupError, ValueError, TypeError):
            continue
        if getattr(info, "_is_text_encoding", True) and info.name.replace("-", "_") not in _NOT_TEXT_CODECS:
            return info.name
    return None


def _codec_chain(charset: str | None, data: bytes) -> list[str]:
    """Codecs to try, in order: BOM, declared (+ supersets), utf-8, windows-1252, latin-1."""
    chain: list[str] = []
    if data.startswith(codecs.BOM_UTF8):
        chain.append("utf-8-sig")
    elif data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        chain.append("utf-16")
    if charset:
        if charset in _WESTERN or charset.replace("-", "_") in _WESTERN:
            chain.append("utf-8")  # valid UTF-8 in a Western-labelled body is UTF-8 mislabelled
        chain.append(charset)
        chain.extend(_CODEC_SUPERSETS.get(charset, ()))
        chain.extend(_CODEC_CONFUSED.get(charset, ()))
    chain.extend(["utf-8", "cp1252", "latin-1"])
    return list(dict.fromkeys(chain))


def decode_bytes(data: bytes, charset: object = None) -> tuple[str, str]:
    """Decode text whatever its declared, missing or wrong charset; returns (text, codec used)."""
    codec = normalize_charset(charset) if charset is not None else None
    for name in _codec_chain(codec, data):
        try:
            return _clean_text(data.decode(name)), name
        except (UnicodeError, LookupError, ValueError):
            continue
    return _clean_text(data.decode("latin-1", "replace")), "latin-1"


def _label_honoured(declared: object, used: str) -> bool:
    """Whether decoding used the declared charset (or a superset, or a BOM)."""
    codec = normalize_charset(declared) if declared is not None else None
    if codec is None:
        return False
    return used in (codec, "utf-8-sig", "utf-16") or used in _CODEC_SUPERSETS.get(codec, ()) or (
        codec in _WESTERN and used == "utf-8"
    )


def _clean_text(text: str) -> str:
    """Drop NULs and lone surrogates (UTF-7/UTF-16 can produce them): storage rejects both."""
    text = text.replace("\x00", "")
    if re.search("[\ud800-\udfff]", text):
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text
