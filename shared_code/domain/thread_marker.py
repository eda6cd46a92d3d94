"""Threading that survives mail clients (issue 10 §5): the signed thread marker and
Outlook's Thread-Topic / Thread-Index headers.

Clients drop In-Reply-To and References when a mail is forwarded, retyped or answered from
some phones, but they keep the quoted body. Every outbound mail about a ticket therefore ends
both bodies with a short marker, `[ref:dm1-108749-0123456789abcdef]`: the ticket number and
the first 64 bits of HMAC-SHA256 over it, keyed with the Key Vault secret
`deskmail-thread-key`. Nobody without the key can make a marker for another ticket, so a
marker is a proof as strong as our own Message-IDs. `dm1` is the token's format version; the
key is rotated by moving the current key to `deskmail-thread-key-previous` and writing a new
one: markers signed with either key are accepted (pipeline/thread_match.py).

Thread-Index follows [MS-OXOMSG] 2.2.1.3 (PidTagConversationIndex): a 22-byte header
(0x01, the 40 high bits of a FILETIME, a GUID) and one 5-byte response level per reply.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from .autoreply import PREFIX_WORDS, strip_subject_prefixes, subject_prefix

THREAD_KEY_SECRET = "deskmail-thread-key"
PREVIOUS_THREAD_KEY_SECRET = "deskmail-thread-key-previous"
TOKEN_VERSION = "dm1"
_SIGNATURE_HEX = 16
#: a marker anywhere in a text or HTML body (quoting may add `> ` before it, never inside it)
MARKER = re.compile(r"\[ref:(dm1)-(\d{6})-([0-9a-f]{16})\]", re.IGNORECASE)
#: Re:, Fwd:, AW:, WG:, SV:, RV:, Odp:, 回复: and the like (counted: "Re[2]:", "AW(3):"; a
#: full-width colon), and [tags] before them: ours, [#NNNNNN], and a gateway's [EXTERNAL].
#: domain/autoreply.py's subject prefixes, and the CJK and Greek clients' words.
_PREFIX = subject_prefix(f"{PREFIX_WORDS}|res|vb|回复|回覆|答复|答覆|转发|轉發|轉寄|απ|σχετ|πρθ")
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=timezone.utc)
_GUID_NAMESPACE = uuid.UUID("8f1d8f1e-4c5b-5e7a-9d43-6b2a1c0de5a1")


@dataclass(frozen=True)
class ThreadKeys:
    """The marker keys: `current` signs, `current` and `previous` verify."""

    current: bytes
    previous: bytes | None = None

    def _sign(self, key: bytes, number: str) -> str:
        mac = hmac.new(key, f"{TOKEN_VERSION}|{number}".encode("ascii"), hashlib.sha256)
        return mac.hexdigest()[:_SIGNATURE_HEX]

    def token(self, number: str) -> str:
        """`dm1-108749-<16 hex>`: the ticket number, signed."""
        if not (number.isdigit() and len(number) == 6):
            raise ValueError(f"ticket number must be 6 digits, got {number!r}")
        return f"{TOKEN_VERSION}-{number}-{self._sign(self.current, number)}"

    def marker(self, number: str) -> str:
        return f"[ref:{self.token(number)}]"

    def verify(self, number: str, signature: str) -> bool:
        """True when `signature` is this ticket's under the current or the previous key."""
        keys = [k for k in (self.current, self.previous) if k]
        return any(hmac.compare_digest(self._sign(key, number), signature.lower()) for key in keys)


def markers_in(*bodies: str | None) -> list[tuple[str, str]]:
    """Every (ticket number, signature) marker of the bodies, in order, unverified."""
    found: list[tuple[str, str]] = []
    for body in bodies:
        for match in MARKER.finditer(body or ""):
            item = (match.group(2), match.group(3).lower())
            if item not in found:
                found.append(item)
    return found


def normalized_subject(subject: str) -> str:
    """The subject without Re:/Fwd: prefixes and ticket tags, spaces collapsed (Thread-Topic,
    and the reopen window's "same subject" test)."""
    text = strip_subject_prefixes(" ".join((subject or "").split()), _PREFIX)
    text = re.sub(r"\s*\[#\d{6}\]\s*", " ", text)
    return " ".join(text.split())


def filetime(when: datetime) -> int:
    """100-nanosecond intervals since 1601-01-01 UTC."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    delta = when - _FILETIME_EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


def conversation_guid(system_domain: str, number: str) -> uuid.UUID:
    """One GUID per ticket conversation, derived (the same on every send and every instance)."""
    return uuid.uuid5(_GUID_NAMESPACE, f"{system_domain.lower()}|{number}")


def index_header(started: datetime, guid: uuid.UUID) -> bytes:
    """22 bytes: 0x01, FILETIME bits 63..24 big-endian, the GUID with Data1-3 big-endian."""
    return bytes([0x01]) + (filetime(started) >> 24).to_bytes(5, "big") + guid.bytes


def response_level(started: datetime, now: datetime, random4: int = 0, sequence: int = 0) -> bytes:
    """5 bytes: DC (1 bit), Time Delta (31 bits), Random (4 bits), Sequence Count (4 bits).
    TimeDiff is `now` less the header's time (as stored: its low 24 bits dropped); under about
    1.7 years (bits 49..55 clear) DC=0 and the delta drops 18 bits, else DC=1 and 23."""
    diff = max(0, filetime(now) - ((filetime(started) >> 24) << 24))
    if (diff >> 32) & 0x00FE0000 == 0:
        head = (diff >> 18) & 0x7FFFFFFF
    else:
        head = 0x80000000 | ((diff >> 23) & 0x7FFFFFFF)
    return head.to_bytes(4, "big") + bytes([((random4 & 0xF) << 4) | (sequence & 0xF)])


def thread_index(system_domain: str, number: str, started: datetime, now: datetime | None = None,
                 salt: str = "") -> str:
    """The Thread-Index header value (base64): the header block alone for the first mail of
    the conversation (`now` None), else with one response level; `salt` (the notification
    id) picks its 4 random bits, so a retried send writes the same header."""
    raw = index_header(started, conversation_guid(system_domain, number))
    if now is not None:
        random4 = hashlib.sha256(salt.encode("utf-8")).digest()[0] >> 4
        raw += response_level(started, now, random4)
    return base64.b64encode(raw).decode("ascii")
