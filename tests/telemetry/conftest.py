import pytest

from tests.integration.helpers import SUPPORT, add_account

from .rows import CustomEvents


@pytest.fixture
def desk(app_env, mailbox_app, graph, monkeypatch):
    """A helpdesk on Azurite with one department account, support@contoso.example; one
    attempt per mail and no Graph retries, so a broken mail is quarantined in one run."""
    from shared_code.services.helpdesk import Helpdesk

    monkeypatch.setenv("GRAPH_MAX_RETRIES", "0")
    monkeypatch.setenv("MAX_PROCESSING_ATTEMPTS", "1")
    graph.add_mailbox(SUPPORT)
    add_account(mailbox_app)
    return Helpdesk.from_env()


@pytest.fixture
def events():
    """The customEvents rows of everything the app sends while the test runs."""
    with CustomEvents() as recorder:
        yield recorder
