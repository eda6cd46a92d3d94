"""SecretStore contract: adapters/secret_store.py (local mode: environment variables) and MemorySecrets."""
from __future__ import annotations

import pytest

from shared_code import ports
from shared_code.adapters.secret_store import SecretNotFound

NAME = "deskmail-contract-secret"


def test_it_is_a_secret_store(secrets):
    assert isinstance(secrets.store, ports.SecretStore)


def test_get_returns_the_value_and_caches_it_until_invalidated(secrets):
    secrets.set(NAME, "first-value")
    assert secrets.store.get(NAME) == "first-value"

    secrets.set(NAME, "rotated-value")
    assert secrets.store.get(f" {NAME} ") == "first-value"  # cached

    secrets.store.invalidate(NAME)
    assert secrets.store.get(NAME) == "rotated-value"
    assert "rotated-value" not in repr(secrets.store)


def test_a_missing_secret_names_itself_never_a_value(secrets):
    secrets.set("deskmail-other-secret", "other-value")
    with pytest.raises(SecretNotFound) as caught:
        secrets.store.get(NAME)
    assert caught.value.name == NAME and NAME in str(caught.value)
    assert "other-value" not in str(caught.value)


def test_an_empty_name_is_refused(secrets):
    with pytest.raises(ValueError):
        secrets.store.get("  ")


def test_a_secret_without_an_expiry_date_has_none(secrets):
    """Environment variables (and a vault secret without `exp`) carry no date: the monitor
    skips them; the vault's own date is read in tests/integration/test_monitor_secrets.py."""
    secrets.set(NAME, "a-value")
    assert secrets.store.expires_on(NAME) is None
    with pytest.raises(ValueError):
        secrets.store.expires_on(" ")
