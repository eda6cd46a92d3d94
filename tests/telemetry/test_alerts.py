"""The alerts of infra/modules/alerts.bicep and the workbook's queries against the telemetry
the app really emits: every event name and dimension a query reads is one domain/telemetry.py
defines; the windows and thresholds are the issue's; and each alert's KQL, evaluated
(tests/telemetry/kql.py) over the customEvents rows of real fetch runs and timer runs on
Azurite and the fakes, fires exactly when it should, as time moves on."""
from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from shared_code.adapters.names import OUTBOUND_POISON
from shared_code.domain.telemetry import RECORDS, Event
from shared_code.services.fetch import enqueue_fetch_jobs, fetch_all
from tests.infra import bicep as t
from tests.integration.helpers import SUPPORT, make_mail

from .kql import evaluate, lines, timestamped

RULE = "Microsoft.Insights/scheduledQueryRules"
WORKBOOK = t.INFRA / "workbook" / "deskmail.workbook.json"
DIMENSIONS = {record.EVENT.value: set(record.dimension_names()) for record in RECORDS}
MINUTE = timedelta(minutes=1)


def _rules() -> dict[str, dict]:
    return {rule.symbol: rule.properties for rule in t.resources(RULE)}


def _query(rule: dict) -> str:
    """The KQL a rule loads with loadTextContent (relative to infra/modules/)."""
    [criterion] = rule["criteria"]["allOf"]
    load = criterion["query"]["function"]
    assert load["type"] == "load_text_content"
    return (t.INFRA / "modules" / load["parameters"]["file_path"]).resolve().read_text()


def _alert(name: str) -> str:
    return (t.INFRA / "alerts" / name).read_text()


def _workbook_queries() -> dict[str, str]:
    items = json.loads(WORKBOOK.read_text())["items"]
    return {item["name"]: item["content"]["query"] for item in items if item["type"] == 3}


def _minutes(duration: str) -> int:
    match = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?", duration)
    assert match, duration
    return int(match.group(1) or 0) * 60 + int(match.group(2) or 0)


def _ago_minutes(query: str) -> list[int]:
    factor = {"m": 1, "h": 60, "d": 1440}
    return [int(n) * factor[unit] for n, unit in re.findall(r"ago\((\d+)([mhd])\)", query)]


# ---------------------------------------------------------------- structure


def _all_queries() -> dict[str, str]:
    queries = {f"alert {name}": _query(rule) for name, rule in _rules().items()}
    queries.update({f"workbook {name}": q for name, q in _workbook_queries().items()})
    return queries


def test_every_query_reads_only_events_and_dimensions_the_app_emits():
    queries = _all_queries()
    assert len(queries) >= 4 + 8
    for label, query in queries.items():
        names = set(re.findall(r'name == "([^"]+)"', query))
        used = set(re.findall(r"customDimensions\.(\w+)", query))
        assert names <= set(DIMENSIONS), (label, names)
        if not names:  # the host's own tables (function failures)
            assert not used and lines(query)[0].split()[0] == "union", label
            assert "(requests" in query and "(exceptions" in query, label
            continue
        known = set().union(*(DIMENSIONS[n] for n in names))
        assert used <= known, (label, used - known)


def test_the_workbook_shows_what_the_issue_lists():
    queries = _workbook_queries()
    everything = "\n".join(queries.values())
    for event in Event:
        assert f'name == "{event.value}"' in everything, event
    for dimension in ("tickets_created", "fetched", "discarded_by_rule", "error_code", "depth"):
        assert f"customDimensions.{dimension}" in everything, dimension
    assert "maxif(timestamp, outcome == \"success\")" in queries["last-fetch"]
    [workbook] = t.resources("Microsoft.Insights/workbooks")
    data = workbook.properties["serializedData"]["function"]
    assert data["type"] == "replace"
    assert data["parameters"]["original_string"]["function"]["parameters"]["file_path"] == \
        "../workbook/deskmail.workbook.json"
    assert "__APPLICATION_INSIGHTS_ID__" in WORKBOOK.read_text()


def test_four_alerts_with_the_issue_s_windows_mail_the_action_group():
    rules = _rules()
    assert set(rules) == {"fetchStale", "poisonQueue", "functionFailures", "appSilent"}
    for name, rule in rules.items():
        [criterion] = rule["criteria"]["allOf"]
        assert (criterion["timeAggregation"], criterion["operator"], criterion["threshold"]) \
            == ("Count", "GreaterThan", 0), name  # any row the query returns is an alert
        assert rule["enabled"] is True and rule["autoMitigate"] is True
        assert rule["evaluationFrequency"] == "PT5M", name
        assert rule["scopes"][0]["operator"]["operands"]["operand_1"] == "applicationInsights"
        [group] = rule["actions"]["actionGroups"]
        assert group["operator"]["operands"]["operand_1"] == "actionGroup"
        # the window covers everything the query looks back on
        assert _minutes(rule["windowSize"]) >= max(_ago_minutes(_query(rule))), name
    assert "last_success < ago(5m)" in _query(rules["fetchStale"])
    assert _minutes(rules["appSilent"]["windowSize"]) == 10
    assert "ago(10m)" in _query(rules["appSilent"])
    [group] = t.resources("Microsoft.Insights/actionGroups")
    receivers = group.properties["emailReceivers"]
    loop = receivers["loop_type"]["detail"]
    assert (loop["array_name"], receivers["config"]["emailAddress"]) == (
        "alertEmailRecipients", loop["item_name"])  # one receiver per address of the parameter
    module = t.parse(t.INFRA / "modules" / "alerts.bicep")["parameters"]["alertEmailRecipients"]
    assert (module["type"], module["default"]) == ("array", [])
    main = t.parse(t.MAIN)
    assert "alertEmailRecipients" in main["parameters"]
    assert main["parameters"]["alertEmailRecipients"]["type"] == "array"


