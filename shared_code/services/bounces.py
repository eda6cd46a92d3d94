"""Undeliverable addresses for admins: list them, clear one (`clients clear-bounce`).

Clearing does not send anything by itself: the notifications held for the address are
named, and an admin puts them back with `notifications requeue ID` (they are sent then).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..adapters.deliveries import DeliveryState
from ..domain.model import normalize_address

if TYPE_CHECKING:
    from .helpdesk import Helpdesk


def undeliverable_addresses(desk: Helpdesk) -> list[dict]:
    return sorted(desk.undeliverable.list(), key=lambda row: str(row.get("address", "")))


def held_for(desk: Helpdesk, address: str) -> list[dict]:
    """The held notifications with this address among their recipients (one query)."""
    return [row for row in desk.deliveries.with_state(DeliveryState.HELD.value)
            if address in [r.strip().lower() for r in str(row.get("recipients", "")).split(",")]]


def clear_bounce(desk: Helpdesk, address: str, by: str = "") -> tuple[dict, list[dict]]:
    """Forget an address's permanent bounce; LookupError when it was not marked. Returns
    the row it was and the notifications still held for it (to requeue)."""
    address = normalize_address(address)
    row = desk.undeliverable.get(address)
    if row is None or not desk.undeliverable.clear(address):
        raise LookupError(f"{address} is not marked undeliverable")
    desk.syslog.write("info", "Bounce cleared",
                      f"{address} (status {row.get('status')}, ticket #{row.get('ticket')}) takes "
                      f"mail again{f'; cleared by {by}' if by else ''}")
    return row, held_for(desk, address)
