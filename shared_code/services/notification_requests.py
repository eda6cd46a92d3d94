"""`POST /api/notifications`: check a caller's request, then queue one notification, once.

Everything is checked before anything is written: each field's type (a 400 names the field),
the ticket (404), and the recipient, which must belong to the ticket (its client or a
collaborator) or to the staff directory, so the API cannot be used to mail anyone else.

Idempotency: a request may carry a key (`Idempotency-Key` header or an `id` field). The
notification id is derived from the key, and the key is inserted in `apirequests` before
queueing, so the same key twice queues once and gets the first answer (202 and the same
body). The same key with a different request is refused with 409 (a retry must not silently
become another mail, nor another mail be silently dropped). Answers that queued nothing (400,
404) are not remembered: nothing happened, so the caller may fix the request and retry.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..adapters.idempotency import KeyState, fingerprint, key_hash
from ..adapters.names import OUTBOUND_MAIL
from ..adapters.table_base import utcnow
from ..domain.model import Party, Ticket, ValidationError, normalize_address
from ..domain.notifications import NotificationError, new_notification, validate_notification
from .helpdesk import Helpdesk

#: Fields a caller may set; the server sets schema, created, event and department (and the id,
#: from the idempotency key or at random).
REQUEST_FIELDS = {"id", "template", "ticket_number", "recipient", "actor", "in_reply_to",
                  "references", "previous_department"}
MAX_KEY_CHARS = 200
MAX_TEXT_CHARS = 1000
MAX_REFERENCES = 100
#: A key taken by a request that has not queued yet is "in progress" for this long; after it,
#: the first request is taken to have died and a retry finishes its work.
PENDING_KEY_SECONDS = 60
#: One queue message per unit of work: the notifications one mail or action caused.
BATCH_SCHEMA = "deskmail.batch/1"
#: One entity-group transaction claims a batch: at most 100 operations.
MAX_BATCH = 100
_KEY = re.compile(r"^[\x20-\x7e]+$")


@dataclass(frozen=True)
class ApiAnswer:
    status: int
    payload: dict


def submit(desk: Helpdesk, body: object, idempotency_key: str | None = None,
           now: datetime | None = None) -> ApiAnswer:
    """The HTTP function's work: the answer to give (status and JSON body)."""
    try:
        key = _idempotency_key(body, idempotency_key)
        notification = prepare(desk, body, notification_id=_notification_id(key) if key else None)
    except NotificationError as error:
        return ApiAnswer(400, {"error": str(error)})
    except LookupError as error:
        return ApiAnswer(404, {"error": str(error)})
    answer = {"id": notification["id"]}
    if key is None:
        queue(desk, notification)
        return ApiAnswer(202, answer)

    keys = desk.request_keys
    request_fingerprint = fingerprint({k: v for k, v in body.items() if k != "id"})
    held = keys.take(key, request_fingerprint, notification["id"])
    if held is not None:
        if held.fingerprint != request_fingerprint:
            return ApiAnswer(409, {"error": "this Idempotency-Key was first used with a "
                                            "different request; use a new key for a new request"})
        if held.state == KeyState.QUEUED:
            return ApiAnswer(202, held.answer)
        now = now or utcnow()
        if held.created and now - held.created < timedelta(seconds=PENDING_KEY_SECONDS):
            return ApiAnswer(409, {"error": "a request with this Idempotency-Key is still being "
                                            "processed; retry in a minute"})
        # the first request stopped before queueing: finish its work under the same id
    queue(desk, notification)
    keys.answered(key, answer)
    return ApiAnswer(202, answer)


def enqueue_request(desk: Helpdesk, body: object) -> dict:
    """Check a request and queue its notification (no idempotency key); raises
    NotificationError (bad request, naming the field) or LookupError (no such ticket)."""
    notification = prepare(desk, body)
    queue(desk, notification)
    return notification


def batch_message(ticket_number: str, notifications: list[dict]) -> dict:
    """The `outbound-mail` message for notifications of one ticket whose rows are written."""
    return {"schema": BATCH_SCHEMA, "ticket_number": str(ticket_number),
            "notifications": notifications}


def queue(desk: Helpdesk, notification: dict) -> None:
    """Write the notification's `queued` row, then send it as a batch of one (the sender
    then reads the row instead of trying to insert it)."""
    desk.deliveries.record_queued(notification)
    desk.queues.send(OUTBOUND_MAIL, batch_message(notification["ticket_number"], [notification]))


