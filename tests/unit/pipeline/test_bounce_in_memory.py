"""Rule 3a (pipeline/bounce.py) on the in-memory ports: a bounce of our own mail is a note on
its ticket; a forged token, a missing ticket or an auto-reply writes nothing."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest

from shared_code.domain.model import Party, Priority, Status, Ticket
from shared_code.pipeline import run_pipeline
from tests.pipeline import compose, inbound

from .. import memory

TOKEN = "0123456789abcdef"
OURS = f"dm.123456.{TOKEN}.0123456789abcdef01234567@contoso.example"


@pytest.fixture
def bctx(ctx):
    ctx = replace(ctx, undeliverable=memory.MemoryUndeliverable())
    ctx.tickets.add(Ticket(number="123456", subject="Printer on fire", status=Status.CLOSED,
                           priority=Priority.NORMAL, client=Party("Ann", "ann@example.org"),
                           department="Support", thread_token=TOKEN,
                           created=datetime(2026, 11, 27, tzinfo=timezone.utc)))
    return ctx


def ndr(original: str, status: str = "5.1.1", **headers) -> bytes:
    return compose(subject="Undeliverable: Printer on fire", sender="postmaster@mx.example.org",
                   in_reply_to=f"<{original}>",
                   headers={"X-Failed-Recipients": "ann@example.org", **headers},
                   body=f"Remote Server returned '550 {status} user unknown'")


def test_a_bounce_of_our_mail_is_a_note_and_marks_a_permanent_failure(bctx):
    mail = run_pipeline(inbound(ndr(OURS)), bctx)
    assert (mail.outcome, mail.rule) == ("discarded", "bounce-noted")
    [note] = bctx.tickets.entries("123456")
    assert note.type == "note" and "ann@example.org: status 5.1.1 (permanent)" in note.body_text
    assert bctx.tickets.get("123456").status is Status.CLOSED  # not reopened
    assert bctx.undeliverable.get("ann@example.org")["status"] == "5.1.1"
    assert bctx.queues.queues == {} or all(not q for q in bctx.queues.queues.values())


def test_the_same_bounce_twice_is_one_note(bctx):
    raw = ndr(OURS)
    run_pipeline(inbound(raw), bctx)
    run_pipeline(inbound(raw), bctx)
    assert len(bctx.tickets.entries("123456")) == 1


@pytest.mark.parametrize("original", [OURS.replace(TOKEN, "fedcba9876543210"),
                                      OURS.replace("123456", "654321"), "x@example.net"])
def test_a_forged_unknown_or_foreign_original_writes_nothing(bctx, original):
    mail = run_pipeline(inbound(ndr(original)), bctx)
    assert mail.outcome == "discarded" and mail.rule != "bounce-noted"
    assert bctx.tickets.entries("123456") == [] and bctx.undeliverable.list() == []


def test_an_auto_reply_to_our_mail_is_no_bounce(bctx):
    raw = compose(subject="Out of office", in_reply_to=f"<{OURS}>",
                  headers={"Auto-Submitted": "auto-replied"})
    mail = run_pipeline(inbound(raw), bctx)
    assert (mail.outcome, mail.rule) == ("discarded", "auto-submitted")
    assert bctx.tickets.entries("123456") == []
