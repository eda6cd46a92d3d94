"""AccountRepository contract: adapters/accounts.py on Azurite and MemoryAccounts."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from shared_code import ports
from shared_code.domain.model import EmailAccount, Priority, Purpose, ValidationError


def account(address: str = "Support@Contoso.example", **changes) -> EmailAccount:
    fields = dict(address=address, name="Contoso Support", purpose=Purpose.DEPARTMENT,
                  department="Support", priority=Priority.HIGH, tenant_id="t", client_id="c",
                  client_secret_name="deskmail-graph-secret")
    fields.update(changes)
    return EmailAccount(**fields)


def test_it_is_an_account_repository(accounts):
    assert isinstance(accounts, ports.AccountRepository)


def test_add_normalizes_and_get_finds_it_whatever_the_case(accounts):
    added = account()
    accounts.add(added)

    found = accounts.get("  SUPPORT@contoso.example ")

    assert added.address == "support@contoso.example" and added.created is not None
    assert found == added
    assert accounts.get("nobody@contoso.example") is None


def test_a_taken_address_is_refused(accounts):
    accounts.add(account())
    with pytest.raises(ValidationError, match="already exists"):
        accounts.add(account(name="Another"))
    assert [a.name for a in accounts.list()] == ["Contoso Support"]


def test_list_is_sorted_and_remove_says_whether_there_was_one(accounts):
    accounts.add(account("sales@contoso.example", name="Sales", department="Sales"))
    accounts.add(account())

    assert [a.address for a in accounts.list()] == ["sales@contoso.example",
                                                     "support@contoso.example"]
    assert accounts.system_addresses() == {"sales@contoso.example", "support@contoso.example"}
    assert accounts.remove("Sales@contoso.example") is True
    assert accounts.remove("sales@contoso.example") is False
    assert [a.address for a in accounts.list()] == ["support@contoso.example"]


def test_save_replaces_and_what_get_returns_is_a_copy(accounts):
    accounts.add(account())
    changed = accounts.get("support@contoso.example")
    changed.name, changed.folder = "Helpdesk", "Inbox/Support"
    accounts.save(changed)

    stored = accounts.get("support@contoso.example")
    stored.name = "changed only in memory"

    assert (accounts.get("support@contoso.example").name,
            accounts.get("support@contoso.example").folder) == ("Helpdesk", "Inbox/Support")


def test_save_fetch_state_keeps_a_concurrent_admin_edit(accounts):
    accounts.add(account())
    fetch_copy = accounts.get("support@contoso.example")
    admin_copy = accounts.get("support@contoso.example")
    admin_copy.name = "Renamed by an admin"
    accounts.save(admin_copy)

    when = datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc)
    fetch_copy.last_error, fetch_copy.last_error_time = "GraphError: 503", when
    fetch_copy.consecutive_failures, fetch_copy.fetch_watermark = 2, when
    accounts.save_fetch_state(fetch_copy)

    stored = accounts.get("support@contoso.example")
    assert stored.name == "Renamed by an admin"
    assert (stored.last_error, stored.last_error_time, stored.consecutive_failures,
            stored.fetch_watermark) == ("GraphError: 503", when, 2, when)
