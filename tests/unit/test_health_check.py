"""health_report on the in-memory ports: which accounts count, their state, the opaque ids."""
from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from shared_code.adapters.names import FETCH_JOBS, OUTBOUND_MAIL
from shared_code.domain.fetch_health import FetchState, PushState
from shared_code.domain.model import EmailAccount
from shared_code.services.health_check import health_report, opaque_id

from .memory import T0, MemoryAccounts, MemoryQueues, MemorySubscriptions

KEY = b"k" * 40
OAUTH = {"tenant_id": "t", "client_id": "c", "client_secret_name": "s"}


def _desk(*accounts: EmailAccount, push_url: str | None = None):
    desk = SimpleNamespace(accounts=MemoryAccounts(), queues=MemoryQueues(),
                           subscriptions=MemorySubscriptions(lambda: T0),
                           settings=SimpleNamespace(graph_notification_url=push_url))
    for account in accounts:
        desk.accounts.add(account)
    return desk


def _account(address: str, minutes_ago: float, failures: int = 0, **extra) -> EmailAccount:
    return EmailAccount(address=address, name="N", purpose="department", department="Support",
                        created=T0 - timedelta(days=1), last_fetch=T0 - timedelta(minutes=minutes_ago),
                        consecutive_failures=failures, **{**OAUTH, **extra})


def _per_account(report, field: str) -> dict:
    return {a.id: getattr(a, field) for a in report.accounts}


def _by_id(by_address: dict) -> dict:
    return {opaque_id(KEY, address): value for address, value in by_address.items()}


def test_states_follow_the_fetch_health_rule_and_off_accounts_are_left_out():
    desk = _desk(_account("fresh@contoso.example", 4.9), _account("stale@contoso.example", 5.1),
                 _account("failing@contoso.example", 1, failures=3),
                 _account("off@contoso.example", 500, fetch_enabled=False),
                 _account("no-oauth@contoso.example", 500, tenant_id="", client_id="",
                          client_secret_name=""))

    report = health_report(desk, T0, 5.0, KEY)

    assert _per_account(report, "state") == _by_id({"fresh@contoso.example": FetchState.HEALTHY,
                                                    "stale@contoso.example": FetchState.STALE,
                                                    "failing@contoso.example": FetchState.FAILING})
    assert report.healthy is False
    assert health_report(_desk(_account("fresh@contoso.example", 4.9)), T0, 5.0, KEY).healthy


def test_opaque_ids_are_stable_per_key_and_case_blind():
    first = opaque_id(KEY, "Support@Contoso.example")
    assert first == opaque_id(KEY, "support@contoso.example") and len(first) == 12
    assert first != opaque_id(b"x" * 40, "support@contoso.example")
    assert first != opaque_id(KEY, "sales@contoso.example")


def test_queue_depths_count_hidden_messages():
    desk = _desk()
    desk.queues.send(OUTBOUND_MAIL, {"n": 1})
    desk.queues.send(OUTBOUND_MAIL, {"n": 2}, visibility_timeout=60)
    desk.queues.send(FETCH_JOBS, {"address": "a@contoso.example"})

    queues = health_report(desk, T0, 5.0, KEY).queues

    assert (queues.outbound, queues.outbound_poison, queues.fetch_jobs) == (2, 0, 1)


def test_push_state_is_a_warning_per_account_not_unhealthy():
    desk = _desk(_account("live@contoso.example", 1), _account("expired@contoso.example", 1),
                 _account("never@contoso.example", 1), push_url="https://desk.example/hook")
    desk.subscriptions.save("s1", "Live@contoso.example", T0 + timedelta(days=2))
    desk.subscriptions.save("s2", "expired@contoso.example", T0 - timedelta(minutes=1))

    report = health_report(desk, T0, 5.0, KEY)

    assert _per_account(report, "push") == _by_id({"live@contoso.example": PushState.ACTIVE,
                                                   "expired@contoso.example": PushState.MISSING,
                                                   "never@contoso.example": PushState.MISSING})
    assert report.healthy is True
    warnings = sorted(a.warning for a in report.accounts if a.warning)
    assert len(warnings) == 2 and all("no live push subscription" in w for w in warnings)
    assert not any("@" in w for w in warnings)
    off = health_report(_desk(_account("live@contoso.example", 1)), T0, 5.0, KEY)
    assert [a.push for a in off.accounts] == [PushState.OFF] and off.accounts[0].warning == ""
