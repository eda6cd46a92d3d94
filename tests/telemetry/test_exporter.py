"""The app's events really leave the process as customEvents: the real Azure Monitor distro
(azure-monitor-opentelemetry, configured by shared_code/adapters/telemetry.py) sends them to a
TLS fake of the ingestion endpoint (tests/fakes/appinsights.py), in a child process because
the distro installs process-global OpenTelemetry providers.

The connection string has no Entra ID (Authorization=AAD): the app's credential there is the
managed identity, which has no endpoint outside Azure; the envelopes are the same either way,
only the bearer token differs. Live metrics' endpoint is the fake too, so a ping would show up.
Statsbeat (the SDK's usage telemetry to Microsoft's own component, not to ours) and the
control-plane settings fetch are switched off in the child: both go to Microsoft hosts.
"""
from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import uuid

import pytest
import requests

from shared_code.adapters.telemetry import LOGGER_NAME, AppInsightsTelemetry, reset_exporter_state
from tests.conftest import REPO_ROOT
from tests.fakes.appinsights import TRACK_PATH, FakeAppInsights

from .exporter_child import RECORDS
from .rows import CustomEvents

#: the metrics of the exporter's "SDK stats" (its own item counts, to the app's component)
SDK_STATS = {"Item_Success_Count", "Item_Dropped_Count", "Item_Retry_Count"}


@pytest.fixture(scope="module")
def appinsights(cloud):
    fake = FakeAppInsights(cloud.tls.server_context()).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def exported(appinsights, cloud, tmp_path_factory):
    """Run the child once; `(ikey, its JSON line, the fake)` once it has exited."""
    appinsights.reset()
    ikey = str(uuid.uuid4())
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("APPLICATIONINSIGHTS_", "OTEL_"))}
    env.update(cloud.ca_env, PYTHONPATH=str(REPO_ROOT),
               TMPDIR=str(tmp_path_factory.mktemp("exporter")),  # the exporter's retry files
               APPLICATIONINSIGHTS_CONNECTION_STRING=(
                   appinsights.connection_string(ikey) + f";LiveEndpoint={appinsights.base_url}/"),
               APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL="true",
               APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED="true")
    # the timeout only guards against a hang; the child's exit is the event waited for
    child = subprocess.run([sys.executable, "-m", "tests.telemetry.exporter_child"], env=env,
                           cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, child.stderr
    result = json.loads(child.stdout.strip().splitlines()[-1])
    assert result == {"state": "exporter", "flushed": True}, child.stderr
    assert not appinsights.errors, appinsights.errors
    return ikey, child, appinsights


def _events(fake: FakeAppInsights) -> list[dict]:
    return [e for e in fake.envelopes if e["data"]["baseType"] == "EventData"]


def test_each_record_arrives_as_one_event_with_its_dimensions(exported):
    ikey, child, fake = exported

    events = _events(fake)

    assert [e["data"]["baseData"]["name"] for e in events] == [
        r.EVENT.value for r in RECORDS], child.stderr
    for envelope, record in zip(events, RECORDS):
        assert envelope["name"] == "Microsoft.ApplicationInsights.Event"
        assert envelope["iKey"] == ikey
        data = envelope["data"]["baseData"]
        # customDimensions: the record's dimensions as strings, plus the exporter's logger_name
        assert data["properties"] == {**record.dimensions(), "logger_name": LOGGER_NAME}
        assert all(isinstance(v, str) for v in data["properties"].values())
        assert data["measurements"] == {}
    fetch_run = events[0]["data"]["baseData"]["properties"]
    assert (fetch_run["fetched"], fetch_run["tickets_created"], fetch_run["outcome"]) == (
        "3", "1", "success")
    assert json.loads(fetch_run["discarded_by_rule"]) == {"auto_reply": 1}


def test_the_exporter_sends_nothing_but_the_events_and_its_item_counts(exported):
    _, child, fake = exported

    assert [tuple(r) for r in fake.requests] == [
        ("POST", TRACK_PATH, 200)] * len(fake.requests), fake.requests  # no live metrics ping
    others = [e for e in fake.envelopes if e["data"]["baseType"] != "EventData"]
    # no performance counters, traces, requests or dependencies: only the SDK stats metric
    assert {e["data"]["baseType"] for e in others} <= {"MetricData"}, others
    metrics = [(e["data"]["baseData"]["properties"].get("telemetryType"), m["name"], m["value"])
               for e in others for m in e["data"]["baseData"]["metrics"]]
    assert {name for _, name, _ in metrics} <= SDK_STATS, metrics
    # the exporter counted both events as delivered
    assert ("CUSTOM_EVENT", "Item_Success_Count", len(RECORDS)) in metrics, metrics


def test_the_emulated_rows_of_the_other_tests_match_what_the_exporter_sends(exported,
                                                                            monkeypatch):
    """tests/telemetry/rows.py stands in for the exporter everywhere else; keep it honest."""
    _, _, fake = exported
    monkeypatch.delenv("APPLICATIONINSIGHTS_CONNECTION_STRING", raising=False)
    reset_exporter_state()
    with CustomEvents() as recorder:
        for record in RECORDS:
            AppInsightsTelemetry().emit(record)
    reset_exporter_state()

    assert [(row["name"], row["customDimensions"]) for row in recorder.rows] == [
        (e["data"]["baseData"]["name"], e["data"]["baseData"]["properties"])
        for e in _events(fake)]


@pytest.fixture
def fresh_appinsights(cloud):
    fake = FakeAppInsights(cloud.tls.server_context()).start()
    yield fake
    fake.stop()


def test_the_fake_reads_gzip_and_plain_json_like_the_service(fresh_appinsights, cloud):
    appinsights = fresh_appinsights
    envelope = {"name": "Microsoft.ApplicationInsights.Event", "iKey": "k",
                "data": {"baseType": "EventData", "baseData": {"ver": 2, "name": "x"}}}
    url = appinsights.base_url + TRACK_PATH

    plain = requests.post(url, json=[envelope], verify=cloud.ca_bundle_path, timeout=30)
    zipped = requests.post(url, data=gzip.compress(json.dumps([envelope, envelope]).encode()),
                           headers={"Content-Encoding": "gzip",
                                    "Content-Type": "application/json"},
                           verify=cloud.ca_bundle_path, timeout=30)
    elsewhere = requests.post(appinsights.base_url + "/QuickPulseService.svc/ping", json={},
                              verify=cloud.ca_bundle_path, timeout=30)

    assert plain.json() == {"itemsReceived": 1, "itemsAccepted": 1, "errors": []}
    assert zipped.json() == {"itemsReceived": 2, "itemsAccepted": 2, "errors": []}
    assert elsewhere.status_code == 404
    assert appinsights.envelopes == [envelope] * 3
