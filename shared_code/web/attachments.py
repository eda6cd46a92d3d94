"""`GET /attachments/{sha256}/{name}`: stored images and attachments, to signed-in staff.

Blobs are content-addressed (the name in the attachments container is the SHA-256 of the
bytes), so the URL's sha decides what is served and `name` only names the download: a link
with another name gets the same bytes with the same stored type, never a type the name
suggests. The name is therefore not looked up (that needs a sha → ticket index for no gain:
every staff member may read every ticket). Served with the stored content type when it is on
the allow-list (domain/untrusted.py), `nosniff`, inline only for raster images (never SVG or
HTML), and cached privately forever with the sha as its ETag.
"""
from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse

from ..adapters.names import ATTACHMENTS
from ..domain.attachment_refs import SHA256
from ..domain.untrusted import INLINE_IMAGE_TYPES, OCTET_STREAM, STORED_TYPES, clean_filename
from .auth import Principal
from .deps import get_desk, staff

router = APIRouter(include_in_schema=False)
CACHE = "private, max-age=31536000, immutable"


def _disposition(content_type: str, name: str) -> str:
    if content_type in INLINE_IMAGE_TYPES:
        return "inline"
    filename = clean_filename(name).replace('"', "") or "attachment"
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


@router.get("/attachments/{sha256}/{name}")
def attachment(sha256: str, name: str, request: Request, _principal: Principal = Depends(staff),
               desk=Depends(get_desk)):
    sha = sha256.lower()
    if not SHA256.match(sha):
        raise LookupError("no such attachment")
    etag = f'"{sha}"'
    headers = {"ETag": etag, "Cache-Control": CACHE, "X-Content-Type-Options": "nosniff"}
    if etag in [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    opened = desk.blobs.open(ATTACHMENTS, sha)
    if opened is None:
        raise LookupError("no such attachment")
    stored = (opened.content_type or "").split(";", 1)[0].strip().lower()
    content_type = stored if stored in STORED_TYPES else OCTET_STREAM
    headers["Content-Disposition"] = _disposition(content_type, name)
    headers["Content-Length"] = str(opened.size)
    return StreamingResponse(opened.chunks, media_type=content_type, headers=headers)
