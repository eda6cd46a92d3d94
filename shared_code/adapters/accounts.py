"""The `emailaccounts` table: email accounts (the guide's Admin → Emails), keyed by address."""
from __future__ import annotations

from ..domain.model import AlreadyExists, CollaboratorDelivery, EmailAccount, Priority, Purpose
from .names import EMAIL_ACCOUNTS
from .storage import StorageConnection
from .table_base import _Table, entity_time, safe_key, utcnow


class AccountRepository:
    """Email accounts (the guide's Admin → Emails), keyed by address."""

    PARTITION = "account"

    def __init__(self, connection: StorageConnection):
        self._table = _Table(connection, EMAIL_ACCOUNTS)

    @staticmethod
    def _to_entity(account: EmailAccount) -> dict:
        return {
            "PartitionKey": AccountRepository.PARTITION,
            "RowKey": safe_key(account.address),
            "address": account.address,
            "name": account.name,
            "purpose": account.purpose.value,
            "department": account.department,
            "priority": account.priority.value,
            "auto_response": account.auto_response,
            "fetch_enabled": account.fetch_enabled,
            "folder": account.folder,
            "batch_size": int(account.batch_size),
            "mark_as_read": account.mark_as_read,
            "tenant_id": account.tenant_id,
            "client_id": account.client_id,
            "client_secret_name": account.client_secret_name,
            "collaborators_from_cc": account.collaborators_from_cc,
            "collaborator_delivery": account.collaborator_delivery.value,
            "created": account.created,
            "last_fetch": account.last_fetch,
            "last_error": account.last_error[:4000],
            "last_error_time": account.last_error_time,
            "consecutive_failures": account.consecutive_failures,
            "fetch_watermark": account.fetch_watermark,
        }

    @staticmethod
    def _from_entity(entity: dict) -> EmailAccount:
        return EmailAccount(
            address=entity["address"],
            name=entity.get("name", ""),
            purpose=Purpose(entity.get("purpose", "department")),
            department=entity.get("department", ""),
            priority=Priority(entity.get("priority", "normal")),
            auto_response=bool(entity.get("auto_response", True)),
            fetch_enabled=bool(entity.get("fetch_enabled", True)),
            folder=entity.get("folder") or "Inbox",
            batch_size=int(entity.get("batch_size") or 20),
            mark_as_read=bool(entity.get("mark_as_read", True)),
            tenant_id=entity.get("tenant_id", ""),
            client_id=entity.get("client_id", ""),
            client_secret_name=entity.get("client_secret_name", ""),
            collaborators_from_cc=bool(entity.get("collaborators_from_cc", True)),
            collaborator_delivery=CollaboratorDelivery(entity.get("collaborator_delivery") or "cc"),
            created=entity_time(entity.get("created")),
            last_fetch=entity_time(entity.get("last_fetch")),
            last_error=entity.get("last_error", ""),
            last_error_time=entity_time(entity.get("last_error_time")),
            consecutive_failures=int(entity.get("consecutive_failures") or 0),
            fetch_watermark=entity_time(entity.get("fetch_watermark")),
        )

    def add(self, account: EmailAccount) -> None:
        account.validate()
        account.created = account.created or utcnow()
        if self._table.create(self._to_entity(account)) is None:
            raise AlreadyExists(f"an email account {account.address} already exists", "address")

    def get(self, address: str) -> EmailAccount | None:
        entity = self._table.get(self.PARTITION, safe_key(address.strip().lower()))
        return self._from_entity(entity) if entity else None

    def list(self) -> list[EmailAccount]:
        return sorted(
            (self._from_entity(e) for e in self._table.query(self.PARTITION)),
            key=lambda account: account.address,
        )

    def save(self, account: EmailAccount) -> None:
        account.validate()
        self._table.upsert(self._to_entity(account), merge=False)

    def save_fetch_state(self, account: EmailAccount) -> None:
        """Write only the fetch-state fields, so a concurrent admin edit is not undone."""
        entity = self._to_entity(account)
        keep = {"PartitionKey", "RowKey", "last_fetch", "last_error", "last_error_time",
                "consecutive_failures", "fetch_watermark"}
        self._table.upsert({k: v for k, v in entity.items() if k in keep and v is not None})

    def remove(self, address: str) -> bool:
        return self._table.delete(self.PARTITION, safe_key(address.strip().lower()))

    def system_addresses(self) -> set[str]:
        return {account.address for account in self.list()}
