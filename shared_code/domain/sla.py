"""The SLA clock follows the conversation: a client message starts it, a staff response stops it.

A ticket is "answered" when its newest client message (`last_message_entry`) is the one the
last staff response answered (`answered_for`); a later client message changes
`last_message_entry` and so restarts the clock without anyone having to reset it. Internal
notes never touch these fields. Plain Python: the overdue check and the CLI share it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from .model import Department, Status, Ticket


class SlaState(str, Enum):
    CLOSED = "closed"
    ANSWERED = "answered"  # a staff response answered the newest client message: waits on the client
    RUNNING = "running"  # the newest client message waits for staff; not due yet
    OVERDUE = "overdue"  # ... and its due time has passed


@dataclass(frozen=True)
class SlaClock:
    state: SlaState
    due: datetime | None  # None when the clock is stopped (answered or closed)
    breach: str  # identifies one breach for "one alert per breach"; "" unless running/overdue

    def describe(self) -> str:
        if self.state == SlaState.ANSWERED:
            return "answered, waiting on client"
        if self.state == SlaState.CLOSED:
            return "closed"
        return f"{self.state.value}, due {self.due.isoformat() if self.due else '?'}"


def short(clock: SlaClock) -> str:
    """A column for `tickets list`: answered / due <UTC time> / overdue / -."""
    if clock.state == SlaState.CLOSED:
        return "-"
    if clock.state == SlaState.RUNNING and clock.due:
        return f"due {clock.due:%m-%d %H:%M}"
    return clock.state.value


def sla_hours(department: Department | None) -> int:
    """The department's grace hours, or the default for a ticket of an unknown department."""
    return department.sla_hours if department else Department(name="default").sla_hours


def is_answered(ticket: Ticket) -> bool:
    """Whether the last staff response answered the newest client message."""
    return ticket.answered_at is not None and ticket.answered_for == ticket.last_message_entry


def mark_answered(ticket: Ticket, response_entry: str, at: datetime) -> bool:
    """Stop the clock for a staff response stored as `response_entry`. Entry ids sort in thread
    order, so a response only answers client messages older than itself: a message that
    arrived after it (or a retried old response) keeps the clock running. Returns whether
    the ticket changed."""
    if response_entry <= (ticket.last_message_entry or ""):
        return False
    if is_answered(ticket) and ticket.answered_at and ticket.answered_at >= at:
        return False
    ticket.answered_for = ticket.last_message_entry
    ticket.answered_at = at
    return True


def sla_clock(ticket: Ticket, sla_hours: int, now: datetime) -> SlaClock:
    """Where the ticket's clock stands at `now`. The breach key is the due time plus the
    client message that started the clock, as the overdue alert's idempotency key."""
    if ticket.status != Status.OPEN:
        return SlaClock(SlaState.CLOSED, None, "")
    if is_answered(ticket):
        return SlaClock(SlaState.ANSWERED, None, "")
    due = (ticket.last_message_at or ticket.created) + timedelta(hours=sla_hours)
    state = SlaState.OVERDUE if now >= due else SlaState.RUNNING
    return SlaClock(state, due, f"{due.isoformat()}|{ticket.last_message_entry}")
