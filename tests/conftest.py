"""Test harness: real Azurite for storage, TLS fakes for Graph, identity platform and Key Vault.

Fixtures (a contract other tests code against):

* ``cloud`` (session): the started :class:`tests.fakes.FakeCloud`; SSL_CERT_FILE and
  REQUESTS_CA_BUNDLE point at a bundle of the system CAs plus the throwaway test CA.
* ``graph``, ``identity``, ``keyvault``: the fakes, reset before each test (every test that
  uses any cloud fixture gets all three reset: data, apps, tokens, faults, latency, logs).
* ``azurite`` (session): the running Azurite; ``.connection_string``.
* ``storage``: the Azurite connection string, every table, container and queue deleted first.
* ``app_env``: env for the app (AzureWebJobsStorage, GRAPH_API_URL, AZURE_AUTHORITY_HOST; no
  KEY_VAULT_URL); yields an object with graph, identity, keyvault, storage, cloud.
* ``mailbox_app``: app "deskmail-app" in tenant "contoso-tenant" with secret "s3cr3t-value",
  reachable as DESKMAIL_GRAPH_SECRET (and as Key Vault secret "deskmail-graph-secret").

Tiers: tests/unit is the fast tier (in-memory ports, tests/unit/memory/); nothing there may
ask for ``cloud`` or ``azurite``. With DESKMAIL_UNIT_TIER set, both fail loudly instead of
starting (tests/test_unit_tier.py runs the tier that way).

Time: tests assert behaviour, never elapsed wall-clock time (the machine is shared and loaded).
Code that waits or has a deadline takes its clock as a parameter (`now=`, `clock=`/`sleep=` of
GraphMailClient, `clock=` of fetch_account); overlap and retries are proven by counted requests
(the fakes' logs, ``hold_until_in_flight``); "never hangs on hostile input" uses the CPU-time
budget of tests/work_budget.py.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes import FakeCloud, FakeGraph, FakeIdentity, FakeKeyVault
from tests.fakes.azurite import Azurite, AzuriteError, clear_storage

REPO_ROOT = Path(__file__).resolve().parent.parent

UNIT_TIER = "DESKMAIL_UNIT_TIER"


def _refuse_in_unit_tier(what: str) -> None:
    if os.environ.get(UNIT_TIER):
        pytest.fail(f"{what} was requested with {UNIT_TIER} set: the unit tier (tests/unit) must "
                    "run on the in-memory ports, without Azurite or the TLS fakes", pytrace=False)


MAILBOX_APP = {
    "tenant_id": "contoso-tenant",
    "client_id": "deskmail-app",
    "client_secret_name": "deskmail-graph-secret",
    "secret": "s3cr3t-value",
}


@pytest.fixture(scope="session")
def cloud():
    """The fakes of the identity platform, Graph and Key Vault, for the whole session."""
    _refuse_in_unit_tier("the TLS fakes (fixture `cloud`)")
    fakes = FakeCloud().start()
    yield fakes
    fakes.stop()


@pytest.fixture(autouse=True)
def _fresh_cloud(request):
    """Reset all fakes before any test that uses one of them."""
    if "cloud" in request.fixturenames:
        request.getfixturevalue("cloud").reset()
        # the app's process-wide MSAL apps (and secret stores) would otherwise replay tokens
        # and secrets of an earlier test
        from shared_code.services.helpdesk import reset_process_caches

        reset_process_caches()


@pytest.fixture
def identity(cloud) -> FakeIdentity:
    return cloud.identity


@pytest.fixture
def graph(cloud) -> FakeGraph:
    return cloud.graph


@pytest.fixture
def keyvault(cloud) -> FakeKeyVault:
    return cloud.keyvault


@pytest.fixture(scope="session")
def azurite():
    """A real Azurite (in memory) on free ports, for the whole session."""
    _refuse_in_unit_tier("Azurite (fixture `azurite`)")
    try:
        server = Azurite(REPO_ROOT).start()
    except AzuriteError as e:
        pytest.fail(str(e), pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def storage(azurite) -> str:
    """Azurite's connection string, with no tables, containers or queues left over."""
    from shared_code.services.helpdesk import reset_process_caches

    clear_storage(azurite.connection_string)
    reset_process_caches()
    return azurite.connection_string


THREAD_KEY = "test-thread-key-0123456789abcdef0123456789abcdef"


@dataclass
class AppEnv:
    graph: FakeGraph
    identity: FakeIdentity
    keyvault: FakeKeyVault
    storage: str
    cloud: FakeCloud


@pytest.fixture
def app_env(monkeypatch, cloud, graph, identity, keyvault, storage) -> AppEnv:
    """The app's settings pointed at Azurite and the fakes (no Key Vault: local secrets)."""
    monkeypatch.setenv("AzureWebJobsStorage", storage)
    monkeypatch.setenv("GRAPH_API_URL", cloud.graph_url)
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", cloud.authority_host)
    monkeypatch.delenv("KEY_VAULT_URL", raising=False)
    # the thread-marker key (domain/thread_marker.py), locally and in the vault fake
    monkeypatch.setenv("DESKMAIL_THREAD_KEY", THREAD_KEY)
    keyvault.set_secret("deskmail-thread-key", THREAD_KEY)
    return AppEnv(graph=graph, identity=identity, keyvault=keyvault, storage=storage, cloud=cloud)


@pytest.fixture
def mailbox_app(monkeypatch, identity, keyvault) -> dict:
    """A registered app whose secret the app's local secret store can read."""
    app = dict(MAILBOX_APP)
    identity.register_app(app["tenant_id"], app["client_id"], app["secret"])
    env_name = app["client_secret_name"].upper().replace("-", "_")
    monkeypatch.setenv(env_name, app["secret"])
    keyvault.set_secret(app["client_secret_name"], app["secret"])
    return app


#: an app of the identity fake that DefaultAzureCredential finds in the environment, for the vault
VAULT_READER = {"tenant": "contoso-tenant", "client_id": "vault-writer", "secret": "kv-wr1ter-secret"}


@pytest.fixture
def vault(monkeypatch, cloud, identity, keyvault) -> FakeKeyVault:
    """KEY_VAULT_URL set (secrets read and written in the Key Vault fake), and an identity
    DefaultAzureCredential finds in the environment."""
    from shared_code.services.helpdesk import reset_process_caches

    identity.register_app(VAULT_READER["tenant"], VAULT_READER["client_id"], VAULT_READER["secret"])
    monkeypatch.setenv("KEY_VAULT_URL", cloud.key_vault_url)
    monkeypatch.setenv("AZURE_TENANT_ID", VAULT_READER["tenant"])
    monkeypatch.setenv("AZURE_CLIENT_ID", VAULT_READER["client_id"])
    monkeypatch.setenv("AZURE_CLIENT_SECRET", VAULT_READER["secret"])
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # nothing public is asked
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    reset_process_caches()
    return keyvault
