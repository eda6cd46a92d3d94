"""In-memory implementations of the ports of shared_code/ports.py, for the fast unit tier.

Same semantics as the adapters, checked by the contract suite (tests/contract/) run on both:
an existing key is an answer, not an error; rows come back as copies; queue visibility and
leases follow an injected clock (`ManualClock`) instead of the wall clock. Plain Python: no SDK.

Not modelled, so tested on the real adapters only: Graph tokens, throttling, retries, paging and
the concurrency cap (tests/adapters/test_graph_client.py); the 4 MiB request limit. ETags are
versions: a ticket written back after another writer's write is a 412 CONFLICT, as on Azurite.
"""
from .clock import T0, ManualClock
from .deliveries import MemoryDeliveries
from .filters import MemoryFilters
from .ingest import (
    MemoryIngestLedger, MemoryQuarantine, MemoryReconcileMarks, MemoryUndeliverable,
)
from .mailbox import MemoryGraph, MemoryMailbox, MemoryMailClient, MemoryMessage
from .resolver import MemoryDns
from .storage import BlobNotFound, MemoryBlobStore, MemoryHandle, MemoryLease, MemoryQueues
from .subscriptions import MemorySubscriptions
from .tables import (
    MemoryAccounts, MemoryDirectory, MemoryMessageIndex, MemorySystemLog, MemoryTemplates,
)
from .telemetry import MemoryTelemetry
from .tickets import MemoryTickets
from .vault import MemorySecrets

__all__ = [
    "BlobNotFound", "ManualClock", "MemoryAccounts", "MemoryBlobStore", "MemoryDeliveries",
    "MemoryDirectory", "MemoryDns", "MemoryFilters", "MemoryGraph", "MemoryHandle", "MemoryIngestLedger",
    "MemoryLease", "MemoryMailClient", "MemoryMailbox", "MemoryMessage", "MemoryMessageIndex",
    "MemoryQuarantine", "MemoryQueues", "MemoryReconcileMarks", "MemorySecrets",
    "MemorySubscriptions", "MemorySystemLog", "MemoryTelemetry", "MemoryTemplates",
    "MemoryTickets", "MemoryUndeliverable", "T0",
]
