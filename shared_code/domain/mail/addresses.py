"""Address, Message-ID and date headers turned into values: tolerant of garbage, because a
sender's broken header must not cost the mail its ticket or its thread."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from email.utils import getaddresses, parsedate_tz

from .headers import decode_header_value

MAX_ADDRESS_HEADER = 100_000  # characters of an address header given to the stdlib parser


def normalize_message_id(value: str | None) -> str | None:
    """'<abc@host>' -> 'abc@host'; whitespace removed; None when empty."""
    ids = _message_ids(value or "")
    if ids:
        return ids[0]
    text = re.sub(r"\s+", "", re.sub(r"\([^()]*\)", "", value or "")).strip("<>")
    return text or None


def _message_ids(value: str) -> list[str]:
    """All message ids in a References / In-Reply-To value: bracketed, comma-separated or bare
    (bare ones need an '@'). Comments are dropped."""
    text = re.sub(r"\([^()]*\)", " ", value)
    found = []
    for match in re.finditer(r"<([^<>]*)>|[^\s,<>;]+", text):
        if match.group(1) is not None:
            ident = re.sub(r"\s+", "", match.group(1))
        else:
            ident = match.group(0) if "@" in match.group(0).strip("@") else ""
        if ident:
            found.append(ident)
    return list(dict.fromkeys(found))


def _parse_addresses(raw: str) -> list[tuple[str, str]]:
    """(display name, lower-case address) pairs; names RFC 2047 decoded; garbage skipped."""
    pairs = []
    raw = raw[:MAX_ADDRESS_HEADER]
    try:
        parsed = getaddresses([raw])
    except Exception:  # noqa: BLE001 - stdlib address parser on hostile input (RecursionError)
        parsed = []
    for name, address in parsed:
        address = address.strip().strip("<>").strip().lower()
        if "@" in address and " " not in address:
            pairs.append((decode_header_value(name).strip().strip('"').strip(), address))
    if not pairs:
        for token in re.findall(r"[^\s<>\"'(),;:]+", raw):
            local, _, domain = token.partition("@")
            if local and domain:
                pairs.append(("", token.lower().rstrip(".")))
                break
    return pairs


def _parse_date(value: str | None) -> datetime | None:
    """A timezone-aware datetime, UTC when the zone is missing; None when unreadable."""
    if not value:
        return None
    try:
        parts = parsedate_tz(value)
        if parts is None:
            return None
        offset = parts[9] or 0
        return datetime(*parts[:6], tzinfo=timezone(timedelta(seconds=offset)))
    except (ValueError, OverflowError, TypeError, IndexError):
        return None
