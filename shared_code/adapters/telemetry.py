"""Telemetry to Application Insights as `customEvents` rows with named `customDimensions`.

Each record (domain/telemetry.py) is one log record on the `deskmail.telemetry` logger,
carrying the attribute `microsoft.custom_event.name` and one attribute per dimension. The
Azure Monitor OpenTelemetry exporter turns such a record into a customEvents row (name from
that attribute, the other attributes as customDimensions, values as strings, plus
`logger_name`); without the exporter the line still reaches the Functions log (traces) with
the dimensions as JSON.

The exporter (the `azure-monitor-opentelemetry` distro) is attached to that one logger on the
first event of a process, where APPLICATIONINSIGHTS_CONNECTION_STRING is set, with the managed
identity where APPLICATIONINSIGHTS_AUTHENTICATION_STRING asks for Entra ID (the component
refuses keys, infra/modules/monitoring.bicep). Nothing is imported before that, so importing
this module (and function_app) loads no SDK.
"""
from __future__ import annotations

import json
import logging
import os
import threading

from ..domain.telemetry import CUSTOM_EVENT_ATTRIBUTE

LOGGER_NAME = "deskmail.telemetry"
#: the distro's automatic instrumentations, all off: the app sends only its own events (the
#: Functions host already records executions as requests and failures as exceptions)
_INSTRUMENTATIONS = ("azure_sdk", "django", "fastapi", "flask", "psycopg2", "requests",
                     "urllib", "urllib3")

#: both default to on in the distro (1.8): performance counters send a dozen MetricData
#: envelopes (customMetrics/performanceCounters) every minute, live metrics polls its own
#: endpoint. What remains is the app's events and the exporter's own item counts ("SDK
#: stats", docs/operations.md); tests/telemetry/test_exporter.py checks that on the wire
_QUIET = {"enable_performance_counters": False, "enable_live_metrics": False}

log = logging.getLogger("deskmail.telemetry.setup")
_lock = threading.Lock()
_exporter_state: str | None = None


def exporter_state() -> str:
    """How events leave this process (configured once): `exporter`, or why only the log."""
    global _exporter_state
    with _lock:
        if _exporter_state is None:
            _exporter_state = _configure()
        return _exporter_state


def _configure() -> str:
    logging.getLogger(LOGGER_NAME).setLevel(logging.INFO)
    if not os.environ.get("APPLICATIONINSIGHTS_CONNECTION_STRING"):
        return "log only: APPLICATIONINSIGHTS_CONNECTION_STRING is not set"
    try:
        from azure.monitor.opentelemetry import configure_azure_monitor
    except ImportError:
        log.warning("azure-monitor-opentelemetry is not installed: deskmail's telemetry events "
                    "reach the Functions log only, not customEvents (docs/operations.md)")
        return "log only: azure-monitor-opentelemetry is not installed"
    options = {"logger_name": LOGGER_NAME, "instrumentation_options": {
        name: {"enabled": False} for name in _INSTRUMENTATIONS}, **_QUIET}
    auth = os.environ.get("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", "")
    if "Authorization=AAD" in auth:
        from azure.identity import ManagedIdentityCredential

        client_id = auth.split("ClientId=", 1)[1].split(";")[0] if "ClientId=" in auth else None
        options["credential"] = ManagedIdentityCredential(client_id=client_id)
    configure_azure_monitor(**options)
    return "exporter"


class AppInsightsTelemetry:
    """The Telemetry port (shared_code/ports.py) on the `deskmail.telemetry` logger."""

    def __init__(self) -> None:
        self._log = logging.getLogger(LOGGER_NAME)

    def emit(self, record) -> None:
        try:
            exporter_state()
            name, dimensions = record.EVENT.value, record.dimensions()
            self._log.info("%s %s", name, json.dumps(dimensions, sort_keys=True),
                           extra={CUSTOM_EVENT_ATTRIBUTE: name, **dimensions})
        except Exception:  # telemetry must never fail the work it reports
            log.exception("could not send a telemetry event")


def reset_exporter_state() -> None:
    """Forget the configuration (tests that change the environment)."""
    global _exporter_state
    with _lock:
        _exporter_state = None
