"""The monitor's domain: when a secret is due for its warning, one warning per expiry date,
and mail text that names the account (domain/incidents.py)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from shared_code.domain.fetch_health import FetchHealth, FetchState
from shared_code.domain.incidents import (
    EXPIRY_WARNING_DAYS, SecretExpiry, SecretSource, alert_mail, expiry_mail, recovery_mail,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def _expiry(days: float, secret: str = "deskmail-graph-secret") -> SecretExpiry:
    return SecretExpiry(SecretSource.KEY_VAULT, secret, NOW + timedelta(days=days),
                        ("support@contoso.example",))


def test_a_secret_is_due_within_the_warning_period_and_after_it_expired():
    assert EXPIRY_WARNING_DAYS == 14
    assert not _expiry(14.01).due(NOW)
    assert _expiry(14).due(NOW) and _expiry(1).due(NOW) and _expiry(-3).due(NOW)
    assert "expired on 2026-02-26" in _expiry(-3).describe(NOW)
    assert "(in 10 days)" in _expiry(10).describe(NOW)


def test_one_warning_per_secret_and_expiry_date():
    assert _expiry(10).key == _expiry(10).key
    assert _expiry(10).key != _expiry(12).key  # rotated: a new date, a new warning
    assert _expiry(10).key != _expiry(10, "other-secret").key


def test_the_mails_name_the_account_and_never_need_a_template():
    health = FetchHealth(FetchState.FAILING, NOW - timedelta(minutes=20), 20.0)
    subject, text = alert_mail("support@contoso.example", health, "Graph token HTTP 401 AADSTS7000215")
    assert "support@contoso.example" in subject
    assert "AADSTS7000215" in text and "the last fetches failed" in text
    subject, text = recovery_mail("support@contoso.example", NOW - timedelta(minutes=30), NOW)
    assert "support@contoso.example" in subject and "30 min" in text
    subject, text = expiry_mail(_expiry(5), NOW)
    assert "support@contoso.example" in subject and "deskmail-graph-secret" in text
