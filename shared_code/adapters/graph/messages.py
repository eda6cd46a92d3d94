"""The message refs a folder listing yields, and Graph's timestamps."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

MESSAGE_FIELDS = "id,internetMessageId,receivedDateTime,lastModifiedDateTime,isRead,subject,from"


@dataclass(frozen=True)
class GraphMessageRef:
    id: str
    internet_message_id: str | None
    received: datetime
    is_read: bool
    subject: str | None
    from_address: str | None
    modified: datetime | None = None  # lastModifiedDateTime: arrival, a move into the folder, a flag
    from_name: str | None = None

    @classmethod
    def from_graph(cls, item: dict) -> "GraphMessageRef":
        email_address = (item.get("from") or {}).get("emailAddress") or {}
        sender = email_address.get("address")
        return cls(
            id=item["id"],
            internet_message_id=_strip_brackets(item.get("internetMessageId")),
            received=parse_graph_datetime(item.get("receivedDateTime")),
            is_read=bool(item.get("isRead")),
            subject=item.get("subject"),
            from_address=sender or None,
            modified=parse_graph_datetime(item.get("lastModifiedDateTime") or item.get("receivedDateTime")),
            from_name=email_address.get("name") or None,
        )


def _strip_brackets(value: str | None) -> str | None:
    value = (value or "").strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1].strip()
    return value or None


def parse_graph_datetime(value: str | None) -> datetime:
    """Graph's ISO 8601 UTC timestamps ("2024-05-01T10:00:00Z", up to 7 fraction digits)."""
    if not value:
        return datetime.fromtimestamp(0, timezone.utc)
    text = value.strip().replace("z", "Z")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    if "." in text:  # Python takes at most 6 fraction digits
        head, rest = text.split(".", 1)
        digits = "".join(ch for ch in rest if ch.isdigit())
        text = f"{head}.{digits[:6].ljust(6, '0')}{rest[len(digits):]}"
    parsed = datetime.fromisoformat(text)
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed


def format_graph_datetime(value: datetime) -> str:
    """UTC with a Z, whole seconds (rounded down, so a `ge` filter never misses a message)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
