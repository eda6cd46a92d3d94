"""customEvents rows as Application Insights keeps them, made from what the app really logs.

`CustomEvents` is a logging handler on the `deskmail.telemetry` logger (the one the Azure
Monitor distro's handler sits on in Azure) that maps each record the way the OpenTelemetry
LoggingHandler and the Azure Monitor log exporter do: the record's own attributes (not the
standard LogRecord ones) become the log's attributes (no code.* ones: the distro's handler
leaves them out); a record carrying `microsoft.custom_event.name` becomes a customEvents row
named by it; every other attribute is a customDimensions entry, its value `str(value)[:8192]`,
keys over 150 characters dropped, plus `logger_name` (the exporter adds the logger's name)
(azure-monitor-opentelemetry-exporter: `_convert_log_to_envelope`, `_filter_custom_properties`).
test_exporter.py checks this against what the real exporter sends.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from shared_code.adapters.telemetry import LOGGER_NAME
from shared_code.domain.telemetry import CUSTOM_EVENT_ATTRIBUTE

#: what the OpenTelemetry LoggingHandler leaves out of a record's attributes
RESERVED = frozenset(vars(logging.makeLogRecord({}))) | {"message", "taskName"}


def exporter_row(record: logging.LogRecord) -> dict | None:
    """The customEvents row of one record, or None when it is no event (a traces row)."""
    attributes = {k: v for k, v in vars(record).items() if k not in RESERVED}
    name = attributes.pop(CUSTOM_EVENT_ATTRIBUTE, None)
    if not name:
        return None
    dimensions = {key: str(value)[:8192] for key, value in attributes.items()
                  if key and len(key) <= 150 and value is not None}
    dimensions.setdefault("logger_name", record.name)
    return {"name": str(name), "timestamp": datetime.fromtimestamp(record.created, timezone.utc), "customDimensions": dimensions}


class CustomEvents(logging.Handler):
    """Collects the customEvents rows of everything logged while installed."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.rows: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        row = exporter_row(record)
        if row is not None:
            self.rows.append(row)

    def named(self, name: str) -> list[dict]:
        return [row for row in self.rows if row["name"] == name]

    def __enter__(self) -> "CustomEvents":
        logger = logging.getLogger(LOGGER_NAME)
        logger.addHandler(self)
        self._level = logger.level
        logger.setLevel(logging.INFO)
        return self

    def __exit__(self, *exc) -> None:
        logger = logging.getLogger(LOGGER_NAME)
        logger.removeHandler(self)
        logger.setLevel(self._level)
