"""What fits: Table Storage's limits, the notification's, and how a value over one is clipped.

Every value a mail or a staff action writes passes through here before the first write, so
that no write can fail half-way for a value that is too long (a ticket stored, its alert
refused). A clipped value keeps its head and ends with CLIP_MARKER, the field is named in the
entry's `clipped` list, and the full value stays in the raw mail. Staff input is refused, not
clipped: a person can shorten it. Plain Python: the pipeline, the actions and the table
adapters all use these same rules.
"""
from __future__ import annotations

import hashlib

# Table Storage: a string property holds at most 32K UTF-16 code units, an entity at most
# 1 MiB, a PartitionKey or RowKey at most 1 KiB.
MAX_PROPERTY_CHARS = 32 * 1024
MAX_INLINE_CHARS = 30_000  # what we keep in one property (room for JSON quoting)
MAX_ENTITY_BYTES = 1024 * 1024
MAX_KEY_CHARS = 512  # 1 KiB of UTF-16

CLIP_MARKER = " …[clipped]"

# Per field: far below the storage limits, so that a notification built from any combination
# of them stays under MAX_NOTIFICATION_CHARS (domain/notifications.py) by construction.
MAX_NAME_CHARS = 200  # display names
MAX_ADDRESS_CHARS = 254  # RFC 5321; also keeps an address (a clients' RowKey) under MAX_KEY_CHARS
MAX_SUBJECT_CHARS = 2_000
MAX_MESSAGE_ID_CHARS = 250  # real ones are < 100; longer ones are replaced by a clipped id
MAX_REFERENCES = 50  # ids kept from References: the first (thread root) and the newest
MAX_IN_REPLY_TO = 10
MAX_RECIPIENTS = 100  # To + Cc addresses considered (collaborators)
MAX_COLLABORATORS = 50  # collaborators kept on a ticket (each is mailed every response)
MAX_LIST_ITEMS = 100  # defects, rejected attachments
MAX_LIST_ITEM_CHARS = 300
# A staff reply's text, refused above: beyond what Graph can send anyway (about 3-4 MB, the
# sender then records MessageTooLarge), so this only stops absurd input before any write.
MAX_REPLY_CHARS = 5_000_000


