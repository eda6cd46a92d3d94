"""Helpdesk records: email accounts, tickets, thread entries, attachments.

These are plain dataclasses; the table adapters turn them into entities.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from .limits import MAX_NAME_CHARS


class Purpose(str, Enum):
    SYSTEM = "system"
    DEPARTMENT = "department"
    ALERT = "alert"
    AUTO_RESPONSE = "auto-response"


class Priority(str, Enum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    EMERGENCY = "emergency"


class CollaboratorDelivery(str, Enum):
    """How a response reaches a ticket's collaborators: on Cc of the client's mail, or one
    mail each (so no collaborator sees the others' addresses)."""
    CC = "cc"
    SEPARATE = "separate"


class Status(str, Enum):
    OPEN = "open"
    CLOSED = "closed"


class ValidationError(ValueError):
    """Input that the helpdesk refuses; the message says what and why, and `field` (when
    known) which input it is about, so a form puts the message next to that field and the
    API answers `{"error": ..., "field": ...}`."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class AlreadyExists(ValidationError):
    """A record with this key exists already (the API answers 409 Conflict)."""


_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")


#: a tenant id (GUID or domain) or client id; Key Vault secret names: letters, digits, dashes
_DIRECTORY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,99}$")
_VAULT_NAME = re.compile(r"^[A-Za-z0-9-]{1,127}$")


def normalize_address(address: str, field: str | None = None) -> str:
    """Lower-case and validate an email address; raise ValidationError when it is not one."""
    value = (address or "").strip().lower()
    if not _ADDRESS.match(value) or len(value) > 254:
        raise ValidationError(f"invalid email address: {address!r}", field)
    return value


def check_name(value: str, what: str, field: str | None = None) -> str:
    """An admin-entered name: refused (not clipped) when it could not fit a notification."""
    if len(value) > MAX_NAME_CHARS:
        raise ValidationError(f"{what} may be at most {MAX_NAME_CHARS} characters, got {len(value)}",
                              field)
    return value


def parse_enum(enum_type, value: str, what: str, field: str | None = None):
    try:
        return enum_type((value or "").strip().lower())
    except ValueError:
        allowed = ", ".join(member.value for member in enum_type)
        raise ValidationError(f"unknown {what} {value!r} (allowed: {allowed})", field) from None


@dataclass
class EmailAccount:
    """A mailbox the helpdesk fetches from and sends as (the guide's "Adding a New Email Account")."""

    address: str
    name: str
    purpose: Purpose
    department: str
    priority: Priority = Priority.NORMAL
    auto_response: bool = True
    fetch_enabled: bool = True
    folder: str = "Inbox"
    batch_size: int = 20
    mark_as_read: bool = True
    tenant_id: str = ""
    client_id: str = ""
    client_secret_name: str = ""
    # To/Cc of a client's mail become the ticket's collaborators (issue 10 §3)
    collaborators_from_cc: bool = True
    collaborator_delivery: CollaboratorDelivery = CollaboratorDelivery.CC
    created: datetime | None = None
    # fetch state
    last_fetch: datetime | None = None
    last_error: str = ""
    last_error_time: datetime | None = None
    consecutive_failures: int = 0
    fetch_watermark: datetime | None = None

    def validate(self) -> None:
        self.address = normalize_address(self.address, "address")
        if not self.name.strip():
            raise ValidationError("email name must not be empty", "name")
        check_name(self.name, "email name", "name")
        check_name(self.folder, "folder", "folder")
        self.purpose = parse_enum(Purpose, getattr(self.purpose, "value", self.purpose), "purpose",
                                  "purpose")
        self.priority = parse_enum(Priority, getattr(self.priority, "value", self.priority),
                                   "priority", "priority")
        if not (self.department or "").strip():
            raise ValidationError("department must not be empty", "department")
        self.collaborator_delivery = parse_enum(
            CollaboratorDelivery, getattr(self.collaborator_delivery, "value", self.collaborator_delivery),
            "collaborator delivery", "collaborator_delivery")
        check_name(self.department, "department", "department")
        if not 1 <= int(self.batch_size) <= 1000:
            raise ValidationError(f"batch size must be between 1 and 1000, got {self.batch_size}",
                                  "batch_size")
        if not self.folder.strip():
            raise ValidationError("folder must not be empty", "folder")
        for field_name, pattern in (("tenant_id", _DIRECTORY_ID), ("client_id", _DIRECTORY_ID),
                                    ("client_secret_name", _VAULT_NAME)):
            value = getattr(self, field_name) or ""
            if value and not pattern.match(value):
                raise ValidationError(f"{field_name.replace('_', ' ')} {value!r} has characters it "
                                      "cannot have", field_name)
        oauth = {"tenant_id": self.tenant_id, "client_id": self.client_id,
                 "client_secret_name": self.client_secret_name}
        if any(oauth.values()) and not all(oauth.values()):
            missing = next(name for name, value in oauth.items() if not value)
            raise ValidationError(
                "tenant id, client id and client secret name must be given together", missing
            )

    @property
    def can_fetch(self) -> bool:
        return self.fetch_enabled and bool(self.tenant_id and self.client_id and self.client_secret_name)


@dataclass
class Attachment:
    name: str
    content_type: str
    size: int
    inline: bool
    sha256: str
    url: str
    content_id: str = ""


@dataclass
class Party:
    name: str
    email: str


@dataclass
class Entry:
    """One item of a ticket's thread: a client message, a staff response or an internal note."""

    ticket_number: str
    entry_id: str
    type: str  # message | response | note
    sender: Party
    message_id: str
    date: datetime
    subject: str
    body_text: str
    body_html: str
    attachments: list[Attachment] = field(default_factory=list)
    rejected_attachments: list[str] = field(default_factory=list)
    source_account: str = ""
    raw_blob: str = ""
    defects: list[str] = field(default_factory=list)  # what the parser could not read
    clipped: list[str] = field(default_factory=list)  # fields cut to fit (domain/limits.py)


@dataclass
class Ticket:
    number: str
    subject: str
    status: Status
    priority: Priority
    department: str
    client: Party
    created: datetime
    account: str = ""
    collaborators: list[str] = field(default_factory=list)
    # removed by staff: a later mail's To/Cc does not add them again
    removed_collaborators: list[str] = field(default_factory=list)
    last_message_at: datetime | None = None
    last_message_id: str = ""
    last_message_entry: str = ""
    message_count: int = 0
    source_key: str = ""
    assignee: str = ""  # staff email
    closed_at: datetime | None = None
    overdue_alerted_for: str = ""  # the SLA breach already alerted: due time | entry that started it
    answered_for: str = ""  # the client message (entry id) the last staff response answered
    answered_at: datetime | None = None  # when that response was written (see domain/sla.py)
    thread_token: str = ""  # secret in the ticket's outbound Message-IDs (domain/notifications.py)
    client_first_seen: datetime | None = None  # the client snapshot: when they first wrote
    tags: list[str] = field(default_factory=list)  # set by the admins' filters (domain/filters.py)
    # the old closed ticket this one follows up: a reply to it after the reopen window with a
    # new subject (REOPEN_WINDOW_DAYS, pipeline/thread_match.py)
    related_ticket: str = ""


@dataclass
class Department:
    """A department: where its tickets are answered from and who is alerted."""

    name: str
    email: str = ""  # the department's email account address
    manager: str = ""  # staff email
    alert_recipients: list[str] = field(default_factory=list)
    sla_hours: int = 24

    def validate(self) -> None:
        self.name = self.name.strip()
        if not self.name:
            raise ValidationError("department name must not be empty", "name")
        check_name(self.name, "department name", "name")
        if "/" in self.name or "\\" in self.name:
            # the name is a path segment of the admin pages and the API (/departments/{name})
            raise ValidationError("department name must not contain / or \\", "name")
        if self.email:
            self.email = normalize_address(self.email, "email")
        if self.manager:
            self.manager = normalize_address(self.manager, "manager")
        self.alert_recipients = [normalize_address(a, "alert_recipients")
                                 for a in self.alert_recipients if a.strip()]
        if not 1 <= int(self.sla_hours) <= 24 * 365:
            raise ValidationError(f"SLA hours must be between 1 and 8760, got {self.sla_hours}",
                                  "sla_hours")


@dataclass
class Staff:
    name: str
    email: str
    department: str
    active: bool = True

    def validate(self) -> None:
        self.email = normalize_address(self.email, "email")
        if not self.name.strip():
            raise ValidationError("staff name must not be empty", "name")
        check_name(self.name, "staff name", "name")
        if not self.department.strip():
            raise ValidationError("staff department must not be empty", "department")
