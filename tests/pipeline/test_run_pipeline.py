"""run_pipeline: the rules in order, stopping at the first that decides the mail's fate,
the mail stored in one transaction (its marker says so) and its notifications queued."""
from __future__ import annotations

import pytest

from shared_code.adapters.names import ATTACHMENTS
from shared_code.adapters.names import OUTBOUND_MAIL
from shared_code.pipeline import RULES, run_pipeline

from tests.fakes.exchange import sent_inside

from . import (
    SALES,
    SUPPORT,
    SimulatedCrash,
    compose,
    crash_at,
    inbound,
    make_ctx,
    queued_notifications,
    support_account,
)

PDF = ("report.pdf", "application/pdf", b"%PDF-1.4 report")


def _nothing_stored(desk, mail) -> None:
    assert mail.thread is None and mail.content is None and mail.ticket is None
    assert mail.notifications == []
    assert desk.tickets.list() == []
    assert desk.queues.peek_all(OUTBOUND_MAIL) == []
    assert desk.blobs.names(ATTACHMENTS) == []


def test_the_rules_run_in_the_documented_order():
    assert [rule.__name__ for rule in RULES] == [
        "clipping", "already_seen", "from_ourselves", "filters", "bounce", "auto_reply",
        "thread_match", "content", "ticket_or_message", "notifications",
    ]


def test_a_new_mail_runs_every_rule_and_is_marked_stored_in_its_ticket(desk, ctx):
    mail = run_pipeline(inbound(compose(attachments=[PDF])), ctx)

    assert mail.outcome == "created"
    row = ctx.index.get(mail.key)
    assert (row["direction"], row["ticket"]) == ("inbound", mail.ticket.number)
    assert desk.tickets.marker(mail.ticket.number, mail.key)["entry_id"] == mail.entry.entry_id
    assert [t.number for t in desk.tickets.list()] == [mail.ticket.number]
    assert desk.blobs.names(ATTACHMENTS) != []
    assert sorted(n["template"] for n in queued_notifications(desk)) == [
        "new_ticket_alert", "new_ticket_auto_response"]


def test_a_reply_is_threaded_to_the_ticket_of_its_parent(desk, ctx):
    first = run_pipeline(inbound(compose(message_id="<first@example.org>")), ctx)

    reply = run_pipeline(inbound(compose(subject="Re: Printer on fire", in_reply_to="<first@example.org>")), ctx)

    assert (reply.outcome, reply.ticket.number) == ("threaded", first.ticket.number)
    row = ctx.index.get(reply.key)  # its claim is its index row: nothing written after
    assert (row["state"], row["new_ticket"], row["ticket"]) == ("claimed", False, first.ticket.number)
    assert ctx.index.ticket_of(reply.key) == first.ticket.number  # replies to the reply thread too
    later = run_pipeline(inbound(compose(subject="Re: Re: Printer on fire",
                                         in_reply_to=f"<{reply.key}>")), ctx)
    assert (later.outcome, later.ticket.number) == ("threaded", first.ticket.number)


def test_a_duplicate_that_may_be_a_reply_is_found_by_its_claim(desk, ctx):
    """No read at rule 1: the claim of rule 6 (409) finds it; no ticket, nothing queued."""
    ctx.index.record("seen@example.org", "482913", "inbound")

    mail = run_pipeline(inbound(compose(message_id="<seen@example.org>", attachments=[PDF],
                                        in_reply_to="<earlier@example.org>")), ctx)

    assert mail.outcome == "duplicate" and mail.ticket is None
    assert desk.tickets.list() == [] and desk.queues.peek_all(OUTBOUND_MAIL) == []
    assert ctx.index.get("seen@example.org")["ticket"] == "482913"


def test_a_duplicate_new_mail_is_found_by_its_claim_and_stores_nothing(desk, ctx):
    raw = compose(message_id="<once-more@example.org>")
    first = run_pipeline(inbound(raw, graph_id="AAMk-1"), ctx)

    again = run_pipeline(inbound(raw, account=support_account(address=SALES), graph_id="AAMk-2"), ctx)

    assert again.outcome == "duplicate" and f"#{first.ticket.number}" in again.reason
    assert len(desk.tickets.list()) == 1 and len(desk.tickets.entries(first.ticket.number)) == 1
    assert len(queued_notifications(desk)) == 2


def test_a_mail_processed_to_the_end_is_a_duplicate_the_next_time(desk, ctx):
    raw = compose(message_id="<once@example.org>")
    run_pipeline(inbound(raw), ctx)

    again = run_pipeline(inbound(raw), ctx)

    assert again.outcome == "duplicate"
    assert len(desk.tickets.list()) == 1
    assert len(queued_notifications(desk)) == 2


def test_mail_from_ourselves_stops_at_rule_2(desk, ctx):
    mail = run_pipeline(inbound(sent_inside(compose(sender=SUPPORT, attachments=[PDF]))), ctx)

    assert mail.outcome == "ignored"
    _nothing_stored(desk, mail)
    assert ctx.index.get(mail.key) is None  # nothing claimed


def test_an_auto_reply_stops_at_rule_3(desk, ctx):
    raw = compose(subject="Automatic reply: Printer", headers={"Auto-Submitted": "auto-replied"},
                  attachments=[PDF])

    mail = run_pipeline(inbound(raw), ctx)

    assert mail.outcome == "discarded"
    assert "auto-submitted" in mail.reason
    _nothing_stored(desk, mail)
    assert ctx.index.get(mail.key) is None


@pytest.mark.parametrize("step", ["claimed", "ticket_written", "notification_enqueued"])
def test_a_crash_at_any_write_boundary_is_finished_by_the_replay(desk, step):
    """After the claim, after the transaction, after the enqueue: the replay (the same Graph
    id, the ledger not finished) stores the mail once and queues its notifications."""
    raw = compose(message_id="<interrupted@example.org>")
    with pytest.raises(SimulatedCrash):
        run_pipeline(inbound(raw, graph_id="AAMk-1"), make_ctx(desk, checkpoint=crash_at(step)))
    assert desk.index.get("interrupted@example.org")["state"] == "claimed"

    replay = run_pipeline(inbound(raw, graph_id="AAMk-1"), make_ctx(desk))

    assert replay.outcome == "created"
    [ticket] = desk.tickets.list()
    assert desk.tickets.marker(ticket.number, "interrupted@example.org") is not None
    assert ticket.message_count == 1 and len(desk.tickets.entries(ticket.number)) == 1
    queued = queued_notifications(desk)
    assert sorted({n["template"] for n in queued}) == ["new_ticket_alert", "new_ticket_auto_response"]
    assert len(queued) == (4 if step == "notification_enqueued" else 2)  # the sender dedups by id


def test_a_replay_of_an_auto_reply_looking_mail_is_finished_not_discarded(desk):
    """Claimed in an earlier run (e.g. its sender was allow-listed then), it must be completed."""
    raw = compose(message_id="<monitor@example.org>", headers={"Auto-Submitted": "auto-generated"})
    desk.index.claim("monitor@example.org", {
        "ticket": "482913", "entry_id": "20261127T020304000001Z-ab12cd34ef56", "new_ticket": True,
        "matched_by": "", "graph_id": "AAMk-1", "account": SUPPORT, "direction": "inbound"})

    mail = run_pipeline(inbound(raw), make_ctx(desk))

    assert (mail.outcome, mail.ticket.number) == ("created", "482913")
    assert desk.tickets.marker("482913", "monitor@example.org") is not None
