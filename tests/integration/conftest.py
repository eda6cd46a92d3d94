import pytest

from .helpers import SUPPORT, add_account


@pytest.fixture
def desk(app_env, mailbox_app, graph):
    """A helpdesk on Azurite with one department account, support@contoso.example."""
    from shared_code.services.helpdesk import Helpdesk

    graph.add_mailbox(SUPPORT)
    add_account(mailbox_app)
    return Helpdesk.from_env()


@pytest.fixture
def proxy(azurite, storage):
    """The benchmarks' counting proxy in front of Azurite (storage requests counted at HTTP)."""
    from benchmarks.harness import StorageProxy

    child = StorageProxy(azurite)
    yield child
    child.stop()


@pytest.fixture
def counted(desk, proxy, monkeypatch):
    """The helpdesk of `desk`, its storage requests going through the counting proxy."""
    from shared_code.services.helpdesk import Helpdesk

    monkeypatch.setenv("AzureWebJobsStorage", proxy.connection_string())
    return Helpdesk.from_env()
