"""One queue message per unit of work: a batch of one ticket's notifications, claimed in one
transaction on the ticket's partition and recorded in another (counted at the HTTP layer by
the benchmarks' proxy), each notification with its own outcome."""
from __future__ import annotations

import pytest

from benchmarks.harness import StorageProxy
from shared_code.adapters.deliveries import Deliveries, queued_row
from shared_code.adapters.names import OUTBOUND_MAIL
from shared_code.domain.notifications import new_notification
from shared_code.services.outbound_queue import drain_outbound

from . import AGENT, ALERTS, CLIENT, SUPPORT, SYSTEM, desk, new_ticket, sent  # noqa: F401  (desk is a fixture)


def _to(message) -> str:
    [address] = message["To"].addresses
    return address.addr_spec


def batch_message(ticket_number: str, notifications: list[dict]) -> dict:
    """The message shape the producers send (docs/architecture.md → Notification queue)."""
    return {"schema": "deskmail.batch/1", "ticket_number": ticket_number,
            "notifications": notifications}


def _queue_batch(desk, ticket, *specs) -> list[dict]:
    """What a mail's or a staff action's transaction does: the `queued` n- rows written in the
    ticket's partition (one transaction), then ONE queue message naming them."""
    notifications = [new_notification(template, ticket, recipient, event="test")
                     for template, recipient in specs]
    table = desk.connection.table_service.get_table_client("tickets")
    table.submit_transaction([("create", queued_row(n)) for n in notifications])
    desk.queues.send(OUTBOUND_MAIL, batch_message(ticket.number, notifications))
    return notifications


def _ticket_sent_out(desk, graph):
    """A ticket whose first notifications went out (the counters and tables exist)."""
    ticket, _ = new_ticket(desk, graph)
    drain_outbound(desk)
    graph.sent.clear()
    return ticket


@pytest.fixture
def proxied(azurite, desk):
    """The same helpdesk, its storage requests through the counting proxy."""
    from shared_code.services.helpdesk import Helpdesk
    from shared_code.adapters.storage import StorageConnection

    proxy = StorageProxy(azurite)
    try:
        yield proxy, Helpdesk(settings=desk.settings, connection=StorageConnection(
            {"AzureWebJobsStorage": proxy.connection_string()}))
    finally:
        proxy.stop()


def test_a_batch_is_claimed_in_one_transaction_and_recorded_in_one(desk, graph, proxied):
    proxy, counted = proxied
    ticket = _ticket_sent_out(desk, graph)
    first, second = _queue_batch(desk, ticket, ("ticket_closed", {"role": "client"}),
                                 ("ticket_closed", {"role": "address", "email": AGENT}))
    drain_outbound(counted, workers=1)  # warm: tables known, accounts and templates read
    proxy.reset()

    first, second = _queue_batch(desk, ticket, ("ticket_closed", {"role": "client"}),
                                 ("ticket_closed", {"role": "address", "email": AGENT}))
    results = drain_outbound(counted, workers=1)
    requests = proxy.snapshot()["requests"]

    assert [(r.id, r.outcome) for r in results] == [(first["id"], "sent"), (second["id"], "sent")]
    assert sorted(_to(m) for _, m in sent(graph)) == sorted([CLIENT, AGENT] * 2)
    tickets = {op: n for op, n in requests.items() if op.endswith(" tickets")}
    # the ticket is read once per message: by the rows' query itself when the ticket's row
    # `t` is in its partition (the ticket-partition store), else with one get
    in_partition = desk.connection.table_service.get_table_client("tickets").query_entities(
        "PartitionKey eq @pk and RowKey eq 't'", parameters={"pk": ticket.number})
    expected = {
        "table query tickets": 1,   # the rows of the batch (and the ticket's `t` row)
        "table batch tickets": 2,   # the claim, then the outcomes
    }
    if not list(in_partition):
        expected["table get tickets"] = 1
    assert tickets == expected
    assert requests["table replace sendcounters"] == 1  # both slots in one write
    assert requests["queue delete-message outbound-mail"] == 1
    for n in (first, second):
        row = Deliveries(desk.connection).get(n["id"], ticket=ticket.number)
        assert (row["state"], row["attempts"], row["PartitionKey"], row["RowKey"]) == (
            "sent", 1, ticket.number, "n-" + n["id"])


