"""SecretStore from the environment and from the fake Key Vault (real azure-identity and
azure-keyvault-secrets over TLS)."""
from __future__ import annotations

import dataclasses

import pytest

from shared_code.adapters.secret_store import SecretNotFound, SecretStore
from shared_code.config import Settings

VAULT_READER = {"tenant": "contoso-tenant", "client_id": "vault-reader", "secret": "kv-r3ader-secret"}


@pytest.fixture
def env_settings(monkeypatch) -> Settings:
    monkeypatch.delenv("KEY_VAULT_URL", raising=False)
    return Settings.from_env()


@pytest.fixture
def vault_settings(monkeypatch, cloud, identity, keyvault) -> Settings:
    """Settings with KEY_VAULT_URL, and an identity DefaultAzureCredential finds in the env."""
    identity.register_app(VAULT_READER["tenant"], VAULT_READER["client_id"], VAULT_READER["secret"])
    monkeypatch.setenv("KEY_VAULT_URL", cloud.key_vault_url)
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", cloud.authority_host)
    monkeypatch.setenv("AZURE_TENANT_ID", VAULT_READER["tenant"])
    monkeypatch.setenv("AZURE_CLIENT_ID", VAULT_READER["client_id"])
    monkeypatch.setenv("AZURE_CLIENT_SECRET", VAULT_READER["secret"])
    # a call to a public host (such as MSAL's instance discovery) fails at once
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    settings = Settings.from_env()
    assert settings.key_vault_url == cloud.key_vault_url
    return settings


def test_env_secret(monkeypatch, env_settings):
    monkeypatch.setenv("DESKMAIL_GRAPH_SECRET", "from-the-env")
    store = SecretStore(env_settings)
    assert store.get("deskmail-graph-secret") == "from-the-env"
    monkeypatch.setenv("DESKMAIL_GRAPH_SECRET", "changed")
    assert store.get("deskmail-graph-secret") == "from-the-env"  # cached for the TTL
    assert SecretStore(env_settings, ttl_seconds=0).get("deskmail-graph-secret") == "changed"


def test_env_secret_missing(monkeypatch, env_settings):
    monkeypatch.delenv("DESKMAIL_NOPE", raising=False)
    monkeypatch.setenv("DESKMAIL_EMPTY", "")
    store = SecretStore(env_settings)
    with pytest.raises(SecretNotFound) as caught:
        store.get("deskmail-nope")
    assert "deskmail-nope" in str(caught.value) and "DESKMAIL_NOPE" in str(caught.value)
    with pytest.raises(SecretNotFound):
        store.get("deskmail-empty")


def test_vault_secret_is_read_and_cached(vault_settings, keyvault, mailbox_app):
    store = SecretStore(vault_settings)
    try:
        assert store.get("deskmail-graph-secret") == mailbox_app["secret"]
        served = [r for r in keyvault.requests if r.status == 200]
        assert len(served) == 1
        before = len(keyvault.requests)
        assert store.get("deskmail-graph-secret") == mailbox_app["secret"]
        assert len(keyvault.requests) == before  # from the cache
        assert mailbox_app["secret"] not in repr(store)
    finally:
        store.close()


def test_vault_secret_refetched_without_cache(vault_settings, keyvault):
    keyvault.set_secret("rotating", "one")
    store = SecretStore(vault_settings, ttl_seconds=0)
    try:
        assert store.get("rotating") == "one"
        keyvault.set_secret("rotating", "two")
        assert store.get("rotating") == "two"
    finally:
        store.close()


def test_vault_secret_missing(vault_settings, keyvault, cloud):
    keyvault.set_secret("other-secret", "0ther-value")
    store = SecretStore(vault_settings)
    try:
        store.get("other-secret")
        with pytest.raises(SecretNotFound) as caught:
            store.get("deskmail-missing")
    finally:
        store.close()
    text = str(caught.value)
    assert "deskmail-missing" in text and cloud.key_vault_url in text
    assert "0ther-value" not in text and "kv-r3ader-secret" not in text
    assert caught.value.name == "deskmail-missing"


def test_vault_with_default_authority_host_keeps_instance_discovery(env_settings, cloud):
    """Only a non-default authority host turns instance discovery off."""
    from shared_code.adapters.secret_store import credential_options

    public = dataclasses.replace(env_settings, authority_host="https://login.microsoftonline.com")
    assert credential_options(public) == {}
    fake = dataclasses.replace(env_settings, authority_host=cloud.authority_host)
    assert credential_options(fake) == {"authority": cloud.authority_host,
                                        "disable_instance_discovery": True}


def test_vault_secret_is_written_and_the_cache_forgets_the_old_value(vault_settings, keyvault):
    keyvault.set_secret("deskmail-written", "old-value")
    store = SecretStore(vault_settings)
    try:
        assert store.writable
        assert store.get("deskmail-written") == "old-value"
        store.set(" deskmail-written ", "new-value-1234")
        assert keyvault._secrets["deskmail-written"][-1].value == "new-value-1234"
        assert store.get("deskmail-written") == "new-value-1234"
        assert "new-value-1234" not in repr(store)
    finally:
        store.close()


def test_vault_write_failure_names_the_secret_never_the_value(vault_settings, keyvault):
    from shared_code.adapters.secret_store import SecretWriteFailed

    store = SecretStore(vault_settings)
    try:
        keyvault.fail_next(403, path_contains="/secrets/", code="Forbidden",
                           message="The user does not have secrets set permission.")
        with pytest.raises(SecretWriteFailed) as caught:
            store.set("deskmail-denied", "d3nied-value")
    finally:
        store.close()
    assert "deskmail-denied" in str(caught.value) and "403" in str(caught.value)
    assert "d3nied-value" not in str(caught.value)


def test_environment_secrets_are_read_only(env_settings):
    from shared_code.adapters.secret_store import SecretStoreReadOnly

    store = SecretStore(env_settings)
    assert not store.writable
    with pytest.raises(SecretStoreReadOnly, match="DESKMAIL_LOCAL"):
        store.set("deskmail-local", "value")
