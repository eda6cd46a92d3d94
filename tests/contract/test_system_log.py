"""SystemLog contract: adapters/system_log.py SystemLog on Azurite and MemorySystemLog."""
from __future__ import annotations

from shared_code import ports
from shared_code.domain.limits import clip


def _fields(entry: dict) -> dict:
    return {k: entry[k] for k in ("level", "title", "message", "account") if k in entry}


def test_it_is_a_system_log(syslog):
    assert isinstance(syslog, ports.SystemLog)


def test_entries_come_back_newest_first_with_their_context(syslog):
    syslog.write("info", "Mail fetched", "first", account="support@contoso.example")
    syslog.write("warning", "Mark as read failed", "second", account="sales@contoso.example")
    syslog.write("error", "Mail fetch failed", "third")

    entries = syslog.list()

    assert [_fields(e) for e in entries] == [
        {"level": "error", "title": "Mail fetch failed", "message": "third"},
        {"level": "warning", "title": "Mark as read failed", "message": "second",
         "account": "sales@contoso.example"},
        {"level": "info", "title": "Mail fetched", "message": "first",
         "account": "support@contoso.example"},
    ]
    assert all(e["time"].tzinfo is not None for e in entries)
    assert [e["message"] for e in syslog.list(limit=2)] == ["third", "second"]


def test_a_long_message_is_clipped(syslog):
    long = "x" * 100_000
    syslog.write("error", "Notification failed", long)

    [entry] = syslog.list()

    assert entry["message"] == clip(long) and len(entry["message"]) < len(long)


def test_scan_reads_newest_first_and_filters_by_level(syslog):
    for n in range(5):
        syslog.write("error" if n % 2 else "info", f"line {n}", f"message {n}")

    assert [e["title"] for e in syslog.scan()] == ["line 4", "line 3", "line 2", "line 1", "line 0"]
    assert [e["title"] for e in syslog.scan(level="error")] == ["line 3", "line 1"]
    assert list(syslog.scan(level="warning")) == []
