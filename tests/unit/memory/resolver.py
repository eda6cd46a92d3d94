"""The DnsResolver port in memory: records by (name, type), or no answer at all."""
from __future__ import annotations

from shared_code.domain.diagnosis import DnsUnavailable


class MemoryDns:
    """`add(name, type, *values)` publishes records; `unavailable = True` makes every look-up
    raise DnsUnavailable, as a resolver that gets no answer does."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], list[str]] = {}
        self.unavailable = False

    def add(self, name: str, rdtype: str, *values: str) -> None:
        self.records.setdefault((name.lower().rstrip("."), rdtype.upper()), []).extend(values)

    def _answer(self, name: str, rdtype: str) -> list[str]:
        if self.unavailable:
            raise DnsUnavailable(f"no DNS answer for {name} {rdtype}: unavailable")
        return list(self.records.get((name.lower().rstrip("."), rdtype), []))

    def txt(self, name: str) -> list[str]:
        return self._answer(name, "TXT")

    def cname(self, name: str) -> list[str]:
        return self._answer(name, "CNAME")
