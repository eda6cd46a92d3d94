"""Telemetry in the fast tier: the records and their dimensions, the fetch summary's event,
and the pipeline's spoof and discard bookkeeping on the in-memory Telemetry port."""
from __future__ import annotations

import json

from shared_code.domain.telemetry import (
    RECORDS, DiscardRule, Event, FetchOutcome, Quarantine, SpoofKind, error_type,
)
from shared_code.pipeline import RULES
from shared_code.pipeline.auto_reply import auto_reply
from shared_code.pipeline.from_ourselves import from_ourselves
from shared_code.services.fetch import FetchSummary
from tests.pipeline import compose, inbound

from . import memory
from .conftest import SUPPORT


def _through(rule, mail, ctx):
    for earlier in RULES[:RULES.index(rule) + 1]:
        earlier(mail, ctx)
    return mail


def test_every_event_has_one_record_and_dimensions_are_strings():
    assert sorted(r.EVENT for r in RECORDS) == sorted(Event)
    dims = Quarantine(SUPPORT, 3, "GraphError", again=True).dimensions()
    assert dims == {"account": SUPPORT, "attempts": "3", "error_type": "GraphError",
                    "again": "true"}


def test_the_fetch_summary_counts_discards_by_rule_and_becomes_one_event():
    summary = FetchSummary(address=SUPPORT)
    for outcome, rule in (("discarded", "auto_reply"), ("discarded", "auto_reply"),
                          ("discarded", ""), ("created", ""), ("duplicate", "")):
        summary.count(outcome, rule)
    summary.errors.append("GraphError: Graph HTTP 401 for mail <x@example.org>")

    dims = summary.telemetry(FetchOutcome.FAILED, 1234).dimensions()

    assert json.loads(dims["discarded_by_rule"]) == {"auto_reply": 2, "other": 1}
    assert (dims["discarded"], dims["tickets_created"], dims["duplicates"]) == ("3", "1", "1")
    assert (dims["outcome"], dims["duration_ms"], dims["errors"]) == ("failed", "1234", "1")
    assert dims["error_type"] == "GraphError"
    assert summary.telemetry(FetchOutcome.SUCCESS, 5).dimensions()["error_type"] == ""


def test_error_type_keeps_a_class_name_and_never_the_text():
    assert error_type("GraphError: Graph HTTP 500 on mail <a@example.org>") == "GraphError"
    assert error_type("mail <a@example.org> from Ann: boom") == "Error"
    assert error_type("azure.core.exceptions.ResourceNotFoundError: x") == \
        "azure.core.exceptions.ResourceNotFoundError"


def test_a_forged_own_address_is_one_spoof_event_and_a_discard_by_rule(ctx):
    ctx.telemetry = memory.MemoryTelemetry()
    mail = _through(from_ourselves, inbound(compose(sender=f"Support <{SUPPORT}>")), ctx)

    assert (mail.outcome, mail.discard_rule) == ("discarded", DiscardRule.SPOOFED_HELPDESK)
    [spoof] = ctx.telemetry.named(Event.SPOOF_REJECTED)
    assert (spoof.account, spoof.kind, spoof.handling) == (SUPPORT, SpoofKind.HELPDESK,
                                                          "discarded")


def test_an_auto_reply_is_discarded_by_its_rule(ctx):
    mail = _through(auto_reply, inbound(compose(subject="Out of office",
                                                headers={"Auto-Submitted": "auto-replied"})), ctx)

    assert (mail.outcome, mail.discard_rule) == ("discarded", DiscardRule.AUTO_REPLY)