def prepare(desk: Helpdesk, body: object, notification_id: str | None = None) -> dict:
    """The notification a request asks for, checked; nothing is written."""
    _check_types(body)
    validate_notification({**body, "id": "request"})
    ticket = desk.tickets.get(body["ticket_number"])
    if ticket is None:
        raise LookupError(f"no ticket #{body['ticket_number']}")
    _check_recipient(desk, ticket, body["recipient"])
    actor = body.get("actor") or {}
    extra = {"previous_department": body["previous_department"]} \
        if "previous_department" in body else {}
    return new_notification(
        body["template"], ticket, body["recipient"], event="api.request",
        notification_id=notification_id,
        actor=Party(actor.get("name", ""), actor.get("email", "")) if actor else None,
        in_reply_to=body.get("in_reply_to", ""), references=body.get("references"), extra=extra)


def _notification_id(key: str) -> str:
    return f"api-{key_hash(key)[:32]}"


def _idempotency_key(body: object, header: str | None) -> str | None:
    field = body.get("id") if isinstance(body, dict) else None
    if field is not None and not (isinstance(field, str) and field):
        raise NotificationError("field 'id' (the idempotency key) must be a non-empty string")
    for name, value in (("Idempotency-Key", header), ("id", field)):
        if value is not None and not (len(value) <= MAX_KEY_CHARS and _KEY.match(value)):
            raise NotificationError(f"{name} must be 1 to {MAX_KEY_CHARS} printable ASCII "
                                    "characters")
    if header is not None and field is not None and header != field:
        raise NotificationError("the Idempotency-Key header and field 'id' differ")
    return header if header is not None else field


def _check_types(body: object) -> None:
    if not isinstance(body, dict):
        raise NotificationError("the request body must be a JSON object")
    unknown = sorted(set(body) - REQUEST_FIELDS)
    if unknown:
        raise NotificationError(f"unknown field {unknown[0]!r} "
                                f"(allowed: {', '.join(sorted(REQUEST_FIELDS))})")
    for name in ("template", "ticket_number", "recipient"):
        if body.get(name) in (None, "", {}):
            raise NotificationError(f"field {name!r} is required")
    for name in ("template", "ticket_number", "in_reply_to", "previous_department"):
        _text(body, name, name)
    for name, allowed in (("recipient", ("role", "email", "name")), ("actor", ("name", "email"))):
        value = body.get(name, {})
        if not isinstance(value, dict) or set(value) - set(allowed):
            raise NotificationError(f"field {name!r} must be an object with "
                                    f"{', '.join(repr(a) for a in allowed)}")
        for part in allowed:
            _text(value, part, f"{name}.{part}")
    references = body.get("references", [])
    if not (isinstance(references, list) and len(references) <= MAX_REFERENCES
            and all(isinstance(item, str) and len(item) <= MAX_TEXT_CHARS for item in references)):
        raise NotificationError(f"field 'references' must be a list of at most {MAX_REFERENCES} "
                                "Message-IDs (strings)")


def _text(data: dict, key: str, name: str) -> None:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise NotificationError(f"field {name!r} must be a string")
    if len(value) > MAX_TEXT_CHARS:
        raise NotificationError(f"field {name!r} is longer than {MAX_TEXT_CHARS} characters")


def _check_recipient(desk: Helpdesk, ticket: Ticket, recipient: dict) -> None:
    """A named address must be the ticket's client, a collaborator, or staff; role "staff"
    must name someone in the staff directory."""
    role = recipient["role"]
    if role not in ("staff", "address"):
        return  # resolved from the ticket and the directory when sent
    try:
        email = normalize_address(recipient["email"])
    except ValidationError:
        raise NotificationError(f"field 'recipient.email' is not an email address: "
                                f"{recipient['email']!r}") from None
    staff = {s.email.lower() for s in desk.directory.list_staff()}
    if role == "staff" and email not in staff:
        raise NotificationError(f"field 'recipient.email': {email} is not in the staff directory")
    participants = {ticket.client.email.lower(), *(c.lower() for c in ticket.collaborators)}
    if role == "address" and email not in participants | staff:
        raise NotificationError(f"field 'recipient.email': {email} is neither a participant of "
                                f"ticket #{ticket.number} (its client or a collaborator) nor "
                                "in the staff directory")
