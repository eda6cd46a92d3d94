"""The ports of shared_code/ports.py have the adapters' signatures, and so do the memory ports.

Structural typing only checks names at runtime; this pins parameter names, kinds and defaults,
so an adapter change that the pipeline's callers would feel shows up here, in the fast tier.
Importing the adapter modules loads no SDK (they import it on first use)."""
from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

from shared_code import ports
from shared_code.adapters.blobs import BlobStore, Lease
from shared_code.adapters.deliveries import Deliveries
from shared_code.adapters.graph import GraphMailClient
from shared_code.adapters.ledger import IngestLedger
from shared_code.adapters.quarantine import QuarantineRepository
from shared_code.adapters.queues import QueueSender
from shared_code.adapters.secret_store import SecretStore
from shared_code.adapters.subscriptions import SubscriptionStore
from shared_code.adapters.accounts import AccountRepository
from shared_code.adapters.directory import DirectoryRepository
from shared_code.adapters.dns_lookup import DnsLookup
from shared_code.adapters.filter_store import FilterStore
from shared_code.adapters.message_index import MessageIndex
from shared_code.adapters.system_log import SystemLog
from shared_code.adapters.telemetry import AppInsightsTelemetry
from shared_code.adapters.ticket_store import TicketStore
from shared_code.adapters.template_store import TemplateStore
from shared_code.adapters.undeliverable import UndeliverableAddresses

from . import memory

PAIRS = [
    (ports.BlobStore, BlobStore, memory.MemoryBlobStore),
    (ports.Lease, Lease, memory.MemoryLease),
    (ports.QueueSender, QueueSender, memory.MemoryQueues),
    (ports.SystemLog, SystemLog, memory.MemorySystemLog),
    (ports.AccountRepository, AccountRepository, memory.MemoryAccounts),
    (ports.DirectoryRepository, DirectoryRepository, memory.MemoryDirectory),
    (ports.TemplateStore, TemplateStore, memory.MemoryTemplates),
    (ports.MessageIndex, MessageIndex, memory.MemoryMessageIndex),
    (ports.TicketLookup, TicketStore, memory.MemoryTickets),
    (ports.TicketStore, TicketStore, memory.MemoryTickets),
    (ports.IngestLedger, IngestLedger, memory.MemoryIngestLedger),
    (ports.QuarantineRepository, QuarantineRepository, memory.MemoryQuarantine),
    (ports.Deliveries, Deliveries, memory.MemoryDeliveries),
    (ports.SecretStore, SecretStore, memory.MemorySecrets),
    (ports.MailClient, GraphMailClient, memory.MemoryMailClient),
    (ports.DnsResolver, DnsLookup, memory.MemoryDns),
    (ports.Telemetry, AppInsightsTelemetry, memory.MemoryTelemetry),
    (ports.UndeliverableAddresses, UndeliverableAddresses, memory.MemoryUndeliverable),
    (ports.FilterStore, FilterStore, memory.MemoryFilters),
    (ports.SubscriptionStore, SubscriptionStore, memory.MemorySubscriptions),
]


def _methods(protocol) -> list[str]:
    return [name for name, value in vars(protocol).items()
            if not name.startswith("_") and (callable(value) or isinstance(value, property))]


def _shape(cls, name: str):
    member = inspect.getattr_static(cls, name)
    if isinstance(member, property):
        return "property"
    return [(p.name, p.kind, p.default) for p in inspect.signature(member).parameters.values()]


@pytest.mark.parametrize("protocol, adapter, fake", PAIRS, ids=[p[0].__name__ for p in PAIRS])
def test_the_adapter_and_the_memory_port_have_the_port_signatures(protocol, adapter, fake):
    names = _methods(protocol)
    assert names, f"{protocol.__name__} declares no methods"
    for name in names:
        expected = _shape(protocol, name)
        assert _shape(adapter, name) == expected, f"{adapter.__name__}.{name}"
        assert _shape(fake, name) == expected, f"{fake.__name__}.{name}"


def test_ports_import_no_sdk():
    code = ("import sys, shared_code.ports; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('azure', 'msal', 'requests')))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"


def test_the_pipeline_context_is_typed_with_the_ports():
    from typing import get_type_hints

    from shared_code.pipeline import PipelineContext

    hints = get_type_hints(PipelineContext)

    assert {name: hints[name] for name in ("index", "tickets", "blobs", "queues", "syslog")} == {
        "index": ports.MessageIndex, "tickets": ports.TicketStore, "blobs": ports.BlobStore,
        "queues": ports.QueueSender, "syslog": ports.SystemLog}


def test_the_memory_ports_the_unit_tier_runs_the_pipeline_on_are_the_ports():
    for port, fake in ((ports.TicketStore, memory.MemoryTickets()),
                       (ports.IngestLedger, memory.MemoryIngestLedger()),
                       (ports.QuarantineRepository, memory.MemoryQuarantine()),
                       (ports.Deliveries, memory.MemoryDeliveries())):
        assert isinstance(fake, port), port.__name__
