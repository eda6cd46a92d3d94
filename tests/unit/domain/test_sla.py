"""The SLA clock as plain data: which response answers which client message, and the breach key."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from shared_code.domain.model import Party, Priority, Status, Ticket
from shared_code.domain.sla import SlaState, mark_answered, short, sla_clock

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def _ticket() -> Ticket:
    return Ticket(number="100001", subject="s", status=Status.OPEN, priority=Priority.NORMAL,
                  department="Support", client=Party("Ann", "ann@example.org"), created=T0,
                  last_message_at=T0, last_message_entry="20260302T090000000000Z-aaa")


def test_a_response_stops_the_clock_until_the_next_client_message():
    ticket = _ticket()
    running = sla_clock(ticket, 4, T0 + timedelta(hours=1))
    assert (running.state, running.due) == (SlaState.RUNNING, T0 + timedelta(hours=4))
    assert running.breach == f"{running.due.isoformat()}|{ticket.last_message_entry}"
    assert (short(running), running.describe()) == ("due 03-02 13:00", f"running, due {running.due.isoformat()}")
    assert mark_answered(ticket, "20260302T100000000000Z-bbb", T0 + timedelta(hours=1))
    answered = sla_clock(ticket, 4, T0 + timedelta(days=9))
    assert (answered.state, answered.due, short(answered)) == (SlaState.ANSWERED, None, "answered")
    # the client writes again: the clock restarts from that message
    ticket.last_message_entry, ticket.last_message_at = "20260302T110000000000Z-ccc", T0 + timedelta(hours=2)
    late = sla_clock(ticket, 4, T0 + timedelta(hours=7))
    assert (late.state, late.due) == (SlaState.OVERDUE, T0 + timedelta(hours=6))


def test_a_response_older_than_the_newest_client_message_does_not_answer_it():
    ticket = _ticket()
    assert not mark_answered(ticket, "20260302T085959000000Z-old", T0)  # e.g. a retried old reply
    assert sla_clock(ticket, 4, T0 + timedelta(hours=5)).state == SlaState.OVERDUE


def test_a_closed_ticket_is_off_the_clock():
    ticket = _ticket()
    ticket.status = Status.CLOSED
    assert sla_clock(ticket, 4, T0 + timedelta(days=9)).state == SlaState.CLOSED
