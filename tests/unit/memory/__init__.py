"""In-memory implementations of the ports of shared_code/ports.py, for the fast unit tier.

Same semantics as the adapters, checked by the contract suite (tests/contract/) run on both:
an existing key is an answer, not an error; rows come back as copies; queue visibility and
leases follow an injected clock (`ManualClock`) instead of the wall clock. Plain Python: no SDK.

Not modelled, so tested on the real adapters only: Graph tokens, throttling, retries, paging and
the concurrency cap (tests/adapters/test_graph_client.py); ETags and 4 MiB request limits.
"""
from .clock import T0, ManualClock
from .mailbox import MemoryGraph, MemoryMailbox, MemoryMailClient, MemoryMessage
from .storage import BlobNotFound, MemoryBlobStore, MemoryHandle, MemoryLease, MemoryQueues
from .tables import (
    MemoryAccounts, MemoryDirectory, MemoryMessageIndex, MemorySystemLog, MemoryTemplates,
    MemoryTickets,
)
from .vault import MemorySecrets

__all__ = [
    "BlobNotFound", "ManualClock", "MemoryAccounts", "MemoryBlobStore", "MemoryDirectory",
    "MemoryGraph", "MemoryHandle", "MemoryLease", "MemoryMailClient", "MemoryMailbox",
    "MemoryMessage", "MemoryMessageIndex", "MemoryQueues", "MemorySecrets", "MemorySystemLog",
    "MemoryTemplates", "MemoryTickets", "T0",
]
