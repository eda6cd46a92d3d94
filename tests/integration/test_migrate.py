"""`migrate`: a store written by the previous code (tickets with PartitionKey "ticket",
ticketentries, clients, outbox, deliveries) is copied into one partition per ticket and
read back through the new store; idempotent, with a dry run."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from shared_code.domain.model import Party, Status
from shared_code.pipeline import run_pipeline
from tests.pipeline import compose, inbound, make_ctx

from .helpers import run_cli

CREATED = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
FIRST_SEEN = datetime(2026, 10, 1, 8, 0, tzinfo=timezone.utc)


def _write_old_store(desk) -> None:
    """Rows exactly as the previous code's repositories wrote them (adapters/tables.py)."""
    service = desk.connection.table_service

    def table(name):
        service.create_table_if_not_exists(name)
        return service.get_table_client(name)

    table("tickets").create_entity({
        "PartitionKey": "ticket", "RowKey": "482913", "subject": "Printer on fire",
        "status": "open", "priority": "high", "department": "Support",
        "client_name": "Ann Client", "client_email": "ann@example.org", "created": CREATED,
        "account": "support@contoso.example", "collaborators": json.dumps(["bob@example.org"]),
        "last_message_at": CREATED, "last_message_id": "old-reply@example.org",
        "last_message_entry": "20261120T090500000000Z-bbbbbbbbbbbb", "message_count": 2,
        "source_key": "old-first@example.org", "assignee": "", "closed_at": None,
        "overdue_alerted_for": "", "answered_for": "", "answered_at": None})
    entries = table("ticketentries")
    for entry_id, message_id, kind, body in (
            ("20261120T090000000000Z-aaaaaaaaaaaa", "old-first@example.org", "message", "It burns."),
            ("20261120T090200000000Z-cccccccccccc", "deskmail.resp1@desk.contoso.example",
             "response", "Switch it off."),
            ("20261120T090500000000Z-bbbbbbbbbbbb", "old-reply@example.org", "message", "Done.")):
        entries.create_entity({
            "PartitionKey": "482913", "RowKey": entry_id, "type": kind,
            "from_name": "Ann Client", "from_email": "ann@example.org", "message_id": message_id,
            "date": CREATED, "subject": "Printer on fire", "body_text": body,
            "body_text_blob": "", "body_html": "", "body_html_blob": "", "attachments": "[]",
            "attachments_blob": "", "rejected_attachments": "[]", "defects": "[]",
            "clipped": "[]", "source_account": "support@contoso.example", "raw_blob": ""})
    table("clients").create_entity({
        "PartitionKey": "client", "RowKey": "ann@example.org", "email": "ann@example.org",
        "name": "Ann Client", "last_seen": CREATED, "first_seen": FIRST_SEEN})
    table("outbox").create_entity({
        "PartitionKey": "notification", "RowKey": "n-sent", "state": "enqueued",
        "template": "new_ticket_alert", "ticket": "482913", "enqueued": CREATED})
    table("outbox").create_entity({
        "PartitionKey": "notification", "RowKey": "n-waiting", "state": "enqueued",
        "template": "new_message_alert", "ticket": "482913", "enqueued": CREATED})
    table("deliveries").create_entity({
        "PartitionKey": "ab", "RowKey": "n-sent", "id": "n-sent", "template": "new_ticket_alert",
        "ticket": "482913", "event": "ticket.created", "created": CREATED.isoformat(),
        "notification": json.dumps({"id": "n-sent"}), "state": "sent", "attempts": 1})
    desk.index.record("old-first@example.org", "482913", "inbound")
    desk.index.record("deskmail.resp1@desk.contoso.example", "482913", "outbound")


def test_an_old_store_is_migrated_and_read_through_the_new_store(desk, graph):
    _write_old_store(desk)

    code, dry = run_cli("migrate", "--dry-run", "--json")
    assert code == 0 and (dry["tickets"], dry["entries"], dry["notifications"]) == (1, 3, 2)
    assert desk.tickets.get("482913") is None  # a dry run writes nothing

    code, report = run_cli("migrate", "--json")
    assert code == 0
    assert (report["tickets"], report["entries"], report["markers"], report["notifications"]) == (
        1, 3, 2, 2)

    [ticket] = desk.tickets.list()
    assert (ticket.number, ticket.subject, ticket.status, ticket.message_count) == (
        "482913", "Printer on fire", Status.OPEN, 2)
    assert ticket.client == Party("Ann Client", "ann@example.org")
    assert ticket.client_first_seen == FIRST_SEEN and ticket.thread_token
    assert ticket.collaborators == ["bob@example.org"]
    thread = desk.tickets.entries("482913")
    assert [(e.type, e.body_text) for e in thread] == [
        ("message", "It burns."), ("response", "Switch it off."), ("message", "Done.")]
    assert desk.tickets.marker("482913", "old-reply@example.org")["entry_id"] == thread[2].entry_id
    states = {r["id"]: r["state"] for r in desk.tickets.notification_rows("482913")}
    assert states == {"n-sent": "sent", "n-waiting": "queued"}

    code, again = run_cli("migrate", "--json")  # idempotent
    assert (again["tickets"], again["entries"], again["notifications"]) == (0, 0, 0)
    assert again["already_there"] == 8
    assert len(desk.tickets.entries("482913")) == 3


def test_a_client_answering_our_old_message_id_threads_to_the_migrated_ticket(desk, graph):
    _write_old_store(desk)
    assert run_cli("migrate")[0] == 0

    reply = run_pipeline(inbound(compose(
        subject="Re: Printer on fire", sender="Ann Client <ann@example.org>",
        in_reply_to="<deskmail.resp1@desk.contoso.example>")), make_ctx(desk))

    assert (reply.outcome, reply.ticket.number) == ("threaded", "482913")
    ticket = desk.tickets.get("482913")
    assert ticket.message_count == 3 and len(desk.tickets.entries("482913")) == 4
    # a replayed old mail is still recognised: its marker was migrated
    again = run_pipeline(inbound(compose(subject="Re: Printer on fire", message_id="<old-reply@example.org>",
                                         in_reply_to="<old-first@example.org>")), make_ctx(desk))
    assert again.outcome == "duplicate"
    assert desk.tickets.get("482913").message_count == 3