def test_a_batch_with_one_suppressed_and_one_sent_notification(desk, graph):
    ticket = _ticket_sent_out(desk, graph)
    kept, dropped = _queue_batch(desk, ticket, ("ticket_closed", {"role": "client"}),
                                 ("ticket_closed", {"role": "address", "email": SYSTEM}))

    results = drain_outbound(desk)

    assert {r.id: r.outcome for r in results} == {kept["id"]: "sent", dropped["id"]: "suppressed"}
    assert [_to(m) for _, m in sent(graph)] == [CLIENT]
    rows = Deliveries(desk.connection)
    assert rows.get(kept["id"], ticket=ticket.number)["state"] == "sent"
    suppressed = rows.get(dropped["id"], ticket=ticket.number)
    assert suppressed["state"] == "suppressed"
    assert "one of the helpdesk's own addresses" in suppressed["reason"]
    assert desk.queues.peek_all(OUTBOUND_MAIL) == []


def test_a_deferred_batch_later_sends_only_what_was_not_sent(desk, graph):
    ticket = _ticket_sent_out(desk, graph)
    closed, alert = _queue_batch(desk, ticket, ("ticket_closed", {"role": "client"}),
                                 ("assignment_alert", {"role": "staff", "email": AGENT}))
    # the alert account is throttled for this attempt (Retry-After 0: visible again at once)
    graph.fail_next(429, count=desk.settings.graph_max_retries + 1, retry_after=0,
                    path_contains=f"{ALERTS}/sendMail")

    results = drain_outbound(desk)

    assert [(r.id, r.outcome) for r in results] == [
        (closed["id"], "sent"), (alert["id"], "deferred"),      # first receive
        (closed["id"], "duplicate"), (alert["id"], "sent"),     # the same message, again
    ]
    assert len({r.queue_message_id for r in results}) == 1
    assert [box for box, _ in sent(graph)] == [SUPPORT, ALERTS]  # the client's mail went once
    rows = Deliveries(desk.connection)
    alert_row = rows.get(alert["id"], ticket=ticket.number)
    assert (alert_row["state"], alert_row["attempts"], alert_row["deferrals"]) == ("sent", 2, 1)
    assert rows.get(closed["id"], ticket=ticket.number)["attempts"] == 1
    assert desk.queues.peek_all(OUTBOUND_MAIL) == []


def test_a_single_notification_of_the_previous_shape_is_still_sent_once(desk, graph):
    """Messages queued by the previous code (one notification, no n- row) are claimed by
    inserting their row; a repeat finds it sent."""
    ticket = _ticket_sent_out(desk, graph)
    notification = new_notification("ticket_closed", ticket, {"role": "client"}, event="old")
    desk.queues.send(OUTBOUND_MAIL, notification)
    desk.queues.send(OUTBOUND_MAIL, notification)

    results = drain_outbound(desk, workers=1)

    assert [r.outcome for r in results] == ["sent", "duplicate"]
    assert len(graph.sent) == 1
    row = Deliveries(desk.connection).get(notification["id"], ticket=ticket.number)
    assert (row["state"], row["RowKey"]) == ("sent", "n-" + notification["id"])


def test_a_batch_naming_another_ticket_is_refused_for_that_notification(desk, graph):
    ticket = _ticket_sent_out(desk, graph)
    good = new_notification("ticket_closed", ticket, {"role": "client"}, event="test")
    stray = {**good, "id": "stray", "ticket_number": "999999"}
    table = desk.connection.table_service.get_table_client("tickets")
    table.create_entity(queued_row(good))
    desk.queues.send(OUTBOUND_MAIL, batch_message(ticket.number, [good, stray]))

    results = drain_outbound(desk)

    assert {r.id: r.outcome for r in results} == {"stray": "failed", good["id"]: "sent"}
    assert "is not the batch's" in [r for r in results if r.id == "stray"][0].reason
    assert len(graph.sent) == 1


