"""The monitor's memory: open fetch incidents and the secret warnings already sent.

Two small partitions of the `emailaccounts` table (the accounts' own partition is `account`):
`monitor-incident`, one row per account (state open/closed), and `monitor-warning`, one row
per secret and expiry date. Every change is a claim: an insert that fails when the row exists,
or a replace conditional on the ETag read, so of two monitor runs (or instances) exactly one
opens or closes an incident and sends its mail.
"""
from __future__ import annotations

from datetime import datetime

from ..domain.incidents import IncidentState
from .names import EMAIL_ACCOUNTS
from .storage import StorageConnection
from .table_base import _Table, digest, entity_time, safe_key

INCIDENT_PARTITION = "monitor-incident"
WARNING_PARTITION = "monitor-warning"


class MonitorState:
    """Claims on fetch incidents and secret warnings (see the module docstring)."""

    def __init__(self, connection: StorageConnection):
        self._table = _Table(connection, EMAIL_ACCOUNTS)

    @staticmethod
    def _incident(entity: dict) -> dict:
        return {"address": entity.get("address", ""), "state": entity.get("state", ""),
                "kind": entity.get("kind", ""), "opened": entity_time(entity.get("opened")),
                "closed": entity_time(entity.get("closed")), "detail": entity.get("detail", "")}

    def incident(self, address: str) -> dict | None:
        entity = self._table.get(INCIDENT_PARTITION, safe_key(address))
        return self._incident(entity) if entity else None

    def open_incidents(self) -> list[dict]:
        return [self._incident(e) for e in self._table.query(INCIDENT_PARTITION)
                if e.get("state") == IncidentState.OPEN.value]

    def open_incident(self, address: str, kind: str, detail: str, now: datetime) -> bool:
        """Open the account's incident; False when it is open already (or another run just
        opened it): only the caller that gets True sends the alert."""
        fields = {"PartitionKey": INCIDENT_PARTITION, "RowKey": safe_key(address),
                  "address": address, "state": IncidentState.OPEN.value, "kind": kind,
                  "opened": now, "detail": detail[:1000]}
        entity = self._table.get(INCIDENT_PARTITION, safe_key(address))
        if entity is None:
            return self._table.create(fields) is not None
        if entity.get("state") == IncidentState.OPEN.value:
            return False
        entity.update(fields)
        return self._table.update_if_unchanged(entity)

    def close_incident(self, address: str, now: datetime) -> dict | None:
        """Close the account's open incident: the incident as it was when this caller closed
        it, or None when none was open (or another run just closed it)."""
        entity = self._table.get(INCIDENT_PARTITION, safe_key(address))
        if entity is None or entity.get("state") != IncidentState.OPEN.value:
            return None
        before = self._incident(entity)
        entity["state"], entity["closed"] = IncidentState.CLOSED.value, now
        return before if self._table.update_if_unchanged(entity) else None

    def forget_incident_claim(self, address: str) -> None:
        """Undo an `open_incident` whose alert could not be queued, so the next run tries again."""
        entity = self._table.get(INCIDENT_PARTITION, safe_key(address))
        if entity is not None and entity.get("state") == IncidentState.OPEN.value:
            entity["state"] = IncidentState.CLOSED.value
            self._table.update_if_unchanged(entity)

    def claim_warning(self, key: str, fields: dict) -> bool:
        """Record a secret warning; False when this one (key) was claimed before."""
        entity = {"PartitionKey": WARNING_PARTITION, "RowKey": digest(key), "key": key[:1000],
                  **fields}
        return self._table.create(entity) is not None

    def forget_warning(self, key: str) -> None:
        self._table.delete(WARNING_PARTITION, digest(key))

    def warnings(self) -> list[dict]:
        return [{k: v for k, v in e.items() if k not in ("PartitionKey", "RowKey")}
                for e in self._table.query(WARNING_PARTITION)]
