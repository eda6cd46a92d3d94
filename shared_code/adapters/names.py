"""Every table, blob container and queue the app uses, named once.

Adapters import their names from here, so the Bicep template, the migration and the
benchmarks can list the whole storage layout from one place (docs/storage-design.md).
"""
from __future__ import annotations

# tables
TICKETS = "tickets"  # one partition per ticket: t, e-<entry>, m-<marker>, n-<notification>
MESSAGE_INDEX = "messageindex"
INGEST_LEDGER = "ingestledger"
EMAIL_ACCOUNTS = "emailaccounts"
DEPARTMENTS = "departments"
STAFF = "staff"
TEMPLATES = "templates"
SYSTEM_LOG = "systemlog"
SEND_COUNTERS = "sendcounters"
DELIVERIES = "deliveries"
QUARANTINE = "quarantine"
IDEMPOTENCY = "apirequests"
RECONCILE_MARKS = "reconcilemarks"  # mails a reconciliation reported unaccounted for
UNDELIVERABLE = "undeliverable"  # addresses a permanent bounce reported (adapters/undeliverable.py)
FILTERS = "filters"  # the admins' inbound filters (domain/filters.py)
SUBSCRIPTIONS = "graphsubscriptions"  # push: one Graph subscription per fetched account
SYSTEM_MAIL = "systemmail"  # system mail that failed for good (adapters/system_mail_store.py)
# tables of the layout before issue 7, read only by `migrate`
OLD_TICKET_ENTRIES = "ticketentries"
OLD_CLIENTS = "clients"
OLD_OUTBOX = "outbox"
OLD_TICKET_PARTITION = "ticket"  # the PartitionKey of every ticket row in the old `tickets`

# blob containers
RAW_MAIL = "raw-mail"
ATTACHMENTS = "attachments"
BODIES = "bodies"
LEASES = "fetch-leases"

# queues
FETCH_JOBS = "fetch-jobs"
OUTBOUND_MAIL = "outbound-mail"
OUTBOUND_POISON = "outbound-mail-poison"
FETCH_POISON = "fetch-jobs-poison"  # fetch jobs received too often (functions/fetch.py)

TABLES = (TICKETS, MESSAGE_INDEX, INGEST_LEDGER, EMAIL_ACCOUNTS, DEPARTMENTS, STAFF, TEMPLATES,
          SYSTEM_LOG, SEND_COUNTERS, DELIVERIES, QUARANTINE, IDEMPOTENCY, RECONCILE_MARKS,
          UNDELIVERABLE, FILTERS, SUBSCRIPTIONS, SYSTEM_MAIL)
CONTAINERS = (RAW_MAIL, ATTACHMENTS, BODIES, LEASES)
QUEUES = (FETCH_JOBS, OUTBOUND_MAIL, OUTBOUND_POISON, FETCH_POISON)
POISON_QUEUES = frozenset({OUTBOUND_POISON, FETCH_POISON})
