"""Fake Microsoft Graph mail API (v1.0 subset), base ``https://localhost:PORT/v1.0``.

Every request needs ``Authorization: Bearer <token>`` issued by :class:`FakeIdentity` for
``https://graph.microsoft.com/.default``. Mailboxes are addressed as ``/users/{address}``.

Supported (JSON shapes and ``{"error": {"code", "message"}}`` errors as Graph sends them):

* ``GET  /users/{u}/mailFolders`` (``$filter=displayName eq 'X'``, ``$top``, ``$skip``)
* ``GET  /users/{u}/mailFolders/{folder}`` and ``.../{folder}/childFolders``
* ``GET  /users/{u}/mailFolders/{folder}/messages`` and ``/users/{u}/messages`` with
  ``$filter`` (``receivedDateTime ge|gt|le|lt|eq|ne <ISO 8601 with Z or offset>``,
  ``isRead|isDraft eq|ne true|false``, ``hasAttachments eq true|false``,
  ``internetMessageId eq '..'``,
  joined with ``and``), ``$orderby=receivedDateTime [asc|desc]`` (default: desc),
  ``$top`` (1-1000, default 10), ``$select``, ``$skip`` (the absolute ``@odata.nextLink`` uses
  it). Graph's rule is enforced: with both $filter and $orderby, the $orderby properties must
  lead $filter in the same order, else 400 ``InefficientFilter``.
* ``GET|PATCH|DELETE /users/{u}/messages/{id}`` (PATCH: ``isRead``, ``categories``; DELETE
  answers 204 and the message is gone, where Graph moves it to Deleted Items)
* ``GET  /users/{u}/messages/{id}/$value``: the raw MIME bytes (or, for a message given to
  ``break_message``, that error on every request, while the message still lists and reads;
  for one given to ``delete_on_download``, the message is deleted and 404 answered)
* ``POST /users/{u}/sendMail``: MIME form (``text/plain``, base64 body) or JSON form -> 202,
  recorded in ``sent`` and, like Exchange, saved (read) in the mailbox's Sent Items: always
  for the MIME form, unless ``"saveToSentItems": false`` for the JSON form. The saved copy
  keeps the Message-ID the client wrote (Exchange stamps one only when there is none), so
  ``mailFolders/sentitems/messages?$filter=internetMessageId eq '<id>'`` finds it.

* Drafts, attachments and upload sessions for mail over the 4 MB request limit: see
  graph_drafts.py. Every other request body over 4 MB is refused with 413.

* ``POST /subscriptions`` (resource ``users/{u}/mailFolders('{folder}')/messages``,
  changeType ``created``, notificationUrl, expirationDateTime at most 10,080 minutes ahead,
  clientState): performs the validation handshake first (POST notificationUrl?validationToken=..,
  the token must come back as text/plain within 10 s, else 400 ``ValidationError``), then 201.
  ``PATCH /subscriptions/{id}`` (expirationDateTime) renews, ``DELETE`` removes, ``GET`` lists.
  A message added to a subscribed folder makes the fake POST a change notification
  ``{"value": [{subscriptionId, clientState, changeType, resource, resourceData, ...}]}`` to the
  notificationUrl from a background thread (``notify_lifecycle`` sends lifecycle events;
  ``push_delivered`` counts notification POSTs answered 2xx).
* ``GET  /applications(appId='{client id}')?$select=passwordCredentials``: the app
  registration's password credentials (``set_password_credentials``); needs the role
  Application.Read.All (or .ReadWrite.All), else 403 ``Authorization_RequestDenied``.

Permissions, like Graph's for app-only tokens: sendMail needs the token's ``roles`` to hold
Mail.Send; reading mail Mail.Read or Mail.ReadWrite; changing it Mail.ReadWrite. Otherwise
403 ``ErrorAccessDenied`` (the identity fake's tokens carry both by default).

Folders: well-known names (case-insensitive) or ids. ``receivedDateTime`` is shown with
second precision like Graph, and $filter compares at that precision; order is by the exact
time, then by insertion. ``Prefer`` headers are recorded in ``requests[i].headers``;
``Prefer: outlook.body-content-type="text"`` is honoured. Ids are stable and always contain
``-``, ``_`` and ``=``.
"""
from __future__ import annotations

import base64
import binascii
import re
import secrets
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, NamedTuple
from urllib.parse import quote, urlencode, urlsplit

from .graph_drafts import Drafts
from . import graph_subscriptions
from .identity import FakeIdentity
from .mime import mime_from_graph_json, parse_mime
from .server import FakeServer, Request, Response, json_response

GRAPH_AUDIENCE = "https://graph.microsoft.com"
MAX_REQUEST_BYTES = 4 * 1024 * 1024  # Graph refuses larger request bodies
ODATA_JSON = ("application/json;odata.metadata=minimal;odata.streaming=true;"
              "IEEE754Compatible=false;charset=utf-8")

