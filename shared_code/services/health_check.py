"""What `GET /health` reports: is fetching healthy for every account that fetches, its push
state (a missing subscription is a warning, not unhealthy), and how deep are the work queues. One operation, so an uptime check, the web app and a future CLI command
agree. Accounts are named by an opaque id (a keyed hash of the address), never the address:
the endpoint needs no sign-in.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from ..adapters.names import FETCH_JOBS, OUTBOUND_MAIL, OUTBOUND_POISON
from ..domain.fetch_health import FetchState, PushState, fetch_health

OPAQUE_ID_CHARS = 12


def opaque_id(key: bytes, address: str) -> str:
    """Stable for as long as `key` is (DESKMAIL_SESSION_KEY in Azure); reveals nothing."""
    return hmac.new(key, b"health-account:" + address.lower().encode(), hashlib.sha256).hexdigest()[:OPAQUE_ID_CHARS]


@dataclass(frozen=True)
class AccountHealth:
    id: str
    state: FetchState
    minutes_since_fetch: float | None
    push: PushState = PushState.OFF

    @property
    def healthy(self) -> bool:
        return self.state is FetchState.HEALTHY

    @property
    def warning(self) -> str:
        if self.push is PushState.MISSING:
            return (f"account {self.id}: no live push subscription (expired or refused); "
                    "the minute timer alone fetches it")
        return ""


@dataclass(frozen=True)
class QueueDepths:
    """Approximate message counts (hidden messages included)."""

    outbound: int
    outbound_poison: int
    fetch_jobs: int


@dataclass(frozen=True)
class HealthReport:
    accounts: list[AccountHealth]
    queues: QueueDepths

    @property
    def healthy(self) -> bool:
        return all(account.healthy for account in self.accounts)


def health_report(desk, now: datetime, stale_minutes: float, key: bytes) -> HealthReport:
    """Accounts with fetching off (or no OAuth) are left out: nothing is expected of them."""
    from .subscriptions import push_states

    accounts = []
    listed = desk.accounts.list()
    push = push_states(desk, listed, now)
    for account in listed:
        health = fetch_health(account, now, stale_minutes)
        if health.state is FetchState.OFF:
            continue
        behind = None if health.minutes_behind is None else round(health.minutes_behind, 2)
        accounts.append(AccountHealth(opaque_id(key, account.address), health.state, behind,
                                      push[account.address]))
    accounts.sort(key=lambda item: item.id)
    count = desk.queues.approximate_count
    return HealthReport(accounts, QueueDepths(outbound=count(OUTBOUND_MAIL),
                                              outbound_poison=count(OUTBOUND_POISON),
                                              fetch_jobs=count(FETCH_JOBS)))
