"""Rule 2a (pipeline/filters.py) on the in-memory ports: what it decides, what it leaves to
later rules, and that it neither reaches our own mail nor re-decides a resumed claim."""
from __future__ import annotations

from dataclasses import replace

from shared_code.domain.filters import Action, Condition, Filter, FilterAction, FilterField, FilterOperator
from shared_code.domain.telemetry import DiscardRule
from shared_code.pipeline import run_pipeline
from tests.pipeline import compose, inbound

from ..conftest import SUPPORT


def _filter(name, actions, field=FilterField.SUBJECT, value="alert", position=1):
    return Filter(name, [Condition(field, FilterOperator.CONTAINS, value)], actions,
                  position=position)


def test_a_discard_names_the_filter_and_its_reason(ctx):
    ctx = replace(ctx, filters=[_filter("Noise", [Action(FilterAction.DISCARD, "noise")])])
    mail = run_pipeline(inbound(compose(subject="An alert")), ctx)
    assert (mail.outcome, mail.discard_rule, mail.rule) == ("discarded", DiscardRule.FILTER,
                                                           "filter:Noise")
    assert mail.reason == "discarded by filter 'Noise': noise"
    assert ctx.tickets.list() == []


def test_our_own_mail_never_reaches_a_filter(ctx):
    ctx = replace(ctx, filters=[_filter("Allow", [Action(FilterAction.ALLOW_AUTO_GENERATED)],
                                        FilterField.SENDER, SUPPORT)])
    mail = run_pipeline(inbound(compose(sender=f"Support <{SUPPORT}>",
                                        headers={"Auto-Submitted": "auto-generated"})), ctx)
    assert mail.outcome == "discarded" and mail.filtered is None  # a spoof, stopped by rule 2


def test_without_an_allowing_filter_an_auto_generated_mail_is_still_dropped(ctx):
    ctx = replace(ctx, filters=[_filter("Tag", [Action(FilterAction.ADD_TAG, "x")])])
    mail = run_pipeline(inbound(compose(subject="alert", headers={"Auto-Submitted": "auto-generated"})), ctx)
    assert (mail.outcome, mail.discard_rule) == ("discarded", DiscardRule.AUTO_REPLY)


def test_a_resumed_claim_is_not_discarded_again_but_keeps_the_settings(ctx):
    raw = compose(subject="An alert")
    first = run_pipeline(inbound(raw), ctx)
    assert first.outcome == "created"
    # a filter added afterwards: the mail replayed with its claim finishes, never discarded
    ctx = replace(ctx, filters=[_filter("Noise", [Action(FilterAction.DISCARD, "noise"),
                                                  Action(FilterAction.ADD_TAG, "late")])])
    again = inbound(raw)
    again.claim = ctx.index.get(first.key)
    again.key, again.resumed = first.key, True
    run_pipeline(again, ctx)
    assert again.outcome != "discarded" and again.filtered.discard == "noise"