def test_the_queue_trigger_reads_accounts_staff_and_templates_once_per_process(desk, graph,
                                                                               proxied):
    """The trigger runs once per message: the directory it reads is shared by the process
    (DIRECTORY_TTL_SECONDS), not read four times per message."""
    from shared_code.services.outbound_queue import handle_queue_message

    proxy, counted = proxied
    ticket = _ticket_sent_out(desk, graph)
    _queue_batch(desk, ticket, ("ticket_closed", {"role": "client"}))
    _queue_batch(desk, ticket, ("assignment_alert", {"role": "staff", "email": AGENT}))
    proxy.reset()

    for message, handle in desk.queues.receive(OUTBOUND_MAIL):
        [result] = handle_queue_message(counted, message, message_id=handle.id,
                                        pop_receipt=handle.pop_receipt)
        assert result.outcome == "sent"
    requests = proxy.snapshot()["requests"]

    assert len(graph.sent) == 2
    for table in ("emailaccounts", "departments", "staff", "templates"):
        assert requests[f"table query {table}"] == 1, table


def test_one_query_reads_the_ticket_its_thread_and_the_batch_rows(desk, graph, proxied):
    """Once the ticket lives in its partition (`t`, `e-…`, `m-…`, `n-…` rows), the sender's
    read of a batch brings the ticket, the thread (only when asked) and the rows together."""
    proxy, counted = proxied
    ticket = _ticket_sent_out(desk, graph)
    first, second = _queue_batch(desk, ticket, ("ticket_closed", {"role": "client"}),
                                 ("ticket_closed", {"role": "address", "email": AGENT}))
    table = desk.connection.table_service.get_table_client("tickets")
    pk = ticket.number
    table.submit_transaction([("upsert", {"PartitionKey": pk, "RowKey": key, "subject": "x"})
                              for key in ("t", "e-20261130T100000Z-a", "e-20261130T110000Z-b",
                                          "m-" + "0" * 40)])
    thread = sorted(e["RowKey"] for e in table.query_entities("PartitionKey eq @pk",
                                                              parameters={"pk": pk})
                    if e["RowKey"].startswith("e-"))  # the ticket's own entry and the two above
    proxy.reset()

    deliveries = Deliveries(counted.connection)
    with_thread = deliveries.read(pk, [first["id"], second["id"]], with_entries=True)
    without = deliveries.read(pk, [first["id"]])

    requests = proxy.snapshot()["requests"]
    requests.pop("table create-table tickets", None)  # once per process and endpoint
    assert requests == {"table query tickets": 2}
    assert with_thread.ticket["RowKey"] == "t"
    assert [e["RowKey"] for e in with_thread.entries] == thread
    assert {"e-20261130T100000Z-a", "e-20261130T110000Z-b"} < set(thread)
    assert set(with_thread.rows) == {first["id"], second["id"]}
    assert (without.entries, set(without.rows)) == (None, {first["id"]})


def test_a_batchs_slots_from_one_mailbox_are_taken_in_one_write_as_far_as_they_fit(desk):
    from shared_code.adapters.send_counters import SendCounters

    counters = SendCounters(desk.connection)
    t = 1_800_000_000.0
    assert counters.take_send_slots("a@x.example", [1] * 28, now=t) == (28, 0)
    # two of three fit; the third waits until the first minute's slots free up
    granted, wait = counters.take_send_slots("a@x.example", [1, 2, 1], now=t + 10)
    assert (granted, wait) == (2, 51)
    assert counters.take_send_slots("a@x.example", [1], now=t + 20) == (0, 41)
    assert SendCounters(desk.connection).take_send_slot("a@x.example", 1, now=t + 61) == 0
