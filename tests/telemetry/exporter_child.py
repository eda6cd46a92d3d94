"""The child process of test_exporter.py: the real Azure Monitor distro, configured by the app.

`configure_azure_monitor` installs process-global OpenTelemetry providers (and atexit hooks),
so it runs here, never in the pytest process. The parent sets
APPLICATIONINSIGHTS_CONNECTION_STRING to its fake ingestion endpoint; this emits `RECORDS`
through the app's own adapter, flushes the log pipeline through the public OpenTelemetry API,
prints one JSON line (the adapter's state, whether the flush completed) and exits, which shuts
the providers down (what a Functions worker does when it recycles).
"""
from __future__ import annotations

import json

from shared_code.domain.telemetry import FetchOutcome, FetchRun, Notification

RECORDS = (
    FetchRun(account="support@contoso.example", outcome=FetchOutcome.SUCCESS, fetched=3,
             tickets_created=1, discarded=1, duration_ms=412,
             discarded_by_rule={"auto_reply": 1}),
    Notification(template="ticket_created", outcome="failed", sender="support@contoso.example",
                 error_code="ErrorAccessDenied"),
)


def main() -> None:
    from opentelemetry._logs import get_logger_provider

    from shared_code.adapters.telemetry import AppInsightsTelemetry, exporter_state

    telemetry = AppInsightsTelemetry()
    for record in RECORDS:
        telemetry.emit(record)
    flushed = get_logger_provider().force_flush()
    print(json.dumps({"state": exporter_state(), "flushed": flushed}))


if __name__ == "__main__":
    main()
