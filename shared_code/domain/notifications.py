"""The notification message: what goes onto the `outbound-mail` queue.

One JSON object per mail to send (docs/architecture.md#notification-queue). Inbound
processing, staff actions, the overdue check and the HTTP API all build it here, and
the sender validates it here, so the schema lives in one place.
"""
from __future__ import annotations

import hashlib
import json
import re
import secrets
import uuid
from datetime import datetime, timezone

from .limits import MAX_NAME_CHARS, clip_message_id, clip_text
from .model import Party, Ticket
from .routing import ROLES

SCHEMA = "deskmail.notification/1"
BATCH_SCHEMA = "deskmail.batch/1"
#: JSON characters of one batch message; base64 on the queue adds a third (64 KiB limit)
MAX_BATCH_CHARS = 45_000
# it is stored whole in one Table Storage property (for requeue), and travels on a queue (64 KB)
MAX_NOTIFICATION_CHARS = 16_000
TEMPLATES = (
    "new_ticket_auto_response", "new_ticket_alert", "new_message_alert", "response",
    "assignment_alert", "transfer_alert", "overdue_alert", "ticket_closed",
)


class NotificationError(ValueError):
    """A notification request that cannot be sent as it is; the message says why."""


MAX_REFERENCES = 20  # the newest, in the queued message; the outbound mail trims further


def _party(party: Party | None) -> dict:
    if not party:
        return {"name": "", "email": ""}
    return {"name": clip_text(party.name or "", MAX_NAME_CHARS)[0], "email": party.email}


def _recipient(recipient: dict) -> dict:
    if "name" not in recipient:
        return recipient
    return {**recipient, "name": clip_text(str(recipient["name"] or ""), MAX_NAME_CHARS)[0]}


def new_notification(template: str, ticket: Ticket, recipient: dict, *, event: str,
                     notification_id: str | None = None, entry_id: str = "", account: str = "",
                     sender: Party | None = None, actor: Party | None = None,
                     in_reply_to: str = "", references: list[str] | None = None,
                     extra: dict | None = None) -> dict:
    """Build and validate a notification; every mail-derived value is clipped to the limits
    of domain/limits.py first, so one built from stored values passes by construction."""
    notification = {
        "schema": SCHEMA,
        "id": notification_id or uuid.uuid4().hex,
        "template": template,
        "event": event,
        "ticket_number": ticket.number,
        "entry_id": entry_id,
        "department": ticket.department,
        "account": account,
        "recipient": _recipient(recipient),
        "sender": _party(sender),
        "actor": _party(actor),
        # clipped as the inbound rules clip them, so ids stored before the limits still fit
        "in_reply_to": clip_message_id(in_reply_to or ticket.last_message_id or "")[0],
        "references": [clip_message_id(ref)[0] for ref in (references or [])[-MAX_REFERENCES:]],
        "created": datetime.now(timezone.utc).isoformat(),
        **(extra or {}),
    }
    validate_notification(notification)
    return notification


def validate_notification(data: object) -> dict:
    """Check a notification (from the queue or the HTTP API); raise NotificationError naming the field."""
    if not isinstance(data, dict):
        raise NotificationError("a notification must be a JSON object")
    for name in ("id", "template", "ticket_number", "recipient"):
        if not data.get(name):
            raise NotificationError(f"field {name!r} is required")
    if data["template"] not in TEMPLATES:
        raise NotificationError(f"unknown template {data['template']!r} (known: {', '.join(TEMPLATES)})")
    number = str(data["ticket_number"])
    if not (number.isdigit() and len(number) == 6):
        raise NotificationError(f"ticket_number must be 6 digits, got {number!r}")
    recipient = data["recipient"]
    if not isinstance(recipient, dict) or recipient.get("role") not in ROLES:
        raise NotificationError(f"recipient.role must be one of {', '.join(sorted(ROLES))}")
    if recipient["role"] in ("staff", "address", "collaborator") and "@" not in str(recipient.get("email", "")):
        raise NotificationError(f"recipient.email is required for role {recipient['role']!r}")
    if not isinstance(data.get("references", []), list):
        raise NotificationError("references must be a list of Message-IDs")
    size = len(json.dumps(data, ensure_ascii=True))
    if size > MAX_NOTIFICATION_CHARS:
        raise NotificationError(f"a notification may be at most {MAX_NOTIFICATION_CHARS} characters "
                                f"of JSON, got {size}")
    return data


def batch_messages(ticket_number: str, notifications: list[dict]) -> list[dict]:
    """The queue messages of one unit of work: one `deskmail.batch/1` message with every
    notification, split only when it would not fit a queue message."""
    out: list[dict] = []
    for notification in notifications:
        size = len(json.dumps(notification, ensure_ascii=True))
        if out and out[-1]["_size"] + size <= MAX_BATCH_CHARS:
            out[-1]["notifications"].append(notification)
            out[-1]["_size"] += size
        else:
            out.append({"schema": BATCH_SCHEMA, "ticket_number": str(ticket_number),
                        "notifications": [notification], "_size": size})
    for message in out:
        del message["_size"]
    return out


def unbatch(message: object) -> list[object]:
    """The notifications of a queue message: a batch, or one notification (older shape)."""
    if isinstance(message, dict) and message.get("schema") == BATCH_SCHEMA:
        notifications = message.get("notifications")
        return list(notifications) if isinstance(notifications, list) else []
    return [message]


#: the outbound Message-ID form: <dm.<ticket>.<thread token>.<hash>@<system domain>>
OUTBOUND_ID = re.compile(r"^dm\.(\d{6})\.([0-9a-z]{8,64})\.([0-9a-f]{8,64})@", re.IGNORECASE)


def outbound_message_id(notification_id: str, system_domain: str, ticket_number: str = "",
                        thread_token: str = "") -> str:
    """The Message-ID of the mail a notification sends (no angle brackets): on the system's
    domain and derived from the notification id, so a retried send reuses it. With the
    ticket and its thread token it names its ticket (`dm.<ticket>.<token>.<hash>@domain`),
    so a reply to it is threaded without a storage lookup and a forged one fails the token
    check; without them it is the previous form (`deskmail.<id>@domain`)."""
    if ticket_number and thread_token:
        hashed = hashlib.sha256(notification_id.encode("utf-8")).hexdigest()[:24]
        return f"dm.{ticket_number}.{thread_token}.{hashed}@{system_domain}"
    return f"deskmail.{notification_id}@{system_domain}"


def parse_outbound_id(message_id: str) -> tuple[str, str] | None:
    """(ticket number, thread token) of an outbound Message-ID of the current form."""
    match = OUTBOUND_ID.match(message_id.strip().strip("<>").strip())
    return (match.group(1), match.group(2)) if match else None


def new_thread_token() -> str:
    return secrets.token_hex(8)
