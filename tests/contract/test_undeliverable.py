"""UndeliverableAddresses contract: adapters/undeliverable.py on Azurite and
MemoryUndeliverable. A mark is per address (any case), keeps its first `since`, and clearing
an address not marked is an answer (False), not an error."""
from __future__ import annotations

import pytest

from shared_code import ports
from tests.unit import memory

from .conftest import _port


@pytest.fixture
def marks(request, impl):
    from shared_code.adapters.undeliverable import UndeliverableAddresses

    return _port(request, impl, UndeliverableAddresses, memory.MemoryUndeliverable)


def test_it_is_an_undeliverable_addresses_port(marks):
    assert isinstance(marks, ports.UndeliverableAddresses)


def test_mark_get_list_clear(marks):
    assert marks.get("ann@example.org") is None
    marks.mark("Ann@Example.org", "5.1.1", "123456", "550 5.1.1 user unknown")
    first = marks.get("ann@example.org")
    assert (first["address"], first["status"], first["ticket"], first["bounces"]) == (
        "ann@example.org", "5.1.1", "123456", 1)
    marks.mark("ann@example.org", "5.2.1", "654321")
    again = marks.get("ANN@example.org")
    assert (again["status"], again["ticket"], again["bounces"]) == ("5.2.1", "654321", 2)
    assert again["since"] == first["since"]
    assert [row["address"] for row in marks.list()] == ["ann@example.org"]
    assert marks.clear("ann@example.org") is True
    assert marks.clear("ann@example.org") is False
    assert marks.get("ann@example.org") is None and marks.list() == []
