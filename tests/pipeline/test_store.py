"""Rule 6, ticket_or_message: claim the Message-ID of a new ticket, then store the mail in ONE
transaction in its ticket's partition; a replay writes nothing twice."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from azure.core.exceptions import HttpResponseError

from shared_code.adapters.names import BODIES
from shared_code.adapters.ticket_store import TicketStore
from shared_code.domain.model import Party, Priority, Status, Ticket
from shared_code.pipeline.store import new_ticket_number, ticket_or_message

from . import (
    ANN_ADDRESS,
    SALES,
    SUPPORT,
    SimulatedCrash,
    compose,
    crash_at,
    inbound,
    make_ctx,
    run_rules_before,
    store_mail,
    support_account,
)

CLAIM = {"entry_id": "20261127T020304000001Z-ab12cd34ef56", "new_ticket": True, "matched_by": "",
         "graph_id": "AAMk-earlier-run", "account": SUPPORT, "direction": "inbound"}


def _finished(mail, ctx):
    """(run_pipeline writes nothing more after the rules: the claim stays `claimed`.)"""
    return mail


def _first_ticket(ctx, message_id="<first@example.org>"):
    return _finished(store_mail(compose(message_id=message_id), ctx), ctx)


def _reply(ctx, in_reply_to="<first@example.org>", sender="Ann Client <ann@example.org>", **changes):
    return store_mail(compose(subject="Re: Printer on fire", sender=sender, in_reply_to=in_reply_to,
                              body="It is out now.", **changes), ctx)


# --- a new ticket ------------------------------------------------------------------------------


def test_ticket_numbers_are_six_digits_not_starting_with_zero():
    numbers = {new_ticket_number() for _ in range(2000)}
    assert all(len(n) == 6 and n.isdigit() and n[0] != "0" for n in numbers)
    assert len(numbers) > 1900  # random, not a counter


def test_a_new_mail_becomes_a_ticket_with_its_first_message(desk, ctx):
    raw = compose(to="support@contoso.example, Carol <carol@example.org>",
                  cc="Bob <BOB@example.org>, Sales <sales@contoso.example>, Ann <ann@example.org>")
    mail = run_rules_before(ticket_or_message, inbound(raw), ctx)

    ticket_or_message(mail, ctx)

    assert mail.outcome == "created"
    number = mail.ticket.number
    assert len(number) == 6 and number.isdigit() and number[0] != "0"
    ticket = desk.tickets.get(number)
    assert ticket.subject == "Printer on fire"
    assert (ticket.status, ticket.priority, ticket.department, ticket.account) == (
        Status.OPEN, Priority.HIGH, "Support", SUPPORT)
    assert ticket.client == Party("Ann Client", ANN_ADDRESS)
    assert ticket.collaborators == ["bob@example.org", "carol@example.org"]  # not the sender, not ours
    assert ticket.created == mail.received
    assert ticket.source_key == mail.key
    assert (ticket.message_count, ticket.last_message_id) == (1, mail.key)
    [entry] = desk.tickets.entries(number)
    assert entry.entry_id == mail.entry.entry_id == ticket.last_message_entry
    assert (entry.type, entry.message_id, entry.sender) == ("message", mail.key, Party("Ann Client", ANN_ADDRESS))
    assert "printer is on fire" in entry.body_text
    assert (entry.source_account, entry.raw_blob) == (SUPPORT, mail.raw_blob)


def test_the_claim_records_the_ticket_and_entry_it_became(ctx):
    mail = store_mail(compose(), ctx)

    row = ctx.index.get(mail.key)
    assert row["state"] == "claimed"  # done only when run_pipeline finishes
    assert row["ticket"] == mail.ticket.number
    assert row["entry_id"] == mail.entry.entry_id
    assert row["new_ticket"] is True
    assert (row["graph_id"], row["account"], row["direction"]) == (mail.graph_id, SUPPORT, "inbound")


def test_a_mail_without_subject_gets_a_placeholder(desk, ctx):
    mail = store_mail(compose(subject="  "), ctx)

    assert desk.tickets.get(mail.ticket.number).subject == "(no subject)"


def test_a_large_body_goes_to_blob_and_reads_back_whole(desk, ctx):
    body = "A long log line from the printer.\n" * 1500  # ~50,000 characters
    mail = store_mail(compose(body=body), ctx)

    [entry] = desk.tickets.entries(mail.ticket.number)
    assert entry.body_text.strip() == body.strip()
    assert desk.blobs.names(BODIES, prefix=mail.ticket.number + "/")


# --- crash safety --------------------------------------------------------------------------------


def test_the_message_id_is_claimed_before_anything_is_written(desk, ctx):
    """The tickets table vanishes under the rule (a real storage failure on the first write):
    the claim is already there, and a replay writes exactly what it names."""
    desk.tickets.get("100000")  # the repository opens the tickets table
    desk.connection.table_service.delete_table("tickets")
    raw = compose(message_id="<interrupted@example.org>")
    mail = run_rules_before(ticket_or_message, inbound(raw), ctx)

    with pytest.raises(HttpResponseError, match="TableNotFound"):
        ticket_or_message(mail, ctx)

    row = ctx.index.get("interrupted@example.org")
    assert row["state"] == "claimed" and row["new_ticket"] is True

    desk.connection.table_service.create_table("tickets")
    assert desk.tickets.entries(row["ticket"]) == []
    replay = store_mail(raw, ctx, graph_id=mail.graph_id)
    assert replay.claim["ticket"] == row["ticket"]
    assert (replay.ticket.number, replay.entry.entry_id) == (row["ticket"], row["entry_id"])


def test_a_replay_after_a_crash_resumes_without_a_second_ticket(desk):
    raw = compose(message_id="<crashed@example.org>")
    with pytest.raises(SimulatedCrash):
        store_mail(raw, make_ctx(desk, checkpoint=crash_at("ticket_written")), graph_id="AAMk-1")

    replay = store_mail(raw, make_ctx(desk), graph_id="AAMk-1")

    assert replay.outcome == "created"
    [ticket] = desk.tickets.list()
    assert ticket.number == replay.ticket.number
    assert ticket.message_count == 1
    assert [e.message_id for e in desk.tickets.entries(ticket.number)] == ["crashed@example.org"]


def test_a_replay_uses_the_number_and_entry_the_claim_names(desk, ctx):
    ctx.index.claim("claimed@example.org", dict(CLAIM, ticket="482913"))

    mail = store_mail(compose(message_id="<claimed@example.org>"), ctx)

    assert mail.outcome == "created"
    assert (mail.ticket.number, mail.entry.entry_id) == ("482913", CLAIM["entry_id"])
    assert [e.entry_id for e in desk.tickets.entries("482913")] == [CLAIM["entry_id"]]


def test_a_claimed_number_taken_by_another_ticket_is_drawn_again(desk, ctx):
    assert desk.tickets.create(Ticket(
        number="482913", subject="Someone else's ticket", status=Status.OPEN, priority=Priority.LOW,
        department="Sales", client=Party("Zed", "zed@example.net"), created=datetime.now(timezone.utc),
        source_key="someone-else@example.net",
    ))
    ctx.index.claim("claimed@example.org", dict(CLAIM, ticket="482913"))
    raw = compose(message_id="<claimed@example.org>")

    mail = store_mail(raw, ctx)

    number = mail.ticket.number
    assert number != "482913" and len(number) == 6 and number[0] != "0"
    assert ctx.index.get("claimed@example.org")["ticket"] == number  # the claim follows
    other = desk.tickets.get("482913")
    assert (other.subject, other.message_count, other.client.email) == ("Someone else's ticket", 0, "zed@example.net")
    assert desk.tickets.entries("482913") == []
    replay = store_mail(raw, ctx)
    assert replay.ticket.number == number
    assert len(desk.tickets.list()) == 2


class _RacingTickets(TicketStore):
    """The real store, with another worker scheduled right before this one's transaction:
    the interleaving two workers hit when they process the same mail at the same moment."""

    def __init__(self, desk, other_worker):
        super().__init__(desk.connection, desk.blobs)
        self._other_worker = other_worker

    def write(self, unit):
        other, self._other_worker = self._other_worker, None
        if other:
            other()
        return super().write(unit)


def test_two_workers_storing_the_same_mail_make_one_ticket(desk):
    raw = compose(message_id="<to-both@example.org>", to="support@contoso.example, sales@contoso.example")
    sales = run_rules_before(ticket_or_message, inbound(raw, account=support_account(address=SALES)), make_ctx(desk))
    sales_worker = lambda: ticket_or_message(sales, make_ctx(desk))  # noqa: E731
    support_ctx = make_ctx(desk, tickets=_RacingTickets(desk, sales_worker))
    support = run_rules_before(ticket_or_message, inbound(raw), support_ctx)

    ticket_or_message(support, support_ctx)

    assert sales.ticket is not None  # the other worker did run in between
    assert support.ticket.number == sales.ticket.number
    assert (sales.outcome, support.outcome) == ("created", "duplicate")
    assert len(desk.tickets.list()) == 1
    assert len(desk.tickets.entries(sales.ticket.number)) == 1


def test_a_full_replay_counts_the_message_once(desk, ctx):
    raw = compose(message_id="<twice@example.org>")
    first = store_mail(raw, ctx, graph_id="AAMk-1")

    replay = store_mail(raw, ctx, graph_id="AAMk-1")

    assert replay.ticket.number == first.ticket.number
    assert replay.entry.entry_id == first.entry.entry_id
    assert desk.tickets.get(first.ticket.number).message_count == 1
    assert len(desk.tickets.entries(first.ticket.number)) == 1


# --- a message on an existing ticket ------------------------------------------------------------


def test_a_reply_is_appended_to_the_matched_ticket(desk, ctx):
    first = _first_ticket(ctx)

    reply = _reply(ctx, sender="Carol <carol@example.org>")

    assert reply.outcome == "threaded"
    assert reply.reason == "matched by in-reply-to"
    assert reply.ticket.number == first.ticket.number
    ticket = desk.tickets.get(first.ticket.number)
    assert ticket.message_count == 2
    assert ticket.last_message_id == reply.key and ticket.last_message_entry == reply.entry.entry_id
    assert "carol@example.org" in ticket.collaborators
    entries = desk.tickets.entries(first.ticket.number)
    assert [e.message_id for e in entries] == ["first@example.org", reply.key]
    assert entries[1].body_text.strip() == "It is out now."
    row = ctx.index.get(reply.key)
    assert (row["ticket"], row["new_ticket"], row["matched_by"]) == (first.ticket.number, False, "in-reply-to")
    assert len(desk.tickets.list()) == 1


def test_a_reply_reopens_a_closed_ticket(desk, ctx):
    first = _first_ticket(ctx)
    ticket = desk.tickets.get(first.ticket.number)
    ticket.status = Status.CLOSED
    assert desk.tickets.update(ticket)

    _reply(ctx)

    assert desk.tickets.get(first.ticket.number).status == Status.OPEN


def test_a_reply_to_a_deleted_ticket_starts_a_new_one(desk, ctx):
    ctx.index.record("gone@example.org", "234567", "outbound")  # its ticket was deleted since
    raw = compose(subject="Re: old issue", in_reply_to="<gone@example.org>")

    mail = store_mail(raw, ctx)

    assert mail.outcome == "created"
    ticket = desk.tickets.get(mail.ticket.number)
    assert ticket is not None and ticket.source_key == mail.key
    row = ctx.index.get(mail.key)
    assert (row["new_ticket"], row["ticket"]) == (True, mail.ticket.number)
    replay = store_mail(raw, ctx, graph_id=mail.graph_id)
    assert replay.ticket.number == mail.ticket.number
    assert len(desk.tickets.list()) == 1


def test_a_message_recorded_after_a_newer_one_is_still_counted(desk, ctx):
    first = _first_ticket(ctx)
    # worker A claims its reply, then stalls (or crashes) before writing anything
    ctx.index.claim("reply-a@example.org", dict(
        CLAIM, ticket=first.ticket.number, new_ticket=False, matched_by="in-reply-to",
        entry_id=datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ") + "-aaaaaaaaaaaa"))
    _finished(_reply(ctx, message_id="<reply-b@example.org>"), ctx)  # worker B: a later claim, stored

    _reply(ctx, message_id="<reply-a@example.org>")  # worker A goes on

    assert len(desk.tickets.entries(first.ticket.number)) == 3
    assert desk.tickets.get(first.ticket.number).message_count == 3


# --- clients -------------------------------------------------------------------------------------


def test_the_client_is_a_snapshot_on_the_ticket_and_no_clients_table_is_written(desk, ctx):
    received = datetime(2026, 11, 27, 2, 3, 4, tzinfo=timezone.utc)
    mail = store_mail(compose(), ctx, received=received)

    ticket = desk.tickets.get(mail.ticket.number)
    assert ticket.client == Party("Ann Client", ANN_ADDRESS)
    assert ticket.client_first_seen == received
    assert "clients" not in {t.name for t in desk.connection.table_service.list_tables()}


# --- Table Storage limits -------------------------------------------------------------------------


def test_a_body_of_emoji_under_the_inline_limit_is_stored(desk, ctx):
    body = "\U0001F525" * 20_000
    mail = store_mail(compose(body=body), ctx)

    [entry] = desk.tickets.entries(mail.ticket.number)
    assert entry.body_text.strip() == body


JAPANESE_SCANS = [(f"御見積書_株式会社コントソ東京本社_第一営業部_2026年11月27日受領分_{i:02d}.pdf", "application/pdf",
                   f"%PDF-1.4 scan {i}".encode()) for i in range(50)]


def test_many_attachments_with_long_names_are_stored(desk, ctx):
    mail = run_rules_before(ticket_or_message, inbound(compose(attachments=JAPANESE_SCANS)), ctx)
    assert len(json.dumps([a.__dict__ for a in mail.attachments])) > 32_768  # the premise

    ticket_or_message(mail, ctx)

    [entry] = desk.tickets.entries(mail.ticket.number)
    assert [a.name for a in entry.attachments] == [name for name, _, _ in JAPANESE_SCANS]


def test_a_value_that_storage_would_refuse_fails_before_the_first_write(desk, ctx):
    """Rule 6 checks the ticket, the entry and the notifications before it claims or writes
    anything. (Rule 0 clips every value so that this cannot happen; here it is skipped to
    prove the order: on a failure nothing is stored and no claim is left at "claimed".)"""
    from shared_code.pipeline import RULES
    from shared_code.pipeline.clipping import clipping

    mail = inbound(compose(message_id=f"<{'m' * 40_000}@example.org>"))
    for rule in RULES[:RULES.index(ticket_or_message)]:
        if rule is not clipping:
            rule(mail, ctx)

    with pytest.raises(ValueError, match="source_key"):
        ticket_or_message(mail, ctx)

    assert ctx.index.get(mail.key) is None
    assert desk.tickets.list() == []
