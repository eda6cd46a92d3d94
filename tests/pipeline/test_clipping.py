"""Rule 0, clipping: values cut to the limits before any rule reads them; no sender, no ticket."""
from __future__ import annotations

from shared_code.domain.limits import CLIP_MARKER
from shared_code.pipeline import run_pipeline
from shared_code.pipeline.clipping import NO_SENDER, clipping

from . import ANN_ADDRESS, compose, inbound


def test_a_mail_without_a_sender_is_discarded_before_anything_is_written(desk, ctx):
    mail = run_pipeline(inbound(compose(sender=None)), ctx)

    assert (mail.outcome, mail.reason) == ("discarded", NO_SENDER)
    assert mail.claim is None and desk.tickets.list() == []


def test_an_overlong_sender_address_is_no_sender(ctx):
    mail = inbound(compose(sender=f"Ann <{'a' * 300}@example.org>"))

    clipping(mail, ctx)

    assert mail.outcome == "discarded" and mail.parsed.from_address == ""
    assert mail.rule == "no-sender"
    assert any("unusable From address" in defect for defect in mail.parsed.defects)


def test_the_stored_entry_names_what_was_clipped(desk, ctx):
    mail = run_pipeline(inbound(compose(sender=f"{'N' * 5_000} <{ANN_ADDRESS}>",
                                        subject="S" * 5_000)), ctx)

    assert mail.outcome == "created"
    [entry] = desk.tickets.entries(mail.ticket.number)
    assert entry.clipped == ["sender.name", "subject"]
    assert entry.sender.name.endswith(CLIP_MARKER) and entry.subject.endswith(CLIP_MARKER)
    assert desk.tickets.get(mail.ticket.number).client.name == entry.sender.name
