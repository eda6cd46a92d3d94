"""Issue 7 §1: a mail is one transaction in its ticket's partition; replies to our own
outbound Message-IDs (dm.<ticket>.<token>.<hash>@domain) thread without the index."""
from __future__ import annotations

import pytest

from shared_code.adapters.message_index import MessageIndex
from shared_code.adapters.ticket_store import TicketStore, UnitResult
from shared_code.domain.notifications import parse_outbound_id
from shared_code.pipeline import run_pipeline

from . import SimulatedCrash, compose, crash_at, inbound, make_ctx, queued_notifications


class _CountingIndex(MessageIndex):
    """The real index, counting the Message-IDs it is asked about."""

    def __init__(self, connection):
        super().__init__(connection)
        self.asked: list[str] = []

    def get(self, message_id):
        self.asked.append(message_id)
        return super().get(message_id)


class _CountingStore(TicketStore):
    """The real store, recording each unit of work and what became of it."""

    def __init__(self, desk, before_first_write=None):
        super().__init__(desk.connection, desk.blobs)
        self.units: list[tuple] = []
        self._before = before_first_write

    def write(self, unit):
        before, self._before = self._before, None
        if before:
            before()
        result = super().write(unit)
        self.units.append((unit, result))
        return result


def _first(desk, ctx):
    mail = run_pipeline(inbound(compose(message_id="<first@example.org>")), ctx)
    [auto] = [n for n in mail.notifications if n["template"] == "new_ticket_auto_response"]
    return mail, auto["message_id"]


def test_outbound_message_ids_name_their_ticket_and_its_token(desk, ctx):
    mail, message_id = _first(desk, ctx)

    number, token = parse_outbound_id(message_id)
    ticket = desk.tickets.get(mail.ticket.number)
    assert (number, token) == (ticket.number, ticket.thread_token) and len(token) == 16
    assert message_id.endswith("@" + desk.settings.system_domain)


def test_a_reply_to_our_message_id_threads_without_reading_the_index(desk, ctx):
    first, ours = _first(desk, ctx)
    index = _CountingIndex(desk.connection)
    reply_ctx = make_ctx(desk, index=index)

    reply = run_pipeline(inbound(compose(subject="Re: Printer on fire", in_reply_to=f"<{ours}>",
                                         references=f"<{ours}>")), reply_ctx)

    assert (reply.outcome, reply.ticket.number) == ("threaded", first.ticket.number)
    assert reply.thread.matched_by == "in-reply-to"
    assert index.asked == []  # recognised by its form, checked against the ticket row; no
    # rule 1 read either: the reply's claim (an insert) is its one index request and its row
    assert index.get(reply.key)["ticket"] == first.ticket.number
    assert desk.tickets.marker(first.ticket.number, reply.key) is not None


def test_a_forged_outbound_id_with_a_guessed_token_starts_a_new_ticket(desk, ctx):
    first, ours = _first(desk, ctx)
    number, token = parse_outbound_id(ours)
    forged = ours.replace(f".{token}.", ".0123456789abcdef.")

    mail = run_pipeline(inbound(compose(subject="Re: Printer on fire", in_reply_to=f"<{forged}>",
                                        sender="Mallory <mallory@evil.example>")), ctx)

    assert mail.outcome == "created" and mail.ticket.number != number
    assert desk.tickets.get(number).message_count == 1


def test_a_reply_is_one_unit_and_its_replay_writes_nothing(desk, ctx):
    first, _ = _first(desk, ctx)
    store = _CountingStore(desk)
    raw = compose(subject="Re: Printer on fire", in_reply_to="<first@example.org>",
                  message_id="<reply@example.org>")

    with pytest.raises(SimulatedCrash):  # after the transaction, before the queue
        run_pipeline(inbound(raw, graph_id="AAMk-r"),
                     make_ctx(desk, tickets=store, checkpoint=crash_at("ticket_written")))
    assert desk.index.get("reply@example.org")["state"] == "claimed"  # claimed before
    replay = run_pipeline(inbound(raw, graph_id="AAMk-r"), make_ctx(desk, tickets=store))

    [(unit, result), (again, replayed)] = store.units
    assert result is UnitResult.STORED and replayed is UnitResult.ALREADY_STORED
    assert unit.entry.message_id == "reply@example.org" and unit.marker[0] == "reply@example.org"
    assert [r["template"] for r in unit.notification_rows] == ["new_message_alert"]
    assert replay.outcome == "threaded"
    assert desk.index.get("reply@example.org")["ticket"] == first.ticket.number
    assert desk.tickets.get(first.ticket.number).message_count == 2
    assert len(desk.tickets.entries(first.ticket.number)) == 2
    alerts = [n for n in queued_notifications(desk) if n["template"] == "new_message_alert"]
    assert len(alerts) == 1  # queued by the replay


def test_the_same_reply_in_a_second_mailbox_is_a_duplicate(desk, ctx):
    first, _ = _first(desk, ctx)
    raw = compose(subject="Re: Printer on fire", in_reply_to="<first@example.org>",
                  message_id="<both@example.org>")
    run_pipeline(inbound(raw, graph_id="AAMk-1"), ctx)
    assert desk.index.get("both@example.org")["state"] == "claimed"  # a reply's claim stays so

    again = run_pipeline(inbound(raw, graph_id="AAMk-2"), ctx)

    assert again.outcome == "duplicate"
    assert desk.tickets.get(first.ticket.number).message_count == 2


def test_a_concurrent_writer_makes_the_reply_read_again_and_both_count(desk, ctx):
    first, _ = _first(desk, ctx)

    def other_reply():
        run_pipeline(inbound(compose(subject="Re: x", in_reply_to="<first@example.org>",
                                     message_id="<other@example.org>")), make_ctx(desk))

    store = _CountingStore(desk, before_first_write=other_reply)
    mine = run_pipeline(inbound(compose(subject="Re: y", in_reply_to="<first@example.org>",
                                        message_id="<mine@example.org>")),
                        make_ctx(desk, tickets=store))

    assert [result for _, result in store.units] == [UnitResult.CONFLICT, UnitResult.STORED]
    assert mine.outcome == "threaded"
    ticket = desk.tickets.get(first.ticket.number)
    assert ticket.message_count == 3 and len(desk.tickets.entries(ticket.number)) == 3


def test_a_claim_pointing_at_another_ticket_does_not_thread_a_reply(desk, ctx):
    """A claim left `claimed` whose number belongs to another mail's ticket (a run that stopped
    before drawing again) must not let a reply into that ticket."""
    first, _ = _first(desk, ctx)
    desk.index.claim("stopped@example.org", {"ticket": first.ticket.number, "new_ticket": True,
                                             "entry_id": "E1"})

    reply = run_pipeline(inbound(compose(subject="Re: hello", in_reply_to="<stopped@example.org>",
                                         sender="Mallory <mallory@evil.example>")), ctx)

    assert reply.outcome == "created" and reply.ticket.number != first.ticket.number
    assert desk.tickets.get(first.ticket.number).message_count == 1
