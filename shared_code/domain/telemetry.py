"""The telemetry the app sends to Application Insights: event names and their dimensions,
named once here so the alerts' and the workbook's KQL (infra/alerts/, infra/workbook/) and
the code cannot drift (tests/telemetry/ checks every name a query uses against this module).

Each event is one typed record; its dataclass fields are the `customDimensions` keys of the
`customEvents` row, and `dimensions()` gives their values as strings, as the exporter stores
them (so KQL converts with toint()/tobool()). What goes in: counts, outcomes, codes, the
helpdesk's own mailbox addresses. What never does: secrets, mail bodies, subjects, client
addresses (docs/operations.md, "Telemetry, workbook and alerts", says why).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import ClassVar

#: the log-record attribute the Azure Monitor exporter turns into a customEvents row's name
CUSTOM_EVENT_ATTRIBUTE = "microsoft.custom_event.name"


class Event(StrEnum):
    """The customEvents `name` of each record."""

    FETCH_RUN = "deskmail.fetch_run"
    NOTIFICATION = "deskmail.notification"
    QUARANTINE = "deskmail.quarantine"
    SPOOF_REJECTED = "deskmail.spoof_rejected"
    QUEUE_DEPTH = "deskmail.queue_depth"
    STAFF_EMAIL_REPLY = "deskmail.staff_email_reply"


class FetchOutcome(StrEnum):
    SUCCESS = "success"  # the run finished (mails that failed are counted in `errors`)
    FAILED = "failed"  # the run aborted: sign-in, Graph or storage failure
    SKIPPED = "skipped"  # disabled, no credentials, another worker holds the lease, stale job


class DiscardRule(StrEnum):
    """Why an inbound mail was discarded (the keys of `discarded_by_rule`)."""

    AUTO_REPLY = "auto_reply"
    NO_SENDER = "no_sender"
    SPOOFED_HELPDESK = "spoofed_helpdesk"
    FILTER = "filter"  # an admin's filter (domain/filters.py)


class SpoofKind(StrEnum):
    STAFF = "staff"  # claims a staff address: handled as a client mail
    HELPDESK = "helpdesk"  # claims a helpdesk address: discarded


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


@dataclass(frozen=True)
class _Record:
    EVENT: ClassVar[Event]

    def dimensions(self) -> dict[str, str]:
        return {f.name: _text(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def dimension_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


@dataclass(frozen=True)
class FetchRun(_Record):
    """One fetch run of one account (services/fetch.py), whatever its outcome."""

    EVENT: ClassVar[Event] = Event.FETCH_RUN
    account: str
    outcome: FetchOutcome
    fetched: int = 0
    tickets_created: int = 0  # not `created`: a LogRecord attribute, dropped by the exporter
    threaded: int = 0
    discarded: int = 0
    duplicates: int = 0
    ignored: int = 0
    quarantined: int = 0
    errors: int = 0
    duration_ms: int = 0
    discarded_by_rule: dict = field(default_factory=dict)  # {"auto_reply": 2}, as JSON
    error_type: str = ""  # the exception class of a failed run, e.g. GraphError


@dataclass(frozen=True)
class Notification(_Record):
    """One notification's outcome (services/send.py): sent, duplicate, suppressed,
    deferred, failed or held, with Graph's error code (or the failure's class) when it failed."""

    EVENT: ClassVar[Event] = Event.NOTIFICATION
    template: str
    outcome: str
    sender: str = ""  # the helpdesk mailbox it is sent from
    error_code: str = ""


@dataclass(frozen=True)
class Quarantine(_Record):
    """A mail set aside after its attempts (services/quarantine.py)."""

    EVENT: ClassVar[Event] = Event.QUARANTINE
    account: str
    attempts: int
    error_type: str  # the failure's class or code, never its text (it may quote the mail)
    again: bool = False  # failed again after an admin sent it back


@dataclass(frozen=True)
class SpoofRejected(_Record):
    """Mail claiming a staff or helpdesk address without proof (pipeline/sender.py)."""

    EVENT: ClassVar[Event] = Event.SPOOF_REJECTED
    account: str
    kind: SpoofKind
    verdict: str  # domain/sender_auth.py's verdict: spoofed or unauthenticated
    handling: str


@dataclass(frozen=True)
class QueueDepth(_Record):
    """A queue's approximate length, sent by the fetch timer every minute (poison included)."""

    EVENT: ClassVar[Event] = Event.QUEUE_DEPTH
    queue: str
    depth: int
    poison: bool


@dataclass(frozen=True)
class StaffEmailReply(_Record):
    """A proven staff member replied to a ticket by email (pipeline/store.py): posted as a
    response to the client, or kept as a note (`why`). Never the body."""

    EVENT: ClassVar[Event] = Event.STAFF_EMAIL_REPLY
    account: str
    ticket: str
    staff: str  # the staff member's own address (not a client's)
    kind: str  # domain/staff_reply.py's StaffReplyKind
    why: str


RECORDS: tuple[type[_Record], ...] = (FetchRun, Notification, Quarantine, SpoofRejected,
                                      QueueDepth, StaffEmailReply)


def error_type(text: str) -> str:
    """The leading `Name:` of an error text ("GraphError: ..." → "GraphError"), nothing else."""
    head = text.split(":", 1)[0].strip()
    return head[:80] if head.replace(".", "").replace("_", "").isalnum() else "Error"


class NoTelemetry:
    """Sends nothing: the default of contexts built without a desk (the unit tier)."""

    def emit(self, record: _Record) -> None:
        pass
