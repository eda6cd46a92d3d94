import pytest

from .helpers import SUPPORT, add_account


@pytest.fixture
def desk(app_env, mailbox_app, graph):
    """A helpdesk on Azurite with one department account, support@contoso.example."""
    from shared_code.services.helpdesk import Helpdesk

    graph.add_mailbox(SUPPORT)
    add_account(mailbox_app)
    return Helpdesk.from_env()
