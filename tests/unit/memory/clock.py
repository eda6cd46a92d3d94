"""The clock the memory ports run on: it moves only when a test advances it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

T0 = datetime(2026, 11, 27, 9, 0, 0, tzinfo=timezone.utc)


class ManualClock:
    """Seconds (for visibility and leases) and a UTC datetime that move only when told."""

    def __init__(self, start: datetime = T0):
        self.start, self.seconds = start, 0.0

    def __call__(self) -> float:
        return self.seconds

    def advance(self, seconds: float) -> None:
        self.seconds += seconds

    def utcnow(self) -> datetime:
        return self.start + timedelta(seconds=self.seconds)
