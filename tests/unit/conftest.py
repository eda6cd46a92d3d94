"""The fast unit tier: domain and pipeline tests on the in-memory ports (tests/unit/memory/).

Nothing here may start Azurite or the TLS fakes. Run with DESKMAIL_UNIT_TIER=1 (as
tests/test_unit_tier.py does) and the session fixtures of tests/conftest.py fail loudly if a
test asks for them, and the session fails if any Azure SDK module was imported.
"""
from __future__ import annotations

import os
import sys

import pytest

from shared_code.config import Settings
from shared_code.pipeline import PipelineContext

from . import memory

SUPPORT = "support@contoso.example"
SALES = "sales@contoso.example"


@pytest.fixture
def clock() -> memory.ManualClock:
    return memory.ManualClock()


@pytest.fixture
def settings() -> Settings:
    return Settings.from_env()


@pytest.fixture
def ctx(settings, clock) -> PipelineContext:
    """The context the fetch builds, on in-memory ports: two helpdesk accounts (support@,
    sales@); `ctx.tickets` is a MemoryTickets (the whole TicketStore port)."""
    return PipelineContext(
        settings=settings, index=memory.MemoryMessageIndex(), tickets=memory.MemoryTickets(),
        blobs=memory.MemoryBlobStore(clock), queues=memory.MemoryQueues(clock),
        syslog=memory.MemorySystemLog(clock.utcnow), system_addresses={SUPPORT, SALES})


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("DESKMAIL_UNIT_TIER") and exitstatus == 0:
        loaded = sorted(name for name in sys.modules if name.split(".")[0] in ("azure", "msal"))
        if loaded:
            sys.stderr.write(f"unit tier imported Azure SDK modules: {', '.join(loaded[:10])}\n")
            session.exitstatus = 1
