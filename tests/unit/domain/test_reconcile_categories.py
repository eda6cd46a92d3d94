"""domain/reconcile.py: which category a mail of the folder lands in, on a fixed clock."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from shared_code.domain.reconcile import (
    FetchReach,
    MailCategory,
    classify,
    day_bounds,
    discard_rule,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
REACH = FetchReach(window_start=NOW - timedelta(days=2), listed_from=NOW - timedelta(minutes=10),
                   now=NOW, time_budget=timedelta(seconds=240))
EARLY = NOW - timedelta(hours=1)


@pytest.mark.parametrize("outcome,category", [
    ("created", MailCategory.INGESTED), ("threaded", MailCategory.INGESTED),
    ("discarded", MailCategory.DISCARDED), ("duplicate", MailCategory.DUPLICATE),
    ("ignored", MailCategory.IGNORED), ("quarantined", MailCategory.QUARANTINED),
    ("vanished", MailCategory.UNACCOUNTED)])  # finished as gone, yet in the folder
def test_finished_rows_by_outcome(outcome, category):
    for state in ("processed", "done"):
        assert classify({"state": state, "outcome": outcome}, EARLY, EARLY, REACH) is category


def test_an_attempt_is_in_progress_within_the_time_budget_then_awaits_its_retry():
    row = {"state": "attempting", "attempts": 1}
    assert classify({**row, "updated": NOW - timedelta(seconds=240)}, EARLY, EARLY,
                    REACH) is MailCategory.IN_PROGRESS
    assert classify({**row, "updated": NOW - timedelta(seconds=241)}, EARLY, EARLY,
                    REACH) is MailCategory.AWAITING_RETRY
    assert classify({"state": "raw_saved"}, EARLY, EARLY, REACH) is MailCategory.AWAITING_RETRY


def test_mail_without_a_row():
    assert classify({}, EARLY, EARLY, REACH) is MailCategory.UNACCOUNTED
    # changed since the watermark less the overlap (opened, moved in): the next run takes it
    assert classify(None, EARLY, NOW - timedelta(minutes=10), REACH) is MailCategory.WAITING
    assert classify({}, EARLY, None, REACH) is MailCategory.UNACCOUNTED
    never_fetched = FetchReach(REACH.window_start, None, NOW, REACH.time_budget)
    assert classify({}, EARLY, EARLY, never_fetched) is MailCategory.WAITING
    old = REACH.window_start - timedelta(seconds=1)
    assert classify({}, old, old, REACH) is MailCategory.BEFORE_ACCOUNT
    assert [c for c in MailCategory if c.alerts] == [MailCategory.UNACCOUNTED]


def test_the_discarding_rule_from_the_row_or_an_older_rows_reason():
    assert discard_rule({"rule": "helpdesk-spoof", "reason": "x (rule: other)"}) == "helpdesk-spoof"
    assert discard_rule({"reason": "auto-reply or bounce (rule: x-autoreply)"}) == "x-autoreply"
    assert discard_rule({"reason": "no sender"}) == ""


def test_day_bounds_are_one_utc_day():
    start, end = day_bounds(date(2026, 11, 27))
    assert (start, end - start) == (datetime(2026, 11, 27, tzinfo=timezone.utc), timedelta(days=1))
