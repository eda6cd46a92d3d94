"""Mail over Graph's 4 MB request limit: the bodies and headers as a MIME draft
(`POST /users/{id}/messages`), each attachment added to it (small ones as a fileAttachment,
3 MB and more through `attachments/createUploadSession` and PUT chunks), then
`POST /messages/{id}/send`. A draft left by a failure before the send is deleted; one left by
a process killed mid-upload (timeout, scale-in, OOM: no `except` ran) is found by its
Message-ID in the Drafts folder and deleted by the next attempt before it makes its own, so a
shared mailbox keeps no half-built mail a person could send (docs/outbound.md, "Large mail")."""
from __future__ import annotations

import base64
from email.parser import BytesHeaderParser
from typing import TYPE_CHECKING
from urllib.parse import quote

from .errors import GraphError

if TYPE_CHECKING:
    from .client import GraphMailClient

#: Graph: attachments from 3 MB to 150 MB go through an upload session; smaller ones inline.
UPLOAD_SESSION_MIN = 3 * 1024 * 1024
#: Upload chunks must be a multiple of 320 KiB; 12 × 320 KiB stays under the 4 MB request limit.
CHUNK = 12 * 320 * 1024


def send_large(client: "GraphMailClient", draft_mime: bytes, files: list[tuple[str, str, bytes]]) -> None:
    """Send `draft_mime` (the mail without its attachments) with `files` attached."""
    delete_leftover_drafts(client, _message_id(draft_mime))
    draft = client._request("POST", f"{client.mailbox_url}/messages", data=base64.b64encode(draft_mime),
                            content_type="text/plain", idempotent=False).json()
    url = f"{client.mailbox_url}/messages/{quote(str(draft['id']), safe='')}"
    try:
        for name, content_type, data in files:
            if len(data) < UPLOAD_SESSION_MIN:
                client._request("POST", f"{url}/attachments", idempotent=False, json={
                    "@odata.type": "#microsoft.graph.fileAttachment", "name": name,
                    "contentType": content_type, "contentBytes": base64.b64encode(data).decode()})
            else:
                session = client._request("POST", f"{url}/attachments/createUploadSession", json={
                    "AttachmentItem": {"attachmentType": "file", "name": name, "size": len(data),
                                       "contentType": content_type}}, idempotent=False).json()
                _upload(client, session["uploadUrl"], data)
    except BaseException:
        _delete_draft(client, url)
        raise
    client._request("POST", f"{url}/send", idempotent=False)


def _upload(client: "GraphMailClient", upload_url: str, data: bytes) -> None:
    """PUT the bytes in order. The upload URL is pre-authenticated: no Authorization header
    (Graph refuses one)."""
    for start in range(0, len(data), CHUNK):
        chunk = data[start:start + CHUNK]
        headers = {"Content-Range": f"bytes {start}-{start + len(chunk) - 1}/{len(data)}",
                   "Content-Type": "application/octet-stream"}
        response = client._session.request("PUT", upload_url, data=chunk, headers=headers,
                                            timeout=client.timeout)
        if response.status_code >= 400:
            raise client._http_error(response)


def _delete_draft(client: "GraphMailClient", url: str) -> None:
    try:
        client._request("DELETE", url)
    except GraphError:
        pass  # the next attempt finds it by its Message-ID and deletes it first


def _message_id(mime: bytes) -> str:
    """The Message-ID the draft carries, without brackets ("" when it has none)."""
    value = BytesHeaderParser().parsebytes(mime).get("Message-ID") or ""
    return str(value).strip().strip("<>").strip()


def delete_leftover_drafts(client: "GraphMailClient", message_id: str) -> int:
    """Delete the drafts an earlier attempt of this mail left in the mailbox's Drafts folder:
    only messages there with isDraft true and exactly this Message-ID (the outbound one is
    unique to the notification), never sent mail or another draft. Returns how many."""
    from .client import _odata_string, _query, _seg

    if not message_id:
        return 0
    wanted = f"<{message_id}>"
    query = _query({"$filter": f"internetMessageId eq {_odata_string(wanted)}",
                    "$select": "id,isDraft,internetMessageId", "$top": 50})
    payload = client._request("GET", f"{client.mailbox_url}/mailFolders/drafts/messages?{query}").json()
    deleted = 0
    for item in payload.get("value") or []:
        found = str(item.get("internetMessageId") or "").strip().strip("<>")
        if item.get("isDraft") is True and found == message_id and item.get("id"):
            try:
                client._request("DELETE", f"{client.mailbox_url}/messages/{_seg(str(item['id']))}")
            except GraphError as error:
                if error.status != 404:  # gone already (sent or deleted meanwhile) is fine
                    raise
                continue
            deleted += 1
    return deleted
