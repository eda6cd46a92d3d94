"""Fixtures of the pipeline unit tests: a Helpdesk on a clean Azurite and its PipelineContext."""
from __future__ import annotations

import pytest

from . import SALES, make_ctx, support_account



@pytest.fixture
def desk(app_env, monkeypatch):
    """A Helpdesk from the environment (AzureWebJobsStorage = the test's Azurite), with two
    accounts: support@ (department Support, priority high, auto-response on) and sales@."""
    from shared_code.services.helpdesk import Helpdesk

    desk = Helpdesk.from_env()
    desk.accounts.add(support_account())
    desk.accounts.add(support_account(address=SALES, name="Contoso Sales", department="Sales"))
    return desk


@pytest.fixture
def ctx(desk):
    return make_ctx(desk)
