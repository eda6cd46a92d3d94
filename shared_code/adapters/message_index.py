"""The `messageindex` table: every Message-ID the system has received or sent, with its ticket."""
from __future__ import annotations

from .names import MESSAGE_INDEX
from .storage import StorageConnection
from .table_base import _Table, digest


class MessageIndex:
    """Every Message-ID the system has received or sent, with its ticket.

    An inbound mail first *claims* its Message-ID (state `claimed`, carrying the
    ticket and entry it will become); the claim is completed (state `done`) once
    everything is stored. A replay after a crash finds the claim and finishes the
    same work instead of starting a second ticket.
    """

    def __init__(self, connection: StorageConnection):
        self._table = _Table(connection, MESSAGE_INDEX)

    @staticmethod
    def _keys(message_id: str) -> tuple[str, str]:
        key = digest(message_id.strip().strip("<>").strip(), 64)
        return key[:2], key

    def get(self, message_id: str) -> dict | None:
        return self._table.get(*self._keys(message_id))

    def claim(self, message_id: str, fields: dict) -> dict | None:
        """Create the claim; return None on success or the existing row when one was there."""
        pk, rk = self._keys(message_id)
        entity = {"PartitionKey": pk, "RowKey": rk, "message_id": message_id, "state": "claimed", **fields}
        if self._table.create(entity) is not None:
            return None
        return self._table.get(pk, rk)

    def update(self, message_id: str, fields: dict) -> None:
        pk, rk = self._keys(message_id)
        self._table.upsert({"PartitionKey": pk, "RowKey": rk, **fields})

    def record(self, message_id: str, ticket_number: str, direction: str, entry_id: str = "") -> None:
        """Index a Message-ID that is already stored (e.g. an outbound mail)."""
        pk, rk = self._keys(message_id)
        self._table.upsert({"PartitionKey": pk, "RowKey": rk, "message_id": message_id,
                            "state": "done", "ticket": ticket_number, "entry_id": entry_id,
                            "direction": direction})

    def ticket_of(self, message_id: str) -> str | None:
        return ticket_of_row(self.get(message_id))


def ticket_of_row(row: dict | None) -> str | None:
    """The ticket an index row threads to: a finished row's, or a reply's claim (it names the
    ticket it was matched to); a new ticket's claim is not yet a thread. Plain Python: the
    in-memory index uses it too."""
    if row and row.get("ticket") and (row.get("state") == "done" or (
            row.get("state") == "claimed" and row.get("new_ticket") is False)):
        return row["ticket"]
    return None