#: Well-known folder names -> display names (all created in every mailbox).
WELL_KNOWN_FOLDERS = {
    "inbox": "Inbox", "archive": "Archive", "sentitems": "Sent Items",
    "deleteditems": "Deleted Items", "junkemail": "Junk Email", "drafts": "Drafts",
}
ROOT = "msgfolderroot"

MESSAGE_PROPERTIES = (
    "id", "createdDateTime", "lastModifiedDateTime", "changeKey", "categories",
    "receivedDateTime", "sentDateTime", "hasAttachments", "internetMessageId", "subject",
    "bodyPreview", "importance", "parentFolderId", "conversationId",
    "isDeliveryReceiptRequested", "isReadReceiptRequested", "isRead", "isDraft",
    "inferenceClassification", "body", "sender", "from", "toRecipients", "ccRecipients",
    "bccRecipients", "replyTo", "flag",
)
SELECT_ONLY_PROPERTIES = ("internetMessageHeaders",)
_SUPPORTED_OPTIONS = {"$filter", "$orderby", "$top", "$skip", "$select"}


class SentMessage(NamedTuple):
    mailbox: str
    raw: bytes


class GraphError(Exception):
    """Raised inside handlers; becomes a Graph error response."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _new_id(prefix: str) -> str:
    r = base64.urlsafe_b64encode(secrets.token_bytes(33)).decode()
    return f"{prefix}{r[:18]}-{r[18:32]}_{r[32:]}AAA="


def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seconds(dt: datetime) -> datetime:
    return dt.astimezone(timezone.utc).replace(microsecond=0)


_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})$")


def _parse_datetime(text: str) -> datetime:
    """An OData DateTimeOffset literal (offset or Z required, like Graph)."""
    if not _DATETIME.match(text):
        raise GraphError(400, "BadRequest",
                         f"The DateTimeOffset text '{text}' should be in format "
                         "'yyyy-mm-ddThh:mm:ss('.'s+)?(zzzzzz)?' and each field value is within "
                         "valid range.")
    text = re.sub(r"\.(\d+)", lambda m: "." + m.group(1)[:6].ljust(6, "0"), text)
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class _Folder:
    id: str
    display_name: str
    parent_id: str | None
    well_known: str | None = None


@dataclass
class _Message:
    id: str
    raw: bytes
    folder_id: str
    is_read: bool
    received: datetime
    seq: int
    meta: dict
    modified: datetime
    change: int = 1
    categories: list = field(default_factory=list)
    is_draft: bool = False


@dataclass
class _Mailbox:
    address: str
    enabled: bool
    folders: dict[str, _Folder] = field(default_factory=dict)
    messages: dict[str, _Message] = field(default_factory=dict)

    def folder(self, ref: str) -> _Folder | None:
        name = ref.lower()
        for folder in self.folders.values():
            if folder.id == ref or folder.well_known == name:
                return folder
        return None


@contextmanager
def _as_key_error():
    """Test helpers raise KeyError (not Graph errors) for unknown mailboxes, folders, ids."""
    try:
        yield
    except GraphError as e:
        raise KeyError(e.message) from None


class FakeGraph(FakeServer):
    """The Graph mail fake. Tokens are checked with `identity.validate`."""

    service_name = "graph"

    def __init__(self, ssl_context, identity: FakeIdentity, **kwargs) -> None:
        super().__init__(ssl_context, **kwargs)
        self.identity = identity
        self.graph_url = f"{self.base_url}/v1.0"
        self.reset()

    # -- test helpers ----------------------------------------------------------------------
    def reset(self) -> None:
        """Forget mailboxes, messages, sent mail, faults, latency and logs."""
        super().reset()
        with self._lock:
            self._mailboxes: dict[str, _Mailbox] = {}
            self.sent: list[SentMessage] = []
            self._seq = 0
            self._last_default_received: datetime | None = None
            self._broken: dict[str, tuple[int, str]] = {}
            self._delete_on_download: set[str] = set()
            self._applications: dict[str, list[dict]] = {}
            self.drafts = Drafts(self)
            self.subscriptions: dict[str, dict] = {}
            self.push_delivered = 0
            self.push_failures: list[str] = []

    def set_password_credentials(self, client_id: str, credentials: list[dict]) -> None:
        """The app registration `client_id`'s passwordCredentials (keyId, displayName,
        endDateTime as Graph writes them)."""
        with self._lock:
            self._applications[client_id.lower()] = [dict(c) for c in credentials]

    def add_mailbox(self, address: str, enabled: bool = True) -> str:
        """Create a mailbox with the well-known folders (idempotent); `enabled=False`
        answers like a user without an Exchange Online mailbox."""
        with self._lock:
            box = self._mailboxes.get(address.lower())
            if box is None:
                box = _Mailbox(address, enabled)
                root = _Folder(_new_id("AQMk"), "Top of Information Store", None, ROOT)
                box.folders[root.id] = root
                for name, display in WELL_KNOWN_FOLDERS.items():
                    folder = _Folder(_new_id("AQMk"), display, root.id, name)
                    box.folders[folder.id] = folder
                self._mailboxes[address.lower()] = box
            box.enabled = enabled
            return box.address

    def add_folder(self, mailbox: str, display_name: str, parent: str = "inbox") -> str:
        """Create a folder under `parent` (well-known name or id, "msgfolderroot" for top
        level); returns its id."""
        with self._lock, _as_key_error():
            box = self._box(mailbox)
            parent_folder = self._folder(box, parent)
            name = display_name.lower()
            if any(f.parent_id == parent_folder.id and f.display_name.lower() == name
                   for f in box.folders.values()):
                raise ValueError(f"folder {display_name!r} exists under {parent!r}")
            folder = _Folder(_new_id("AQMk"), display_name, parent_folder.id)
            box.folders[folder.id] = folder
            return folder.id

    def folder_id(self, mailbox: str, folder: str) -> str:
        """Id of a folder given a well-known name or id."""
        with self._lock, _as_key_error():
            return self._folder(self._box(mailbox), folder).id

    def add_message(self, mailbox: str, raw: bytes | str, folder: str = "inbox",
                    is_read: bool = False, received: datetime | None = None,
                    is_draft: bool = False) -> str:
        """Deliver raw MIME into a folder; returns the message id. `received` defaults to now,
        strictly increasing by at least 1 ms per default; naive datetimes are UTC. `is_draft`:
        a draft a person saved in Outlook (isDraft true; the app's own drafts are made through
        POST /messages, graph_drafts.py)."""
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        with self._lock, _as_key_error():
            box = self._box(mailbox)
            target = self._folder(box, folder)
            if received is None:
                received = datetime.now(timezone.utc)
                last = self._last_default_received
                if last is not None and received < last + timedelta(milliseconds=1):
                    received = last + timedelta(milliseconds=1)
                self._last_default_received = received
            elif received.tzinfo is None:
                received = received.replace(tzinfo=timezone.utc)
            meta = parse_mime(raw)
            if not meta["internetMessageId"]:  # Exchange stamps one on delivery
                meta["internetMessageId"] = f"<{secrets.token_hex(12)}@fake.prod.outlook.com>"
            self._seq += 1
            message = _Message(_new_id("AAMk"), raw, target.id, is_read,
                               received.astimezone(timezone.utc), self._seq, meta,
                               modified=received.astimezone(timezone.utc),  # delivery is its last change
                               is_draft=is_draft)
            box.messages[message.id] = message
            subscribed = graph_subscriptions.matching(self, box, target)
        graph_subscriptions.notify_created(self, subscribed, box, message.id)
        return message.id

    def notify_lifecycle(self, subscription_id: str, event: str) -> None:
        """POST a lifecycle notification (reauthorizationRequired, subscriptionRemoved,
        missed) for a subscription, synchronously."""
        graph_subscriptions.notify_lifecycle(self, subscription_id, event)

    def wait_for_push(self, count: int, timeout: float = 30) -> bool:
        """Until `count` notifications in all were answered; a failure bound, not a pause."""
        return graph_subscriptions.wait_for_push(self, count, timeout)

    def get_message(self, mailbox: str, message_id: str) -> dict:
        """The message's Graph JSON (all default properties)."""
        with self._lock, _as_key_error():
            box = self._box(mailbox)
            return self._message_json(self._message(box, message_id))

    def raw(self, mailbox: str, message_id: str) -> bytes:
        with self._lock, _as_key_error():
            return self._message(self._box(mailbox), message_id).raw

    def messages(self, mailbox: str, folder: str | None = None) -> list[dict]:
        """Graph JSON of the mailbox's messages (optionally one folder), oldest first."""
        with self._lock, _as_key_error():
            box = self._box(mailbox)
            folder_id = self._folder(box, folder).id if folder else None
            items = sorted((m for m in box.messages.values()
                            if folder_id is None or m.folder_id == folder_id),
                           key=lambda m: (m.received, m.seq))
            return [self._message_json(m) for m in items]

    def set_read(self, mailbox: str, message_id: str, is_read: bool = True) -> None:
        """Flip isRead as a person opening the mail in Outlook would."""
        with self._lock, _as_key_error():
            self._touch(self._message(self._box(mailbox), message_id)).is_read = bool(is_read)

    def move_message(self, mailbox: str, message_id: str, folder: str) -> None:
        """Move a message as a person would in Outlook (its immutable id stays)."""
        with self._lock, _as_key_error():
            box = self._box(mailbox)
            self._touch(self._message(box, message_id)).folder_id = self._folder(box, folder).id

    def delete_message(self, mailbox: str, message_id: str) -> None:
        """Delete a message for good (emptied from Deleted Items): its id answers 404."""
        with self._lock, _as_key_error():
            box = self._box(mailbox)
            self._message(box, message_id)
            del box.messages[message_id]

    def break_message(self, mailbox: str, message_id: str, status: int = 500,
                      code: str | None = None) -> None:
        """Make every `$value` download of this message answer `status` (with Graph error
        `code`) until `repair_message`; listing it and reading its properties still work."""
        with self._lock, _as_key_error():
            self._message(self._box(mailbox), message_id)
            self._broken[message_id] = (status, code or self.default_error_code(status))

    def delete_on_download(self, mailbox: str, message_id: str) -> None:
        """Delete the message when its `$value` is first requested (404 ErrorItemNotFound):
        someone emptied it from the mailbox between the listing and the download."""
        with self._lock, _as_key_error():
            self._message(self._box(mailbox), message_id)
            self._delete_on_download.add(message_id)

    def repair_message(self, mailbox: str, message_id: str) -> None:
        with self._lock:
            self._broken.pop(message_id, None)

    def max_concurrency_seen(self, mailbox: str) -> int:
        """Highest number of simultaneous requests seen for a mailbox."""
        return self.max_concurrency(mailbox.lower())

    # -- lookups (raise GraphError; helpers see KeyError-like messages) ----------------------
    def _box(self, address: str) -> _Mailbox:
        box = self._mailboxes.get(address.lower())
        if box is None:
            raise GraphError(404, "ErrorInvalidUser", f"The requested user '{address}' is invalid. "
                             "(Fake: call add_mailbox() first.)")
        return box

    def _folder(self, box: _Mailbox, ref: str) -> _Folder:
        folder = box.folder(ref)
        if folder is None:
            raise GraphError(404, "ErrorItemNotFound",
                             "The specified object was not found in the store.")
        return folder

    def _message(self, box: _Mailbox, message_id: str) -> _Message:
        message = box.messages.get(message_id)
        if message is None:
            raise GraphError(404, "ErrorItemNotFound",
                             "The specified object was not found in the store.")
        return message

    @staticmethod
    def _touch(message: _Message) -> _Message:
        message.change += 1
        message.modified = datetime.now(timezone.utc)
        return message

    # -- JSON ------------------------------------------------------------------------------
    def _message_json(self, m: _Message, text_body: bool = False) -> dict:
        meta = m.meta
        body = meta["body"]
        if text_body and body["contentType"] == "html":
            body = {"contentType": "text", "content": meta["text"]}
        change_key = base64.b64encode(f"CQAAABYAAAA{m.change:08d}".encode()).decode()
        return {
            "@odata.etag": f'W/"{change_key}"',
            "id": m.id,
            "createdDateTime": _iso(m.received),
            "lastModifiedDateTime": _iso(m.modified),
            "changeKey": change_key,
            "categories": list(m.categories),
            "receivedDateTime": _iso(m.received),
            "sentDateTime": _iso(meta["sentDateTime"] or m.received),
            "hasAttachments": meta["hasAttachments"],
            "internetMessageId": meta["internetMessageId"],
            "subject": meta["subject"],
            "bodyPreview": meta["bodyPreview"],
            "importance": "normal",
            "parentFolderId": m.folder_id,
            "conversationId": meta["conversationId"],
            "isDeliveryReceiptRequested": False,
            "isReadReceiptRequested": False,
            "isRead": m.is_read,
            "isDraft": m.is_draft,
            "inferenceClassification": "focused",
            "body": dict(body),
            "sender": meta["sender"],
            "from": meta["from"],
            "toRecipients": meta["toRecipients"],
            "ccRecipients": meta["ccRecipients"],
            "bccRecipients": meta["bccRecipients"],
            "replyTo": meta["replyTo"],
            "flag": {"flagStatus": "notFlagged"},
        }

    @staticmethod
    def _folder_json(box: _Mailbox, f: _Folder) -> dict:
        inside = [m for m in box.messages.values() if m.folder_id == f.id]
        return {
            "id": f.id,
            "displayName": f.display_name,
            "parentFolderId": f.parent_id,
            "childFolderCount": sum(1 for c in box.folders.values() if c.parent_id == f.id),
            "unreadItemCount": sum(1 for m in inside if not m.is_read),
            "totalItemCount": len(inside),
            "sizeInBytes": sum(len(m.raw) for m in inside),
            "isHidden": False,
        }

    # -- protocol --------------------------------------------------------------------------
    def concurrency_key(self, request: Request) -> str | None:
        seg = request.segments
        if len(seg) >= 3 and seg[0] == "v1.0" and seg[1].lower() == "users":
            return seg[2].lower()
        return None

    def throttle_response(self, request: Request) -> Response:
        return self.error_response(429, "ApplicationThrottled",
                                   "Application is over its MailboxConcurrency limit.",
                                   {"Retry-After": "1"})

    def error_response(self, status: int, code: str, message: str,
                       headers: dict[str, str] | None = None) -> Response:
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        return json_response(status, {"error": {
            "code": code, "message": message,
            "innerError": {"date": now, "request-id": secrets.token_hex(16)}}},
            headers, content_type=ODATA_JSON)

    def handle(self, request: Request) -> Response:
        if request.segments[:1] == ["upload"]:  # a pre-authenticated upload session URL
            with self._lock:
                return self.drafts.upload(request)
        if len(request.body) > MAX_REQUEST_BYTES:
            return self.error_response(413, "RequestBodyTooLarge",
                                       f"The request body is {len(request.body)} bytes; the limit is 4 MB.")
        auth = request.header("authorization")
        if not auth.lower().startswith("bearer ") or not auth[7:].strip():
            return self._unauthorized("Access token is empty.")
        token = auth[7:].strip()
        if self.identity.validate(token, GRAPH_AUDIENCE) is None:
            record = self.identity.inspect(token)
            if record is None:
                return self._unauthorized("IDX14100: JWT is not well formed or not issued here.")
            if not record.audience.lower().startswith(GRAPH_AUDIENCE):
                return self._unauthorized("Access token validation failure. Invalid audience.")
            return self._unauthorized("Lifetime validation failed, the token is expired.")
        denied = self._missing_permission(request, self.identity.inspect(token).roles)
        if denied and denied.startswith("Application."):
            return self.error_response(403, "Authorization_RequestDenied",
                                       "Insufficient privileges to complete the operation.")
        if denied:
            return self.error_response(403, "ErrorAccessDenied",
                                       f"Access is denied. Check credentials and try again. "
                                       f"(the app lacks {denied})")
        try:
            with self._lock:
                return self._route(request)
        except GraphError as e:
            return self.error_response(e.status, e.code, e.message)

    @staticmethod
    def _missing_permission(request: Request, roles) -> str:
        """The application permission the request needs and the token lacks ("" if none)."""
        granted = set(roles)
        if request.segments[1:2] and request.segments[1].lower().startswith("applications("):
            return "" if granted & {"Application.Read.All", "Application.ReadWrite.All"} \
                else "Application.Read.All"
        if request.segments[-1:] and request.segments[-1].lower() in ("sendmail", "send"):
            return "" if "Mail.Send" in granted else "Mail.Send"
        if request.method == "GET":
            return "" if granted & {"Mail.Read", "Mail.ReadWrite"} else "Mail.Read"
        return "" if "Mail.ReadWrite" in granted else "Mail.ReadWrite"

    def _unauthorized(self, message: str) -> Response:
        response = self.error_response(401, "InvalidAuthenticationToken", message)
        response.headers["WWW-Authenticate"] = (
            f'Bearer realm="", authorization_uri="{self.identity.base_url}/common/oauth2/'
            'authorize", client_id="00000003-0000-0000-c000-000000000000"')
        return response

    def _route(self, request: Request) -> Response:
        seg = request.segments
        if not seg or seg[0] != "v1.0":
            raise GraphError(400, "BadRequest", "Invalid version.")
        if len(seg) >= 2 and seg[1].lower() == "subscriptions":
            return graph_subscriptions.route(self, request, seg[2:])
        if len(seg) == 2 and seg[1].lower().startswith("applications("):
            self._require(request.method, "GET")
            return self._application(seg[1])
        if len(seg) < 3 or seg[1].lower() != "users":
            segment = seg[1] if len(seg) > 1 else ""
            raise GraphError(400, "BadRequest", f"Resource not found for the segment '{segment}'.")
        box = self._box(seg[2])
        if not box.enabled:
            raise GraphError(404, "MailboxNotEnabledForRESTAPI",
                             "The mailbox is either inactive, soft-deleted, or is hosted "
                             "on-premise.")
        rest = seg[3:]
        low = [s.lower() for s in rest]
        method = request.method
        if low == ["sendmail"]:
            self._require(method, "POST")
            return self._send_mail(box, request)
        if low[:1] == ["mailfolders"]:
            if len(rest) == 1:
                self._require(method, "GET")
                root = self._folder(box, ROOT)
                return self._list_folders(box, root, request)
            folder = self._folder(box, rest[1])
            if len(rest) == 2:
                self._require(method, "GET")
                return json_response(200, self._folder_json(box, folder), content_type=ODATA_JSON)
            if low[2:] == ["childfolders"]:
                self._require(method, "GET")
                return self._list_folders(box, folder, request)
            if low[2:3] == ["messages"]:
                return self._messages_route(box, folder, rest[3:], request)
        if low == ["messages"] and method == "POST":
            return self.drafts.create(box.address, request)
        if low[:1] == ["messages"] and len(rest) > 1 and rest[1] in self.drafts.drafts \
                and (len(rest) > 2 or method == "DELETE"):  # a GET of it reads the message
            return self.drafts.route(box.address, rest[1], rest[2:], request)
        if low[:1] == ["messages"]:
            return self._messages_route(box, None, rest[1:], request)
        raise GraphError(400, "BadRequest",
                         f"Resource not found for the segment '{rest[0] if rest else seg[2]}'.")

    def _application(self, segment: str) -> Response:
        match = re.fullmatch(r"applications\(appId='([^']+)'\)", segment, re.I)
        credentials = self._applications.get(match.group(1).lower()) if match else None
        if credentials is None:
            raise GraphError(404, "Request_ResourceNotFound",
                             f"Resource '{segment}' does not exist or one of its queried reference-"
                             "property objects are not present.")
        return json_response(200, {"@odata.context": f"{self.graph_url}/$metadata#applications"
                                   "(passwordCredentials)/$entity",
                                   "passwordCredentials": credentials}, content_type=ODATA_JSON)

    @staticmethod
    def _require(method: str, *allowed: str) -> None:
        if method not in allowed:
            raise GraphError(405, "UnknownError", f"The HTTP method '{method}' is not allowed.")

    def _messages_route(self, box: _Mailbox, folder: _Folder | None, rest: list[str],
                        request: Request) -> Response:
        if not rest:
            self._require(request.method, "GET")
            return self._list_messages(box, folder, request)
        message = self._message(box, rest[0])
        if folder is not None and message.folder_id != folder.id:
            raise GraphError(404, "ErrorItemNotFound",
                             "The specified object was not found in the store.")
        if len(rest) == 1:
            self._require(request.method, "GET", "PATCH", "DELETE")
            if request.method == "DELETE":  # Graph moves it to Deleted Items; gone here
                del box.messages[message.id]
                return Response(204)
            if request.method == "PATCH":
                self._patch(message, request)
            return self._single(message, request)
        if len(rest) == 2 and rest[1] == "$value":
            self._require(request.method, "GET")
            if message.id in self._delete_on_download:
                self._delete_on_download.discard(message.id)
                del box.messages[message.id]
                raise GraphError(404, "ErrorItemNotFound",
                                 "The specified object was not found in the store.")
            if message.id in self._broken:
                status, code = self._broken[message.id]
                raise GraphError(status, code, f"Injected fault: HTTP {status} on this message.")
            return Response(200, message.raw, {"Content-Type": "text/plain"})
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{rest[1]}'.")

    def _single(self, message: _Message, request: Request) -> Response:
        select = self._select(request.query)
        item = self._project(message, select, request)
        return json_response(200, item, content_type=ODATA_JSON)

    def _patch(self, message: _Message, request: Request) -> None:
        try:
            body = request.json()
        except ValueError:
            raise GraphError(400, "BadRequest", "Unable to read JSON request payload.") from None
        if not isinstance(body, dict):
            raise GraphError(400, "BadRequest", "Unable to read JSON request payload.")
        for key in body:
            if key not in ("isRead", "categories"):
                raise GraphError(400, "BadRequest", f"The property '{key}' does not exist on type "
                                 "'microsoft.graph.message' or is read-only in this fake.")
        if "isRead" in body:
            if not isinstance(body["isRead"], bool):
                raise GraphError(400, "BadRequest", "Cannot convert the literal to 'Edm.Boolean'.")
            message.is_read = body["isRead"]
        if "categories" in body:
            message.categories = list(body["categories"] or [])
        self._touch(message)

    def _send_mail(self, box: _Mailbox, request: Request) -> Response:
        content_type = request.header("content-type").split(";")[0].strip().lower()
        if content_type == "text/plain":
            text = b"".join(request.body.split())
            try:
                raw = base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                raw = b""
            if not raw:
                raise GraphError(400, "ErrorMimeContentInvalidBase64String",
                                 "Invalid base64 string for MIME content.")
        elif content_type == "application/json":
            try:
                body = request.json()
                message = body["message"]
                if not isinstance(message, dict):
                    raise TypeError
            except (ValueError, KeyError, TypeError):
                raise GraphError(400, "ErrorInvalidParameter",
                                 "The request must contain a 'message' object.") from None
            raw = mime_from_graph_json(message, box.address)
        else:
            raise GraphError(415, "UnsupportedMediaType",
                             f"Content-Type '{content_type}' is not supported.")
        meta = parse_mime(raw)
        if not (meta["toRecipients"] or meta["ccRecipients"] or meta["bccRecipients"]):
            raise GraphError(400, "ErrorInvalidRecipients",
                             "At least one recipient isn't valid., A message can't be sent "
                             "because it contains no recipients.")
        self.sent.append(SentMessage(box.address, raw))
        save = True
        if content_type == "application/json":
            save = body.get("saveToSentItems", True)
            if not isinstance(save, bool):
                raise GraphError(400, "BadRequest", "Cannot convert the literal to 'Edm.Boolean'.")
        if save:
            self._file_in_sent_items(box, raw)
        return Response(202)

    def deliver(self, mailbox: str, raw: bytes) -> None:
        """A sent draft: recorded in `sent` and saved in Sent Items like a MIME sendMail."""
        self.sent.append(SentMessage(mailbox, raw))
        self._file_in_sent_items(self._box(mailbox), raw)

    def _file_in_sent_items(self, box: _Mailbox, raw: bytes) -> None:
        """Save a copy in Sent Items (called with the lock held, from the request handler)."""
        now = datetime.now(timezone.utc)
        meta = parse_mime(raw)
        if not meta["internetMessageId"]:  # Exchange stamps one when the client wrote none
            meta["internetMessageId"] = f"<{secrets.token_hex(12)}@fake.prod.outlook.com>"
        self._seq += 1
        folder = self._folder(box, "sentitems")
        message = _Message(_new_id("AAMk"), raw, folder.id, True, now, self._seq, meta,
                           modified=now)
        box.messages[message.id] = message

    # -- query options ---------------------------------------------------------------------
    @staticmethod
    def _check_options(query: dict[str, str]) -> None:
        for key in query:
            if key.startswith("$") and key not in _SUPPORTED_OPTIONS:
                raise GraphError(400, "BadRequest",
                                 f"Query option '{key}' is not supported by the fake Graph.")

    @staticmethod
    def _int_option(query: dict[str, str], name: str, default: int, low: int, high: int) -> int:
        raw = query.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise GraphError(400, "BadRequest", f"Invalid value '{raw}' for {name}.") from None
        if not low <= value <= high:
            raise GraphError(400, "ErrorInvalidParameter" if name == "$top" else "BadRequest",
                             f"The value of {name} must be between {low} and {high}.")
        return value

    @staticmethod
    def _select(query: dict[str, str]) -> list[str] | None:
        raw = query.get("$select")
        if raw is None:
            return None
        names = [n.strip() for n in raw.split(",") if n.strip()]
        known = {p.lower(): p for p in MESSAGE_PROPERTIES + SELECT_ONLY_PROPERTIES}
        out = []
        for name in names:
            if name.lower() not in known:
                raise GraphError(400, "RequestBroker--ParseUri",
                                 f"Could not find a property named '{name}' on type "
                                 "'microsoft.graph.message'.")
            out.append(known[name.lower()])
        return out

    def _project(self, message: _Message, select: list[str] | None, request: Request) -> dict:
        text_body = 'outlook.body-content-type="text"' in request.header("prefer").lower()
        full = self._message_json(message, text_body)
        if select is None:
            return full
        item = {"@odata.etag": full["@odata.etag"], "id": full["id"]}
        for name in select:
            if name == "internetMessageHeaders":
                item[name] = message.meta["internetMessageHeaders"]
            else:
                item[name] = full[name]
        return item

    @staticmethod
    def _parse_filter(text: str) -> tuple[list[Callable[[_Message], bool]], list[str]]:
        predicates: list[Callable[[_Message], bool]] = []
        properties: list[str] = []
        ops = {"eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "ge": lambda a, b: a >= b,
               "gt": lambda a, b: a > b, "le": lambda a, b: a <= b, "lt": lambda a, b: a < b}
        for clause in re.split(r"\s+and\s+", text.strip()):
            match = re.match(r"^\s*(\w+)\s+(eq|ne|ge|gt|le|lt)\s+(.+?)\s*$", clause)
            if not match:
                raise GraphError(400, "BadRequest", f"Invalid filter clause: {clause!r}.")
            prop, op, value = match.group(1), match.group(2), match.group(3)
            compare = ops[op]
            key = prop.lower()
            if key in ("receiveddatetime", "lastmodifieddatetime"):
                when = _parse_datetime(value)
                attr = "received" if key == "receiveddatetime" else "modified"
                predicates.append(lambda m, c=compare, w=when, a=attr: c(_seconds(getattr(m, a)), w))
            elif key in ("isread", "hasattachments", "isdraft"):
                if value not in ("true", "false") or op not in ("eq", "ne"):
                    raise GraphError(400, "BadRequest", f"Invalid filter clause: {clause!r}.")
                flag = value == "true"
                if key == "isread":
                    predicates.append(lambda m, c=compare, f=flag: c(m.is_read, f))
                elif key == "isdraft":
                    predicates.append(lambda m, c=compare, f=flag: c(m.is_draft, f))
                else:
                    predicates.append(lambda m, c=compare, f=flag: c(m.meta["hasAttachments"], f))
            elif key == "internetmessageid":
                literal = re.match(r"^'((?:[^']|'')*)'$", value)
                if not literal or op not in ("eq", "ne"):
                    raise GraphError(400, "BadRequest", f"Invalid filter clause: {clause!r}.")
                wanted = literal.group(1).replace("''", "'")
                predicates.append(lambda m, c=compare, w=wanted: c(m.meta["internetMessageId"], w))
            elif key in {p.lower() for p in MESSAGE_PROPERTIES}:
                raise GraphError(400, "BadRequest",
                                 f"Filtering on '{prop}' is not supported by the fake Graph.")
            else:
                raise GraphError(400, "BadRequest", f"Could not find a property named '{prop}' on "
                                 "type 'microsoft.graph.message'.")
            if key not in properties:
                properties.append(key)
        return predicates, properties

    @staticmethod
    def _parse_orderby(text: str) -> tuple[list[str], bool]:
        properties, descending = [], True
        for item in [i.strip() for i in text.split(",") if i.strip()]:
            parts = item.split()
            if len(parts) > 2 or (len(parts) == 2 and parts[1] not in ("asc", "desc")):
                raise GraphError(400, "BadRequest", f"Invalid $orderby: {text!r}.")
            if parts[0].lower() not in ("receiveddatetime", "lastmodifieddatetime"):
                raise GraphError(400, "BadRequest",
                                 f"$orderby on '{parts[0]}' is not supported by the fake Graph.")
            properties.append(parts[0].lower())
            descending = len(parts) == 2 and parts[1] == "desc"
        return properties, descending

    def _list_messages(self, box: _Mailbox, folder: _Folder | None, request: Request) -> Response:
        query = request.query
        self._check_options(query)
        top = self._int_option(query, "$top", 10, 1, 1000)
        skip = self._int_option(query, "$skip", 0, 0, 10**9)
        select = self._select(query)
        predicates, filter_props = self._parse_filter(query["$filter"]) if "$filter" in query \
            else ([], [])
        descending = True
        if "$orderby" in query:
            order_props, descending = self._parse_orderby(query["$orderby"])
            if filter_props and filter_props[: len(order_props)] != order_props:
                raise GraphError(400, "InefficientFilter",
                                 "The restriction or sort order is too complex for this operation.")
        items = [m for m in box.messages.values()
                 if (folder is None or m.folder_id == folder.id) and all(p(m) for p in predicates)]
        by_modified = "$orderby" in query and order_props[0] == "lastmodifieddatetime"
        items.sort(key=lambda m: (m.modified if by_modified else m.received, m.seq),
                   reverse=descending)
        where = f"('{folder.well_known or folder.id}')" if folder else ""
        context = (f"{self.graph_url}/$metadata#users('{quote(box.address)}')"
                   f"{'/mailFolders' + where if folder else ''}/messages")
        return self._page(request, context, items, top, skip,
                          lambda m: self._project(m, select, request))

    def _list_folders(self, box: _Mailbox, parent: _Folder, request: Request) -> Response:
        query = request.query
        for key in query:
            if key.startswith("$") and key not in ("$filter", "$top", "$skip"):
                raise GraphError(400, "BadRequest",
                                 f"Query option '{key}' is not supported by the fake Graph.")
        top = self._int_option(query, "$top", 10, 1, 1000)
        skip = self._int_option(query, "$skip", 0, 0, 10**9)
        wanted = None
        if "$filter" in query:
            match = re.match(r"^\s*displayName\s+eq\s+'((?:[^']|'')*)'\s*$", query["$filter"])
            if not match:
                raise GraphError(400, "BadRequest", "The fake Graph supports only "
                                 "$filter=displayName eq '...' on mail folders.")
            wanted = match.group(1).replace("''", "'").lower()
        items = [f for f in box.folders.values() if f.parent_id == parent.id
                 and (wanted is None or f.display_name.lower() == wanted)]
        context = f"{self.graph_url}/$metadata#users('{quote(box.address)}')/mailFolders"
        return self._page(request, context, items, top, skip,
                          lambda f: self._folder_json(box, f))

    def _page(self, request: Request, context: str, items: list, top: int, skip: int,
              render: Callable) -> Response:
        payload = {"@odata.context": context, "value": [render(i) for i in items[skip: skip + top]]}
        if skip + top < len(items):
            params = {k: v for k, v in request.query.items() if k != "$skip"}
            params["$skip"] = str(skip + top)
            path = urlsplit(request.raw_path).path
            payload["@odata.nextLink"] = (f"{self.base_url}{path}?"
                                          f"{urlencode(params, quote_via=quote)}")
        return json_response(200, payload, content_type=ODATA_JSON)
