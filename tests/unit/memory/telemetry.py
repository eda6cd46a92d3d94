"""The Telemetry port in memory: the records sent, in order (no logging, no exporter)."""
from __future__ import annotations


class MemoryTelemetry:
    def __init__(self) -> None:
        self.records: list = []

    def emit(self, record) -> None:
        self.records.append(record)

    def named(self, event) -> list:
        return [r for r in self.records if r.EVENT == event]
