"""What one run of the sender shares between its queue messages (and threads).

Adapters, a Graph client per sending mailbox (its HTTP connections too), and the accounts,
departments, staff and templates (`Directory`), read once since they change rarely and each
read is a storage round trip (templates: the whole small table in one query). A run of
`drain_outbound` reads them once; the queue trigger, which runs once per message, shares one
`Directory` per process and storage account for DIRECTORY_TTL_SECONDS, so a message does not
pay four reads (an edit shows within that time).
"""
from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from functools import cached_property
from typing import Callable

from ..adapters.deliveries import Deliveries
from ..adapters.send_counters import SendCounters
from ..domain.model import Department, EmailAccount, Staff
from ..domain.templates import Template
from ..domain.thread_marker import ThreadKeys
from .helpdesk import Helpdesk

#: A send (with Graph's own retries, e.g. after a 429) never waits past this; see deliveries.py.
SEND_DEADLINE_SECONDS = 120


#: How long the queue trigger's process reuses the accounts, staff and templates it read.
DIRECTORY_TTL_SECONDS = 60
_SHARED: dict[str, "Directory"] = {}
_SHARED_LOCK = threading.Lock()


def forget_shared_directories() -> None:
    """Drop the per-process directories (tests, after wiping the storage account)."""
    with _SHARED_LOCK:
        _SHARED.clear()


class Directory:
    """Accounts, departments, staff and templates, each read on first use."""

    def __init__(self, desk: Helpdesk):
        self.desk = desk
        self.read_at = time.monotonic()

    @classmethod
    def shared(cls, desk: Helpdesk) -> "Directory":
        """This process's directory for the desk's storage account, renewed after the TTL."""
        key = desk.connection.endpoint
        with _SHARED_LOCK:
            found = _SHARED.get(key)
            if found is None or time.monotonic() - found.read_at > DIRECTORY_TTL_SECONDS:
                found = _SHARED[key] = cls(desk)
            return found

    @cached_property
    def accounts(self) -> list[EmailAccount]:
        return self.desk.accounts.list()

    @cached_property
    def departments(self) -> dict[str, Department]:
        return {d.name.lower(): d for d in self.desk.directory.list_departments()}

    @cached_property
    def staff(self) -> dict[str, Staff]:
        return {s.email: s for s in self.desk.directory.list_staff()}

    @cached_property
    def templates(self):
        return self.desk.templates.snapshot()


class Outbound:
    """The run-wide cache of the sender (one per queue invocation or `drain_outbound`)."""

    def __init__(self, desk: Helpdesk, clock: Callable[[], datetime] | None = None,
                 checkpoint: Callable[[str, str], None] | None = None,
                 directory: Directory | None = None):
        self.desk = desk
        self.directory = directory or Directory(desk)
        #: the time leases are taken and judged by (tests pass a later one)
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        #: called with ("sending", notification id) just before sendMail and with
        #: ("graph_accepted", notification id) between Graph accepting a mail and recording
        #: it; tests raise there to simulate a crash or a failed storage write
        self.checkpoint = checkpoint or (lambda step, notification_id: None)
        self._graph: dict[str, object] = {}
        self._lock = threading.Lock()

    @property
    def deliveries(self) -> Deliveries:
        return self.desk.deliveries

    @property
    def counters(self) -> SendCounters:
        return self.desk.counters

    @property
    def accounts(self) -> list[EmailAccount]:
        return self.directory.accounts

    @property
    def departments(self) -> dict[str, Department]:
        return self.directory.departments

    @property
    def staff(self) -> dict[str, Staff]:
        return self.directory.staff

    def template(self, key: str, department: str) -> Template:
        return self.directory.templates(key, department)

    @cached_property
    def thread_keys(self) -> ThreadKeys | None:
        """The thread-marker keys, read once per run (ThreadKeyMissing in Azure without)."""
        return self.desk.thread_keys()

    def graph(self, account: EmailAccount):
        """A Graph client per sending mailbox, kept for the run."""
        with self._lock:
            client = self._graph.get(account.address)
            if client is None:
                client = self._graph[account.address] = self.desk.mail_client(account)
        client.deadline = time.monotonic() + SEND_DEADLINE_SECONDS
        return client

    def close(self) -> None:
        for client in self._graph.values():
            client.close()
