"""ReconcileMarks contract: adapters/reconcile_marks.py on Azurite and MemoryReconcileMarks.
The marker is what makes an unaccounted mail's alert once per mail and day."""
from __future__ import annotations

from datetime import date

import pytest

from shared_code import ports
from tests.unit import memory

from .conftest import _port

SUPPORT = "support@contoso.example"
DAY = date(2026, 11, 27)


@pytest.fixture
def marks(request, impl):
    from shared_code.adapters.reconcile_marks import ReconcileMarks

    return _port(request, impl, ReconcileMarks, memory.MemoryReconcileMarks)


def test_it_is_a_reconcile_marks_port(marks):
    assert isinstance(marks, ports.ReconcileMarks)


def test_a_mail_is_reported_once_per_day_and_account(marks):
    assert marks.first_report(SUPPORT, DAY, "AAMk-1", {"subject": "lost"}) is True
    assert marks.first_report(SUPPORT, DAY, "AAMk-1", {"subject": "again"}) is False
    assert marks.first_report(SUPPORT, date(2026, 11, 28), "AAMk-1", {}) is True
    assert marks.first_report("sales@contoso.example", DAY, "AAMk-1", {}) is True

    [row] = marks.reported(SUPPORT, DAY)
    assert (row["graph_id"], row["subject"]) == ("AAMk-1", "lost")
    assert marks.reported(SUPPORT, date(2026, 11, 26)) == []
