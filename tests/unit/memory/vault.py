"""The secret store in memory: a dict for the vault, a ttl cache on the injected clock."""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from shared_code.adapters.secret_store import SecretNotFound

from .clock import ManualClock


class MemorySecrets:
    """`values` is the vault; what `get` read stays cached until `invalidate` (or the ttl)."""

    def __init__(self, values: dict[str, str] | None = None, ttl_seconds: float = 300,
                 clock: Callable[[], float] | None = None):
        self.values = dict(values or {})
        self.ttl_seconds, self.clock = float(ttl_seconds), clock or ManualClock()
        self._cache: dict[str, tuple[str, float]] = {}
        self.expiries: dict[str, datetime] = {}  # the vault's `exp` attributes

    def get(self, name: str) -> str:
        if not name or not name.strip():
            raise ValueError("secret name must not be empty")
        name = name.strip()
        cached = self._cache.get(name)
        if cached is not None and cached[1] > self.clock():
            return cached[0]
        value = self.values.get(name)
        if not value:
            raise SecretNotFound(name, "the in-memory secret store")
        if self.ttl_seconds > 0:
            self._cache[name] = (value, self.clock() + self.ttl_seconds)
        return value

    def invalidate(self, name: str | None = None) -> None:
        if name is None:
            self._cache.clear()
        else:
            self._cache.pop(name.strip(), None)

    def expires_on(self, name: str) -> datetime | None:
        if not name or not name.strip():
            raise ValueError("secret name must not be empty")
        if name.strip() not in self.values:
            raise SecretNotFound(name.strip(), "the in-memory secret store")
        return self.expiries.get(name.strip())

    @property
    def writable(self) -> bool:
        return True

    def set(self, name: str, value: str) -> None:
        if not name or not name.strip() or not value:
            raise ValueError("secret name and value must not be empty")
        self.values[name.strip()] = value
        self._cache.pop(name.strip(), None)

    @property
    def source(self) -> str:
        return "memory"

    def close(self) -> None:
        pass

    def __repr__(self) -> str:  # never the values, like the adapter
        return f"MemorySecrets(cached={len(self._cache)})"
