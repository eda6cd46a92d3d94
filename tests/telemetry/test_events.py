"""The app's telemetry lands as customEvents rows with the named dimensions of
domain/telemetry.py: a fetch run against Azurite and the Graph fake (with a new ticket, an
auto-reply, a forged staff mail and a mail that cannot be downloaded), a failed run, queue
depths, and notifications sent and failed; nothing secret or client-identifying in them."""
from __future__ import annotations

import json
import logging

from shared_code.adapters.names import OUTBOUND_MAIL, OUTBOUND_POISON, QUEUES
from shared_code.adapters.telemetry import AppInsightsTelemetry, exporter_state, reset_exporter_state
from shared_code.domain.telemetry import RECORDS, Event, FetchRun, Notification, QueueDepth
from shared_code.services.fetch import enqueue_fetch_jobs, fetch_all
from tests.fakes.exchange import from_internet
from tests.integration.helpers import SUPPORT, add_support_staff, make_mail, run_cli

from .rows import RESERVED, CustomEvents

AGENT = "agent@contoso.example"
CLIENT = "ann@example.org"


def _dims(row: dict) -> dict:
    return row["customDimensions"]


def _assert_shape(row: dict, record_type) -> None:
    """Every dimension the record names is there, as a string (as the exporter keeps it)."""
    dims = _dims(row)
    assert set(record_type.dimension_names()) <= set(dims), (row["name"], dims)
    assert all(isinstance(v, str) for v in dims.values())


def _mailbox_with_everything(graph) -> str:
    """A client mail, an auto-reply, a forged staff mail and a mail that cannot be downloaded;
    returns the client mail's Message-ID."""
    add_support_staff(AGENT)
    raw, message_id = make_mail(subject="Printer on fire", body="The printer is on fire.")
    graph.add_message(SUPPORT, raw)
    graph.add_message(SUPPORT, make_mail(subject="Out of office", headers={
        "Auto-Submitted": "auto-replied"})[0])
    graph.add_message(SUPPORT, from_internet(make_mail(
        subject="Refund", sender=f"Andy <{AGENT}>", body="Please wire the refund to me.")[0],
        spf="fail", dkim="none", dmarc="fail"))
    broken = graph.add_message(SUPPORT, make_mail(subject="Broken")[0])
    graph.break_message(SUPPORT, broken, 500)
    return message_id


def test_a_fetch_run_sends_its_counts_quarantine_and_spoof_events(desk, graph, events,
                                                                   mailbox_app):
    _mailbox_with_everything(graph)

    [summary] = fetch_all(desk)

    assert (summary.created, summary.discarded, summary.quarantined) == (2, 1, 1)
    [run] = events.named(Event.FETCH_RUN)
    _assert_shape(run, FetchRun)
    dims = _dims(run)
    assert dims["account"] == SUPPORT and dims["outcome"] == "success"
    assert {k: dims[k] for k in ("fetched", "tickets_created", "threaded", "discarded",
                                 "quarantined", "errors")} == {
        "fetched": str(summary.fetched), "tickets_created": "2", "threaded": "0", "discarded": "1",
        "quarantined": "1", "errors": str(len(summary.errors))}
    assert json.loads(dims["discarded_by_rule"]) == {"auto_reply": 1}
    assert int(dims["duration_ms"]) >= 0
    [quarantined] = events.named(Event.QUARANTINE)
    assert (_dims(quarantined)["account"], _dims(quarantined)["attempts"],
            _dims(quarantined)["again"]) == (SUPPORT, "1", "false")
    assert _dims(quarantined)["error_type"]  # a class or code, never the error's text
    [spoof] = events.named(Event.SPOOF_REJECTED)
    assert (_dims(spoof)["account"], _dims(spoof)["kind"]) == (SUPPORT, "staff")
    assert _dims(spoof)["verdict"] == "spoofed"
    # nothing secret, nothing from the mail, no client address
    everything = json.dumps(events.rows, default=str)
    for private in ("Printer on fire", "on fire.", "refund", CLIENT, mailbox_app["secret"],
                    "Out of office"):
        assert private not in everything, private


