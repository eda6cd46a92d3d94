"""Files staff attach to a response: checked here (names, count, size) so the web page, the
API and the CLI refuse the same things with the same messages, before anything is stored."""
from __future__ import annotations

import hashlib
import mimetypes
import re
from dataclasses import dataclass

from .attachment_refs import stable_reference
from .model import Attachment, ValidationError
from .untrusted import clean_filename

#: Exchange Online's default (and largest) message size a mailbox may send; larger mail is
#: refused by Exchange, so it is refused here with a message instead of after a long upload.
MAILBOX_SEND_LIMIT = 150 * 1024 * 1024
#: The attachments of one response together: base64 in the MIME adds a third, plus the bodies.
MAX_RESPONSE_FILE_BYTES = 110 * 1024 * 1024
MAX_RESPONSE_FILES = 20

_CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
_MIME_TYPES = mimetypes.MimeTypes()  # the built-in table: same answer on every machine


@dataclass(frozen=True)
class StaffFile:
    name: str
    content_type: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def staff_file(name: str, data: bytes, content_type: str | None = None) -> StaffFile:
    """One file as staff uploaded it: the name cleaned, the type checked or guessed."""
    clean = clean_filename(name or "")[:255]
    if not clean:
        raise ValidationError(f"attachments: {name!r} is not a usable file name")
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if not _CONTENT_TYPE.match(kind):
        kind = _MIME_TYPES.guess_type(clean)[0] or "application/octet-stream"
    return StaffFile(clean, kind, bytes(data))


def check_files(files: list[StaffFile]) -> None:
    """Refuse what could never be sent, naming the field."""
    if len(files) > MAX_RESPONSE_FILES:
        raise ValidationError(f"attachments: at most {MAX_RESPONSE_FILES} files, got {len(files)}")
    for item in files:
        if not item.data:
            raise ValidationError(f"attachments: {item.name} is empty")
    total = sum(len(item.data) for item in files)
    if total > MAX_RESPONSE_FILE_BYTES:
        raise ValidationError(f"attachments: {total:,} bytes together, over the "
                              f"{MAX_RESPONSE_FILE_BYTES:,} bytes a response may carry")


def as_attachment(item: StaffFile) -> Attachment:
    sha = item.sha256
    return Attachment(name=item.name, content_type=item.content_type, size=len(item.data),
                      inline=False, sha256=sha, url=stable_reference(sha, item.name))


def notification_files(attachments: list[Attachment]) -> list[dict]:
    """What the sender needs to attach the stored files (the bytes stay in Blob)."""
    return [{"name": a.name, "content_type": a.content_type, "sha256": a.sha256, "size": a.size}
            for a in attachments]
