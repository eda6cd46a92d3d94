"""Rules 6-7 and run_pipeline end to end on the in-memory ports (no Azurite, no fakes).

A new ticket, a reply, a replay after a crash at each write boundary, the same mail fetched
from a second mailbox, and a 412 race with another writer: the behaviour tests/pipeline/
checks on Azurite, here in the fast tier. The contract suite (tests/contract/) is what makes
the memory ticket store stand for the real one."""
from __future__ import annotations

import pytest

from shared_code.adapters.names import OUTBOUND_MAIL
from shared_code.adapters.ticket_store import UnitResult
from shared_code.domain.notifications import unbatch
from shared_code.pipeline import run_pipeline
from tests.pipeline import SimulatedCrash, compose, crash_at, inbound, support_account

from .. import memory
from ..conftest import SALES

FIRST = "<first@example.org>"


class RecordingTickets(memory.MemoryTickets):
    """The memory ticket store, recording each unit and its result; `before_first_write`
    runs once, just before the first unit reaches the store (another writer's turn)."""

    def __init__(self, before_first_write=None):
        super().__init__()
        self.before_first_write = before_first_write
        self.units: list = []

    def write(self, unit):
        hook, self.before_first_write = self.before_first_write, None
        if hook is not None:
            hook()
        result = super().write(unit)
        self.units.append((unit, result))
        return result


@pytest.fixture
def tickets(ctx) -> RecordingTickets:
    ctx.tickets = RecordingTickets()
    return ctx.tickets


def _queued(ctx) -> list[dict]:
    return [n for message in ctx.queues.peek_all(OUTBOUND_MAIL) for n in unbatch(message)]


def _first(ctx, **options):
    return run_pipeline(inbound(compose(message_id=FIRST), graph_id="AAMk-first", **options), ctx)


def _reply(message_id: str, subject: str = "Re: Printer on fire", **options) -> bytes:
    return compose(subject=subject, in_reply_to=FIRST, message_id=message_id, **options)


def test_a_new_mail_is_one_unit_and_one_queue_message(ctx, tickets):
    mail = _first(ctx)

    assert mail.outcome == "created"
    [(unit, result)] = tickets.units
    assert result is UnitResult.STORED and unit.new and unit.marker[0] == "first@example.org"
    [ticket] = tickets.list()
    assert (ticket.number, ticket.message_count, ticket.source_key) == (
        mail.ticket.number, 1, "first@example.org")
    assert [e.message_id for e in tickets.entries(ticket.number)] == ["first@example.org"]
    assert tickets.marker(ticket.number, FIRST)["graph_id"] == "AAMk-first"
    [message] = ctx.queues.peek_all(OUTBOUND_MAIL)
    queued = unbatch(message)
    assert [n["template"] for n in queued] == ["new_ticket_auto_response", "new_ticket_alert"]
    for notification in queued:  # the outbox rows were written with the ticket
        assert tickets.notification_row(ticket.number, notification["id"])["state"] == "queued"
    claim = ctx.index.get("first@example.org")
    assert (claim["state"], claim["ticket"]) == ("claimed", ticket.number)


def test_a_reply_is_appended_to_its_ticket_and_alerts_once(ctx, tickets):
    first = _first(ctx)

    reply = run_pipeline(inbound(_reply("<reply@example.org>"), graph_id="AAMk-r"), ctx)

    assert (reply.outcome, reply.ticket.number) == ("threaded", first.ticket.number)
    assert [result for _, result in tickets.units] == [UnitResult.STORED, UnitResult.STORED]
    ticket = tickets.get(first.ticket.number)
    assert (ticket.message_count, ticket.last_message_id) == (2, "reply@example.org")
    assert len(tickets.entries(ticket.number)) == 2
    assert [n["template"] for n in _queued(ctx)][-1:] == ["new_message_alert"]
    assert ctx.index.get("reply@example.org")["ticket"] == ticket.number


@pytest.mark.parametrize("step", ["claimed", "ticket_written", "notification_enqueued"])
def test_a_crash_at_a_write_boundary_of_a_new_mail_is_finished_by_the_replay(ctx, tickets, step):
    raw = compose(message_id="<interrupted@example.org>")
    ctx.checkpoint = crash_at(step)
    with pytest.raises(SimulatedCrash):
        run_pipeline(inbound(raw, graph_id="AAMk-1"), ctx)
    ctx.checkpoint = lambda step, mail: None

    replay = run_pipeline(inbound(raw, graph_id="AAMk-1"), ctx)

    assert replay.outcome == "created"
    [ticket] = tickets.list()
    assert ticket.message_count == 1 and len(tickets.entries(ticket.number)) == 1
    assert tickets.transactions == 1  # the replay found the unit stored and wrote nothing
    queued = _queued(ctx)
    assert sorted({n["template"] for n in queued}) == ["new_ticket_alert", "new_ticket_auto_response"]
    assert len(queued) == (4 if step == "notification_enqueued" else 2)  # the sender dedups by id
    assert len({n["id"] for n in queued}) == 2


