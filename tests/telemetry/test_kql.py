"""The KQL-subset evaluator the alert tests rely on: KQL's null rules, summarize over
nothing, and a loud failure on anything outside the subset."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from .kql import evaluate

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


def _row(minutes_ago: int, **dims) -> dict:
    return {"name": "e", "timestamp": NOW - timedelta(minutes=minutes_ago),
            "customDimensions": {k: str(v) for k, v in dims.items()}}


def test_where_extend_summarize_project():
    rows = [_row(1, a="x", n=2, ok="true"), _row(2, a="x", n=3, ok="false"), _row(70, a="y", n=5)]
    query = """customEvents
| where timestamp > ago(1h)
| extend a = tostring(customDimensions.a), n = toint(customDimensions.n), ok = tobool(customDimensions.ok)
| summarize total = sum(n), runs = count(), good = countif(ok), last_ok = maxif(timestamp, ok) by a
| project a, total, runs, good, last_ok"""
    assert evaluate(query, {"customEvents": rows}, NOW) == [
        {"a": "x", "total": 5, "runs": 2, "good": 1, "last_ok": NOW - timedelta(minutes=1)}]


def test_nulls_compare_false_and_summarize_over_nothing_gives_one_row():
    rows = [_row(1, a="x")]
    query = """customEvents
| extend missing = toint(customDimensions.nothing), text = tostring(customDimensions.nothing)
| where missing > 0 or missing < 0 or missing == 0 or text != \"\""""
    assert evaluate(query, {"customEvents": rows}, NOW) == []
    query = "customEvents\n| where name == \"other\"\n| summarize runs = count(), last = max(timestamp)"
    [row] = evaluate(query, {"customEvents": rows}, NOW)
    assert row["runs"] == 0 and not row["last"]


@pytest.mark.parametrize("query", [
    "customEvents\n| take 5",
    "customEvents\n| summarize p = percentile(timestamp, 50)",
    "customEvents\n| where Name == \"e\"",
    "requests\n| where success == false",
    "customEvents\n| where bin(timestamp, 1h) > ago(1h)",
])
def test_anything_outside_the_subset_raises(query):
    with pytest.raises((ValueError, KeyError)):
        evaluate(query, {"customEvents": [_row(1)]}, NOW)