def utf16_len(text: str) -> int:
    """Length as Table Storage counts it: UTF-16 code units, not characters."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def clip(text: str, limit: int = MAX_INLINE_CHARS) -> str:
    """Cut a string to fit a property of `limit` UTF-16 units (no marker: the storage backstop)."""
    if utf16_len(text) <= limit:
        return text
    return text.encode("utf-16-le", "surrogatepass")[: limit * 2].decode("utf-16-le", "ignore")


def clip_text(text: str, limit: int) -> tuple[str, bool]:
    """`text` itself when it fits in `limit` UTF-16 units, else its head and CLIP_MARKER."""
    if utf16_len(text) <= limit:
        return text, False
    return clip(text, limit - utf16_len(CLIP_MARKER)) + CLIP_MARKER, True


def clip_message_id(message_id: str) -> tuple[str, bool]:
    """A Message-ID that fits, or its head plus a hash of the whole: deterministic, so the same
    over-long id in a reply's References finds the ticket its first mail made."""
    if utf16_len(message_id) <= MAX_MESSAGE_ID_CHARS:
        return message_id, False
    whole = hashlib.sha256(message_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    head = clip(message_id, MAX_MESSAGE_ID_CHARS - 64).replace("@", "_")  # 64: the tail below
    return f"{head}.clipped.{whole}@clipped.invalid", True


def clip_references(references: list[str], keep: int = MAX_REFERENCES) -> tuple[list[str], bool]:
    """Each id clipped; at most `keep` of them: the first (the thread's root) and the newest."""
    ids = [clip_message_id(ref) for ref in references]
    out = [value for value, _ in ids]
    clipped = any(was for _, was in ids)
    if len(out) > keep:
        out, clipped = out[:1] + out[len(out) - keep + 1:], True
    return out, clipped


def clip_list(items: list[str], max_items: int = MAX_LIST_ITEMS,
              item_chars: int = MAX_LIST_ITEM_CHARS) -> tuple[list[str], bool]:
    """Each item clipped, at most `max_items`; a last item says how many were left out."""
    out, clipped = [], False
    for item in items[:max_items]:
        value, was = clip_text(str(item), item_chars)
        out.append(value)
        clipped = clipped or was
    if len(items) > max_items:
        out[-1] = f"… and {len(items) - max_items + 1} more"
        clipped = True
    return out, clipped


def is_usable_address(address: str) -> bool:
    """An address a ticket can belong to and a reply can go to (also a clients' RowKey)."""
    return (bool(address) and "@" in address and len(address) <= MAX_ADDRESS_CHARS
            and not any(ch.isspace() or ord(ch) < 32 for ch in address))


def entity_bytes(entity: dict) -> int:
    """Table Storage's size of an entity, roughly as documented: strings count 2 bytes a unit,
    other values 8, each name 2 a unit plus overhead."""
    size = 4
    for name, value in entity.items():
        size += 8 + 2 * len(name)
        size += 2 * utf16_len(value) + 4 if isinstance(value, str) else 8
    return size


def check_entity(entity: dict, what: str) -> None:
    """Raise before a write that Table Storage would refuse half-way."""
    for key in ("PartitionKey", "RowKey"):
        if utf16_len(str(entity.get(key, ""))) > MAX_KEY_CHARS:
            raise ValueError(f"{what}: {key} over {MAX_KEY_CHARS} characters")
    too_long = [name for name, value in entity.items()
                if isinstance(value, str) and utf16_len(value) > MAX_PROPERTY_CHARS]
    if too_long:
        raise ValueError(f"{what}: propert{'ies' if len(too_long) > 1 else 'y'} "
                         f"{', '.join(too_long)} over {MAX_PROPERTY_CHARS} UTF-16 characters")
    if entity_bytes(entity) > MAX_ENTITY_BYTES:
        raise ValueError(f"{what}: entity over {MAX_ENTITY_BYTES} bytes")


def clip_parsed(parsed) -> list[str]:
    """Clip a `ParsedMail` in place to what may be stored; returns the names of the fields
    that were clipped (the entry records them). Deterministic, so a replay clips alike."""
    clipped: list[str] = []

    def mark(name: str, was: bool) -> None:
        if was:
            clipped.append(name)

    parsed.from_name, was = clip_text(parsed.from_name or "", MAX_NAME_CHARS)
    mark("sender.name", was)
    if parsed.from_address and not is_usable_address(parsed.from_address):
        parsed.defects.append(f"unusable From address {clip_text(parsed.from_address, 100)[0]!r}")
        parsed.from_address = ""
    parsed.subject, was = clip_text(parsed.subject or "", MAX_SUBJECT_CHARS)
    mark("subject", was)
    if parsed.message_id:
        parsed.message_id, was = clip_message_id(parsed.message_id)
        mark("message_id", was)
    parsed.in_reply_to, was = clip_references(parsed.in_reply_to, MAX_IN_REPLY_TO)
    mark("in_reply_to", was)
    parsed.references, was = clip_references(parsed.references)
    mark("references", was)
    budget = MAX_RECIPIENTS
    for name in ("to", "cc"):
        kept, was = [], False
        for display, address in getattr(parsed, name):
            if not address:
                continue  # a group such as "undisclosed-recipients:;"
            if not is_usable_address(address) or len(kept) >= budget:
                was = True
                continue
            display, long_name = clip_text(display or "", MAX_NAME_CHARS)
            kept.append((display, address))
            was = was or long_name
        budget -= len(kept)
        mark(name, was)
        setattr(parsed, name, kept)
    parsed.defects, was = clip_list(parsed.defects)
    mark("defects", was)
    return clipped
