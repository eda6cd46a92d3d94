"""The outbound settings: defaults, and malformed values named on the first call."""
import pytest

from shared_code.config import Settings, SettingError


def test_defaults(monkeypatch):
    for name in ("TICKET_URL_BASE", "AUTO_RESPONSE_LIMIT", "AUTO_RESPONSE_WINDOW_MINUTES"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.from_env()
    assert settings.ticket_url_base == "http://localhost:7071/tickets"
    assert (settings.auto_response_limit, settings.auto_response_window_minutes) == (5, 60)


@pytest.mark.parametrize("name,value,expected", [
    ("TICKET_URL_BASE", "help.contoso.example/tickets.php", "TICKET_URL_BASE must be an http"),
    ("AUTO_RESPONSE_LIMIT", "-1", "AUTO_RESPONSE_LIMIT must be >= 0"),
    ("AUTO_RESPONSE_WINDOW_MINUTES", "0", "AUTO_RESPONSE_WINDOW_MINUTES must be >= 1"),
])
def test_malformed_settings_name_themselves(monkeypatch, name, value, expected):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingError, match=expected):
        Settings.from_env()
