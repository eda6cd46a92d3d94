"""FilterStore contract: adapters/filter_store.py on Azurite and MemoryFilters."""
from __future__ import annotations

import pytest

from shared_code import ports
from shared_code.domain.filters import Action, Condition, Filter, FilterAction, FilterField, FilterOperator
from shared_code.domain.model import AlreadyExists
from tests.unit import memory

from .conftest import _port


@pytest.fixture
def filters(request, impl):
    from shared_code.adapters.filter_store import FilterStore

    return _port(request, impl, FilterStore, memory.MemoryFilters)


def _rule(name: str, position: int = 0) -> Filter:
    return Filter(name, [Condition(FilterField.SUBJECT, FilterOperator.CONTAINS, "alert")],
                  [Action(FilterAction.ADD_TAG, "monitoring")], position=position)


def test_it_is_a_filter_store_port(filters):
    assert isinstance(filters, ports.FilterStore)


def test_filters_are_listed_in_position_order_and_appended_last(filters):
    filters.add(_rule("Second", 2))
    filters.add(_rule("First", 1))
    filters.add(_rule("Appended"))
    assert [(r.name, r.position) for r in filters.list()] == [("First", 1), ("Second", 2),
                                                             ("Appended", 3)]
    stored = filters.get("first")
    assert stored.conditions[0].field is FilterField.SUBJECT
    assert stored.actions == [Action(FilterAction.ADD_TAG, "monitoring")]


def test_a_name_is_unique_save_replaces_and_remove_says_whether_it_existed(filters):
    filters.add(_rule("Nagios", 1))
    with pytest.raises(AlreadyExists) as error:
        filters.add(_rule("nagios", 5))
    assert error.value.field == "name"
    changed = _rule("Nagios", 7)
    changed.enabled = False
    filters.save(changed)
    assert (filters.get("Nagios").position, filters.get("Nagios").enabled) == (7, False)
    assert filters.remove("NAGIOS") is True
    assert filters.remove("Nagios") is False
    assert filters.get("Nagios") is None and filters.list() == []
