"""DirectoryRepository contract: adapters/directory.py on Azurite and MemoryDirectory."""
from __future__ import annotations

import pytest

from shared_code import ports
from shared_code.domain.model import Department, Staff, ValidationError


def test_it_is_a_directory(directory):
    assert isinstance(directory, ports.DirectoryRepository)


def test_departments_by_name_whatever_the_case(directory):
    directory.add_department(Department(" Support ", email="Support@Contoso.example",
                                        alert_recipients=["Lead@Contoso.example"], sla_hours=8))
    directory.add_department(Department("billing"))

    found = directory.get_department("SUPPORT")

    assert found == Department("Support", email="support@contoso.example",
                               alert_recipients=["lead@contoso.example"], sla_hours=8)
    assert [d.name for d in directory.list_departments()] == ["billing", "Support"]
    with pytest.raises(ValidationError, match="already exists"):
        directory.add_department(Department("support"))
    found.sla_hours = 48
    directory.save_department(found)
    assert directory.get_department("support").sla_hours == 48
    assert directory.remove_department("Support") is True
    assert directory.remove_department("Support") is False
    assert directory.get_department("support") is None


def test_staff_by_address_and_only_active_staff_count(directory):
    directory.add_staff(Staff("Agent", "Agent@Contoso.example", "Support"))
    directory.add_staff(Staff("Former", "former@contoso.example", "Support", active=False))

    assert directory.get_staff(" AGENT@contoso.example ") == Staff(
        "Agent", "agent@contoso.example", "Support")
    assert [s.email for s in directory.list_staff()] == ["agent@contoso.example",
                                                         "former@contoso.example"]
    assert directory.staff_addresses() == {"agent@contoso.example"}
    with pytest.raises(ValidationError, match="already exists"):
        directory.add_staff(Staff("Again", "agent@contoso.example", "Sales"))
    directory.save_staff(Staff("Former", "former@contoso.example", "Support", active=True))
    assert directory.staff_addresses() == {"agent@contoso.example", "former@contoso.example"}
    assert directory.remove_staff("Agent@contoso.example") is True
    assert directory.remove_staff("agent@contoso.example") is False
