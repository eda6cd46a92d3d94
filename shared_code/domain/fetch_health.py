"""Is an account's fetching healthy? One rule for the Emails page, /health and the monitor.

Stale: the last successful fetch (or, for an account never fetched, the time it was added) is
older than FETCH_STALE_MINUTES. Failing: its last REPEATED_FAILURES fetches failed.
Push (issue 10): an account that should have a Graph subscription but has no live one is
`missing`: a warning, not unhealthy, since the minute timer still fetches it (slower).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from .model import EmailAccount

REPEATED_FAILURES = 3


class PushState(str, Enum):
    OFF = "off"  # no GRAPH_NOTIFICATION_URL, or the account does not fetch: the timer alone
    ACTIVE = "active"  # a subscription that has not expired
    MISSING = "missing"  # wanted, but none (never created, expired unrenewed, or failing)


def push_state(wanted: bool, expiries: list[datetime], now: datetime) -> PushState:
    """`wanted`: push is configured and the account fetches; `expiries`: its subscriptions'."""
    if not wanted:
        return PushState.OFF
    return PushState.ACTIVE if any(expires > now for expires in expiries) else PushState.MISSING


class FetchState(str, Enum):
    OFF = "off"  # fetching disabled or no OAuth configured
    HEALTHY = "healthy"
    STALE = "stale"
    FAILING = "failing"


@dataclass(frozen=True)
class FetchHealth:
    state: FetchState
    since: datetime | None  # the last fetch, or when the account was added if never fetched
    minutes_behind: float | None

    @property
    def healthy(self) -> bool:
        return self.state in (FetchState.HEALTHY, FetchState.OFF)

    def describe(self) -> str:
        if self.state is FetchState.OFF:
            return "fetching is off"
        behind = "" if self.minutes_behind is None else f"{self.minutes_behind:.1f} min ago"
        if self.state is FetchState.FAILING:
            return f"the last fetches failed; last success {behind or 'never'}"
        if self.state is FetchState.STALE:
            return f"no successful fetch for {self.minutes_behind:.1f} min" if self.minutes_behind is not None else "never fetched"
        return f"last fetch {behind}"


def fetch_health(account: EmailAccount, now: datetime, stale_minutes: float) -> FetchHealth:
    if not account.can_fetch:
        return FetchHealth(FetchState.OFF, account.last_fetch, None)
    since = account.last_fetch or account.created
    behind = (now - since).total_seconds() / 60 if since else None
    if account.consecutive_failures >= REPEATED_FAILURES:
        state = FetchState.FAILING
    elif behind is None or behind > stale_minutes:
        state = FetchState.STALE
    else:
        state = FetchState.HEALTHY
    return FetchHealth(state, since, behind)