def test_each_rule_splits_by_a_column_its_query_returns(desk, graph, events):
    graph.add_message(SUPPORT, make_mail()[0])
    fetch_all(desk)
    desk.queues.send(OUTBOUND_POISON, {"id": "n1"})
    enqueue_fetch_jobs(desk)
    rows, t0 = events.rows, events.rows[-1]["timestamp"]
    firing_at = {"fetchStale": t0 + 6 * MINUTE, "poisonQueue": t0 + MINUTE,
                 "appSilent": t0 + 11 * MINUTE}
    for name, rule in _rules().items():
        if name == "functionFailures":
            continue  # the host's tables
        [criterion] = rule["criteria"]["allOf"]
        split = {d["name"] for d in criterion.get("dimensions") or []}
        result = evaluate(_query(rule), {"customEvents": rows}, firing_at[name])
        assert result, name
        assert split <= set(result[0]), (name, split, result[0])


# ---------------------------------------------------------------- evaluated on real telemetry


@pytest.fixture
def fetched(desk, graph, events) -> list[dict]:
    """The customEvents rows of one successful fetch run of support@ (a new ticket)."""
    graph.add_message(SUPPORT, make_mail()[0])
    fetch_all(desk)
    rows = events.named(Event.FETCH_RUN)
    assert [r["customDimensions"]["outcome"] for r in rows] == ["success"]
    events.rows.clear()
    return rows


def test_stale_fetch_fires_for_the_account_after_5_minutes_without_success(desk, graph,
                                                                          events, fetched):
    query = _alert("fetch-stale.kql")
    t0 = fetched[0]["timestamp"]
    assert evaluate(query, {"customEvents": fetched}, t0 + MINUTE) == []
    assert evaluate(query, {"customEvents": fetched}, t0 + 4 * MINUTE) == []

    graph.fail_next(503, count=5, path_contains="mailFolders")  # the next run fails
    fetch_all(desk)
    failed = events.named(Event.FETCH_RUN)
    assert [r["customDimensions"]["outcome"] for r in failed] == ["failed"]

    later = fetched + timestamped(failed, t0 + 6 * MINUTE)
    [row] = evaluate(query, {"customEvents": later}, t0 + 6 * MINUTE)
    assert row["account"] == SUPPORT and row["last_success"] == t0
    # it recovers with the next successful run
    recovered = later + timestamped(fetched, t0 + 7 * MINUTE)
    assert evaluate(query, {"customEvents": recovered}, t0 + 7 * MINUTE) == []
    # an account that never succeeded (within the hour) counts as stale
    assert [r["account"] for r in evaluate(query, {"customEvents": timestamped(
        failed, t0)}, t0 + MINUTE)] == [SUPPORT]


def test_app_silent_fires_after_10_minutes_without_any_fetch_run(fetched):
    query = _alert("app-silent.kql")
    t0 = fetched[0]["timestamp"]
    assert evaluate(query, {"customEvents": fetched}, t0 + 9 * MINUTE) == []
    assert evaluate(query, {"customEvents": fetched}, t0 + 11 * MINUTE) == [{"runs": 0}]
    assert evaluate(query, {"customEvents": []}, t0) == [{"runs": 0}]


def test_poison_alert_fires_for_the_poison_queue_holding_a_message(desk, events):
    query = _alert("poison-queue.kql")
    enqueue_fetch_jobs(desk)
    clean = list(events.rows)
    now = clean[-1]["timestamp"]
    assert evaluate(query, {"customEvents": clean}, now) == []

    events.rows.clear()
    desk.queues.send(OUTBOUND_POISON, {"id": "n1"})
    enqueue_fetch_jobs(desk)

    assert evaluate(query, {"customEvents": events.rows}, now) == [
        {"queue": OUTBOUND_POISON, "depth": 1}]
    # depths older than the window do not count
    assert evaluate(query, {"customEvents": events.rows}, now + 11 * MINUTE) == []


def test_the_host_samples_no_request_or_exception_the_failure_alert_counts():
    host = json.loads((t.ROOT / "host.json").read_text())
    sampling = host["logging"]["applicationInsights"]["samplingSettings"]
    assert {"Request", "Exception"} <= set(sampling["excludedTypes"].split(";"))
