"""Drafts, attachments and upload sessions of the Graph fake (Graph's path for mail over the
4 MB request limit):

* ``POST /users/{u}/messages`` with a base64 MIME body (``text/plain``) -> 201 draft ``{"id",
  "isDraft", "internetMessageId"}``. Like Exchange, the draft is a message in the mailbox's
  Drafts folder (``isDraft`` true, read): it lists there and answers ``$filter`` (e.g.
  ``internetMessageId eq '<id>'``, which keeps the Message-ID the MIME carries; one is stamped
  when there is none) until it is sent or deleted
* ``POST /users/{u}/messages/{draft}/attachments`` (``#microsoft.graph.fileAttachment``,
  ``contentBytes``; Graph takes these only under 3 MB)
* ``POST /users/{u}/messages/{draft}/attachments/createUploadSession`` (``AttachmentItem``:
  ``attachmentType`` file, ``name``, ``size``) -> ``{"uploadUrl", "expirationDateTime",
  "nextExpectedRanges"}``; the upload URL is pre-authenticated: a PUT carrying an
  Authorization header is refused (401), as Graph documents
* ``PUT <uploadUrl>`` with ``Content-Range: bytes a-b/total``, in order -> 200 with
  ``nextExpectedRanges``, the last one 201
* ``POST /users/{u}/messages/{draft}/send`` -> 202: leaves Drafts; recorded in ``sent`` and
  Sent Items (``isDraft`` false) as the draft's MIME with the attachments added; a draft with
  an unfinished upload is refused
* ``DELETE /users/{u}/messages/{draft}`` -> 204 (gone from Drafts, its upload sessions too)
"""
from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .mime import parse_mime, with_attachments
from .server import Request, Response, json_response

UPLOAD_MIN = 3 * 1024 * 1024
UPLOAD_MAX = 150 * 1024 * 1024
_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")


@dataclass
class _Upload:
    draft_id: str
    name: str
    content_type: str
    size: int
    data: bytearray = field(default_factory=bytearray)


@dataclass
class _Draft:
    mailbox: str
    raw: bytes
    files: list[tuple[str, str, bytes]] = field(default_factory=list)
    uploads: int = 0  # sessions not finished


class Drafts:
    """State and handlers; the FakeGraph calls these with its lock held."""

    def __init__(self, graph) -> None:
        self.graph = graph
        self.drafts: dict[str, _Draft] = {}
        self.sessions: dict[str, _Upload] = {}
        self.chunks: list[int] = []  # sizes of the PUTs received, for the tests

    def create(self, mailbox: str, request: Request) -> Response:
        from .graph import GraphError, _Message

        try:
            raw = base64.b64decode(b"".join(request.body.split()), validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if request.header("content-type").split(";")[0].strip().lower() != "text/plain" or not raw:
            raise GraphError(400, "ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content.")
        draft_id = "AAMkDraft-" + secrets.token_urlsafe(12) + "_="
        self.drafts[draft_id] = _Draft(mailbox, raw)
        box = self.graph._box(mailbox)
        meta = parse_mime(raw)
        if not meta["internetMessageId"]:
            meta["internetMessageId"] = f"<{secrets.token_hex(12)}@fake.prod.outlook.com>"
        now = datetime.now(timezone.utc)
        self.graph._seq += 1
        box.messages[draft_id] = _Message(draft_id, raw, self.graph._folder(box, "drafts").id, True, now,
                                          self.graph._seq, meta, modified=now, is_draft=True)
        return json_response(201, {"id": draft_id, "isDraft": True,
                                   "internetMessageId": meta["internetMessageId"]})

    def _forget(self, mailbox: str, draft_id: str) -> None:
        """The draft and its upload sessions: a PUT to one of its upload URLs answers 404."""
        del self.drafts[draft_id]
        self.graph._box(mailbox).messages.pop(draft_id, None)
        for token in [t for t, s in self.sessions.items() if s.draft_id == draft_id]:
            del self.sessions[token]

    def route(self, mailbox: str, draft_id: str, rest: list[str], request: Request) -> Response:
        from .graph import GraphError

        draft = self.drafts[draft_id]
        low = [s.lower() for s in rest]
        if not low and request.method == "DELETE":
            self._forget(mailbox, draft_id)
            return Response(204)
        if low == ["attachments"] and request.method == "POST":
            body = request.json()
            data = base64.b64decode(body.get("contentBytes") or "")
            if len(data) >= UPLOAD_MIN:
                raise GraphError(413, "ErrorRequestEntityTooLarge", "Use an upload session for 3 MB and more.")
            draft.files.append((body["name"], body.get("contentType") or "application/octet-stream", data))
            return json_response(201, {"id": secrets.token_hex(8), "name": body["name"], "size": len(data)})
        if low == ["attachments", "createuploadsession"] and request.method == "POST":
            item = (request.json() or {}).get("AttachmentItem") or {}
            size = item.get("size")
            if item.get("attachmentType") != "file" or not item.get("name") or not isinstance(size, int):
                raise GraphError(400, "ErrorInvalidRequest", "AttachmentItem needs attachmentType file, name and size.")
            if not UPLOAD_MIN <= size <= UPLOAD_MAX:
                raise GraphError(400, "ErrorAttachmentSizeShouldNotBeLessThanMinimumSize",
                                 "Upload sessions take attachments from 3 MB to 150 MB.")
            token = secrets.token_urlsafe(16)
            self.sessions[token] = _Upload(draft_id, item["name"], item.get("contentType") or "application/octet-stream", size)
            draft.uploads += 1
            return json_response(201, {"uploadUrl": f"{self.graph.base_url}/upload/{token}",
                                       "expirationDateTime": "2099-01-01T00:00:00Z", "nextExpectedRanges": ["0-"]})
        if low == ["send"] and request.method == "POST":
            if draft.uploads:
                raise GraphError(400, "ErrorInvalidRequest", "An attachment upload is not finished.")
            self._forget(mailbox, draft_id)
            self.graph.deliver(mailbox, with_attachments(draft.raw, draft.files))
            return Response(202)
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{rest[0] if rest else draft_id}'.")

    def upload(self, request: Request) -> Response:
        """A PUT to an upload URL (no bearer token: the URL is the credential)."""
        session = self.sessions.get(request.segments[1] if len(request.segments) == 2 else "")
        if request.method != "PUT" or session is None:
            return self.graph.error_response(404, "ErrorItemNotFound", "No such upload session.")
        if request.header("authorization"):
            return self.graph.error_response(401, "InvalidAuthenticationToken",
                                             "The upload URL is pre-authenticated: send no Authorization header.")
        match = _RANGE.match(request.header("content-range"))
        if not match or int(match.group(3)) != session.size or int(match.group(1)) != len(session.data) \
                or int(match.group(2)) - int(match.group(1)) + 1 != len(request.body):
            return self.graph.error_response(416, "InvalidRange", "Content-Range does not follow the upload.")
        session.data += request.body
        self.chunks.append(len(request.body))
        if len(session.data) < session.size:
            return json_response(200, {"nextExpectedRanges": [f"{len(session.data)}-"]})
        del self.sessions[request.segments[1]]
        draft = self.drafts[session.draft_id]
        draft.files.append((session.name, session.content_type, bytes(session.data)))
        draft.uploads -= 1
        return json_response(201, {})