def test_a_failed_run_says_failed_with_the_error_type(desk, graph, events):
    graph.fail_next(503, count=5, path_contains="mailFolders")

    [summary] = fetch_all(desk)

    assert summary.errors
    [run] = events.named(Event.FETCH_RUN)
    assert (_dims(run)["outcome"], _dims(run)["errors"]) == ("failed", "1")
    assert _dims(run)["error_type"] == "GraphError"


def test_a_disabled_account_is_a_skipped_run(desk, events):
    assert run_cli("emails", "update", SUPPORT, "--no-fetch-enabled")[0] == 0

    fetch_all(desk, only=SUPPORT)

    [run] = events.named(Event.FETCH_RUN)
    assert _dims(run)["outcome"] == "skipped"


def test_the_fetch_timer_reports_every_queue_s_depth(desk, events):
    desk.queues.send(OUTBOUND_POISON, {"id": "n1"})

    enqueue_fetch_jobs(desk)

    depths = {_dims(r)["queue"]: (_dims(r)["depth"], _dims(r)["poison"])
              for r in events.named(Event.QUEUE_DEPTH)}
    assert depths == {"fetch-jobs": ("1", "false"), OUTBOUND_MAIL: ("0", "false"),
                      OUTBOUND_POISON: ("1", "true"), "fetch-jobs-poison": ("0", "true")}
    assert set(depths) == set(QUEUES)
    for row in events.named(Event.QUEUE_DEPTH):
        _assert_shape(row, QueueDepth)


def test_no_dimension_name_collides_with_a_log_record_attribute():
    # logging raises KeyError for an `extra` key naming a LogRecord attribute
    for record in RECORDS:
        assert not set(record.dimension_names()) & RESERVED, record


def test_emitting_never_raises_and_logs_without_a_connection_string(monkeypatch, caplog):
    monkeypatch.delenv("APPLICATIONINSIGHTS_CONNECTION_STRING", raising=False)
    reset_exporter_state()
    assert exporter_state().startswith("log only")

    class Broken:
        EVENT = Event.FETCH_RUN

        def dimensions(self):
            raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="deskmail.telemetry.setup"):
        AppInsightsTelemetry().emit(Broken())
    assert "could not send a telemetry event" in caplog.text
    with CustomEvents() as recorder:
        AppInsightsTelemetry().emit(QueueDepth("fetch-jobs", 3, False))
    assert recorder.rows[0]["name"] == "deskmail.queue_depth"
    assert _dims(recorder.rows[0])["depth"] == "3"
    reset_exporter_state()


# ---------------------------------------------------------------- notifications


def test_notifications_report_outcome_template_sender_and_graph_error_code(desk, graph,
                                                                          events):
    from shared_code.services.outbound_queue import drain_outbound

    assert run_cli("departments", "add", "Support", "--alert-recipients", AGENT)[0] == 0
    graph.add_message(SUPPORT, make_mail()[0])
    fetch_all(desk)
    graph.fail_next(403, path_contains="sendMail", code="ErrorAccessDenied",
                    message="Access is denied. Check credentials and try again.")

    results = drain_outbound(desk)

    rows = events.named(Event.NOTIFICATION)
    assert len(rows) == len(results) >= 1
    for row in rows:
        _assert_shape(row, Notification)
    failed = [_dims(r) for r in rows if _dims(r)["outcome"] == "failed"]
    # Graph's refusal, from the department mailbox; the staff alert has no Alert account here
    assert ("ErrorAccessDenied", SUPPORT, "new_ticket_auto_response") in {
        (d["error_code"], d["sender"], d["template"]) for d in failed}
    assert all(d["error_code"] for d in failed)
    assert {d["template"] for d in failed} <= {r.template for r in results}
    assert CLIENT not in json.dumps(rows, default=str)