def test_a_reply_crashed_between_its_transaction_and_the_enqueue_is_queued_by_the_replay(ctx, tickets):
    first = _first(ctx)
    raw = _reply("<reply@example.org>")
    ctx.checkpoint = crash_at("ticket_written")
    with pytest.raises(SimulatedCrash):
        run_pipeline(inbound(raw, graph_id="AAMk-r"), ctx)
    ctx.checkpoint = lambda step, mail: None
    assert ctx.index.get("reply@example.org")["state"] == "claimed"  # claimed before the transaction
    assert [n["template"] for n in _queued(ctx)].count("new_message_alert") == 0

    replay = run_pipeline(inbound(raw, graph_id="AAMk-r"), ctx)

    assert replay.outcome == "threaded"
    assert [result for _, result in tickets.units][1:] == [UnitResult.STORED,
                                                           UnitResult.ALREADY_STORED]
    assert tickets.get(first.ticket.number).message_count == 2
    assert len(tickets.entries(first.ticket.number)) == 2
    assert [n["template"] for n in _queued(ctx)].count("new_message_alert") == 1
    assert ctx.index.get("reply@example.org")["ticket"] == first.ticket.number


def test_the_same_new_mail_from_a_second_mailbox_is_a_duplicate(ctx, tickets):
    first = _first(ctx)
    sales = support_account(address=SALES, name="Contoso Sales", department="Sales")

    again = run_pipeline(inbound(compose(message_id=FIRST), account=sales, graph_id="AAMk-2"), ctx)

    assert again.outcome == "duplicate" and first.ticket.number in again.reason
    assert [t.number for t in tickets.list()] == [first.ticket.number]
    assert tickets.transactions == 1 and len(_queued(ctx)) == 2


def test_the_same_reply_from_a_second_mailbox_is_a_duplicate(ctx, tickets):
    first = _first(ctx)
    raw = _reply("<both@example.org>")
    run_pipeline(inbound(raw, graph_id="AAMk-1"), ctx)
    sales = support_account(address=SALES, name="Contoso Sales", department="Sales")

    again = run_pipeline(inbound(raw, account=sales, graph_id="AAMk-2"), ctx)

    assert again.outcome == "duplicate"
    assert tickets.get(first.ticket.number).message_count == 2
    assert [n["template"] for n in _queued(ctx)].count("new_message_alert") == 1


def test_a_412_race_makes_the_reply_read_again_and_both_count(ctx, tickets):
    first = _first(ctx)
    tickets.units.clear()
    # another worker stores a reply between this mail's read of the ticket (rule 4) and its write
    tickets.before_first_write = lambda: run_pipeline(
        inbound(_reply("<other@example.org>", subject="Re: x")), ctx)

    mine = run_pipeline(inbound(_reply("<mine@example.org>", subject="Re: y")), ctx)

    assert mine.outcome == "threaded"
    assert [result for _, result in tickets.units] == [
        UnitResult.STORED, UnitResult.CONFLICT, UnitResult.STORED]  # other's, mine, mine again
    ticket = tickets.get(first.ticket.number)
    assert ticket.message_count == 3 and len(tickets.entries(ticket.number)) == 3
    assert {e.message_id for e in tickets.entries(ticket.number)} == {
        "first@example.org", "other@example.org", "mine@example.org"}


def test_rule_7_suppresses_the_auto_response_to_a_no_reply_sender(ctx, tickets):
    mail = run_pipeline(inbound(compose(sender="Robot <no-reply@example.org>")), ctx)

    assert mail.outcome == "created"
    assert [n["template"] for n in _queued(ctx)] == ["new_ticket_alert"]
    assert [e["title"] for e in ctx.syslog.list()] == ["Auto-response suppressed"]


def test_rule_6_refuses_an_unstorable_mail_before_its_first_write(ctx, tickets):
    mail = inbound(compose(), account=support_account(department="d" * 40_000))

    with pytest.raises(ValueError, match="ticket #"):  # the ticket row would be refused
        run_pipeline(mail, ctx)

    assert ctx.index.rows == {} and tickets.units == [] and ctx.queues.queues == {}


def test_a_follow_up_is_noted_once_on_the_old_ticket_even_when_replayed(ctx):
    """The reopen window (issue 10 §5): the new ticket links to the old one, and the old one
    gets one note naming it; a replay of the same mail writes no second note."""
    from datetime import datetime, timedelta, timezone

    from shared_code.domain.model import Party, Priority, Status, Ticket
    from shared_code.pipeline import run_pipeline
    from tests.pipeline import compose, inbound

    long_ago = datetime(2026, 9, 1, tzinfo=timezone.utc)
    ctx.tickets.add(Ticket(number="108749", subject="Printer on fire", status=Status.CLOSED,
                           priority=Priority.NORMAL, client=Party("Ann", "ann@example.org"),
                           department="Support", created=long_ago, closed_at=long_ago,
                           last_message_at=long_ago))
    ctx.index.record("old@example.org", "108749", "inbound")
    raw = compose(subject="Re: A new laptop please", in_reply_to="<old@example.org>")
    received = long_ago + timedelta(days=45)

    first = run_pipeline(inbound(raw, graph_id="g1", received=received), ctx)
    again = run_pipeline(inbound(raw, graph_id="g1", received=received), ctx)

    assert first.outcome == "created" and first.ticket.related_ticket == "108749"
    assert again.ticket.number == first.ticket.number
    notes = [e for e in ctx.tickets.entries("108749") if e.type == "note"]
    assert len(notes) == 1 and f"#{first.ticket.number}" in notes[0].body_text
    assert ctx.tickets.get("108749").status == Status.CLOSED
