"""The system log of one fetch run: its lines are kept and written together at the end of
the run (one entity-group transaction per day partition), so a run that discards thirty
auto-replies writes one request, not thirty. Errors are written at once: they are what an
admin looks for when the run itself dies."""
from __future__ import annotations

import threading


class BufferedSystemLog:
    """`write` like `SystemLog.write`; `flush` sends what is kept (the caller does it at the
    end of the run and in its failure path). Safe to share between the run's threads."""

    def __init__(self, log):
        self._log = log
        self._lock = threading.Lock()
        self._kept: list[dict] = []

    def write(self, level: str, title: str, message: str, **context: str) -> None:
        if level == "error":
            self._log.write(level, title, message, **context)
            return
        entity = self._log.entry(level, title, message, **context)
        with self._lock:
            self._kept.append(entity)

    def flush(self) -> int:
        """Write the kept lines; returns the number of transactions sent."""
        with self._lock:
            kept, self._kept = self._kept, []
        return self._log.write_entries(kept) if kept else 0

    def list(self, *args, **kwargs):
        return self._log.list(*args, **kwargs)
