"""TRUSTED_SENDER_SIGNALS: what proves a staff or helpdesk From (shared_code/config.py)."""
import pytest

from shared_code.config import Settings, SettingError
from shared_code.domain.sender_auth import TrustSignal


def test_default_trusts_exchange_internal_and_dmarc_pass(monkeypatch):
    monkeypatch.delenv("TRUSTED_SENDER_SIGNALS", raising=False)

    assert Settings.from_env().trusted_sender_signals == (
        TrustSignal.EXCHANGE_INTERNAL, TrustSignal.DMARC_PASS)


@pytest.mark.parametrize("value,expected", [
    ("exchange-internal", (TrustSignal.EXCHANGE_INTERNAL,)),
    (" DMARC-Pass , exchange-internal,dmarc-pass,", (TrustSignal.DMARC_PASS, TrustSignal.EXCHANGE_INTERNAL)),
    ("none", ()),
    ("  ", (TrustSignal.EXCHANGE_INTERNAL, TrustSignal.DMARC_PASS)),
])
def test_a_chosen_list(monkeypatch, value, expected):
    monkeypatch.setenv("TRUSTED_SENDER_SIGNALS", value)

    assert Settings.from_env().trusted_sender_signals == expected


@pytest.mark.parametrize("value,bad", [
    ("exchange-internal,spf-pass", "spf-pass"),
    ("none,dmarc-pass", "none"),
    ("AuthAs=Internal", "authas=internal"),
])
def test_an_unknown_signal_fails_naming_the_setting_and_the_value(monkeypatch, value, bad):
    monkeypatch.setenv("TRUSTED_SENDER_SIGNALS", value)

    with pytest.raises(SettingError) as error:
        Settings.from_env()

    assert "TRUSTED_SENDER_SIGNALS" in str(error.value) and repr(bad) in str(error.value)
    assert "exchange-internal, dmarc-pass" in str(error.value)
