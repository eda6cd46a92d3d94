"""The outbound functions invoked as the host would: the HTTP API, the queue and poison triggers."""
from __future__ import annotations

import json

import azure.functions as func

from shared_code.adapters.deliveries import Deliveries
from shared_code.adapters.names import OUTBOUND_MAIL
from shared_code.services.outbound_queue import drain_outbound, failed_notifications
from shared_code.adapters.names import OUTBOUND_POISON

from . import AGENT, CLIENT, SUPPORT, desk, new_ticket, sent  # noqa: F401  (desk: fixture)


def _function(name: str):
    """The registered function's Python callable (the app itself is indexed in
    tests/test_function_app.py; indexing it twice in one process is refused)."""
    from functions import outbound

    return getattr(outbound, name).build().get_user_function()


def _post(payload) -> tuple[int, dict]:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    request = func.HttpRequest("POST", "http://localhost:7071/api/notifications", body=data,
                               headers={"Content-Type": "application/json"})
    response = _function("enqueue_notification")(request)
    assert response.mimetype == "application/json"
    return response.status_code, json.loads(response.get_body())


def _ticket(desk, graph):
    ticket, _ = new_ticket(desk, graph)
    drain_outbound(desk)
    graph.sent.clear()
    return ticket


def test_enqueue_answers_202_with_the_id_and_the_mail_goes_out(desk, graph):
    ticket = _ticket(desk, graph)
    status, answer = _post({"template": "ticket_closed", "ticket_number": ticket.number,
                            "recipient": {"role": "client"},
                            "actor": {"name": "Andy Agent", "email": AGENT}})
    assert status == 202
    [message] = desk.queues.peek_all(OUTBOUND_MAIL)
    assert (message["schema"], message["ticket_number"]) == ("deskmail.batch/1", ticket.number)
    [queued] = message["notifications"]
    assert queued["id"] == answer["id"]
    assert (queued["schema"], queued["event"], queued["department"]) == (
        "deskmail.notification/1", "api.request", "Support")
    assert queued["created"]
    assert Deliveries(desk.connection).get(answer["id"])["state"] == "queued"

    [result] = drain_outbound(desk)
    assert (result.id, result.outcome) == (answer["id"], "sent")
    [(box, mail)] = sent(graph)
    assert box == SUPPORT and mail["Subject"] == f"[#{ticket.number}] Closed: Printer on fire"
    assert [a.addr_spec for a in mail["To"].addresses] == [CLIENT]


def test_enqueue_refuses_bad_requests_naming_the_field(desk, graph):
    ticket = _ticket(desk, graph)
    good = {"template": "ticket_closed", "ticket_number": ticket.number, "recipient": {"role": "client"}}
    cases = [
        (b"{not json", "JSON"),
        ([1, 2], "JSON object"),
        ({**good, "template": "birthday"}, "unknown template 'birthday'"),
        ({k: v for k, v in good.items() if k != "recipient"}, "'recipient' is required"),
        ({**good, "ticket_number": "12"}, "ticket_number must be 6 digits"),
        ({**good, "recipient": {"role": "everyone"}}, "recipient.role"),
        ({**good, "recipient": {"role": "address"}}, "recipient.email is required"),
        ({**good, "sender": "me"}, "unknown field 'sender'"),
        ({**good, "id": 7}, "field 'id'"),
        ({**good, "ticket_number": 108749}, "field 'ticket_number' must be a string"),
        ({**good, "template": ["ticket_closed"]}, "field 'template' must be a string"),
        ({**good, "recipient": {"role": "client", "cc": "x@y.example"}}, "field 'recipient'"),
        ({**good, "recipient": {"role": "address", "email": 5}}, "'recipient.email' must be a string"),
        ({**good, "actor": {"name": "A", "email": None}}, "'actor.email' must be a string"),
        ({**good, "in_reply_to": ["a@b"]}, "field 'in_reply_to' must be a string"),
        ({**good, "references": ["a@b", 3]}, "references"),
        ({**good, "previous_department": 1}, "field 'previous_department' must be a string"),
        ({**good, "references": "x@y"}, "references"),
        ({**good, "actor": "me"}, "'actor'"),
    ]
    for payload, message in cases:
        status, answer = _post(payload)
        assert status == 400, payload
        assert message in answer["error"], (payload, answer)
    assert desk.queues.peek_notifications(OUTBOUND_MAIL) == []


def test_enqueue_for_an_unknown_ticket_is_404(desk):
    status, answer = _post({"template": "ticket_closed", "ticket_number": "999999",
                            "recipient": {"role": "client"}})
    assert (status, answer) == (404, {"error": "no ticket #999999"})
    assert desk.queues.peek_notifications(OUTBOUND_MAIL) == []


def test_queue_trigger_sends_and_a_redelivery_does_nothing(desk, graph):
    ticket = _ticket(desk, graph)
    _post({"template": "ticket_closed", "ticket_number": ticket.number, "recipient": {"role": "client"}})
    [(queued, handle)] = desk.queues.receive(OUTBOUND_MAIL)
    [notification] = queued["notifications"]
    message = func.QueueMessage(body=json.dumps(queued).encode())
    _function("send_notification")(message)
    _function("send_notification")(message)
    assert len(graph.sent) == 1
    assert Deliveries(desk.connection).get(notification["id"])["state"] == "sent"


def test_queue_trigger_refuses_a_message_that_is_not_a_notification(desk):
    _function("send_notification")(func.QueueMessage(body=b"not json"))
    [logged] = [r for r in desk.syslog.list() if r["title"] == "Notification refused"]
    assert "a notification must be a JSON object" in logged["message"]


def test_poison_trigger_records_the_failure(desk, graph):
    ticket = _ticket(desk, graph)
    _post({"template": "ticket_closed", "ticket_number": ticket.number, "recipient": {"role": "client"}})
    [queued] = desk.queues.peek_all(OUTBOUND_MAIL)
    [notification] = queued["notifications"]
    _function("record_failed_notification")(func.QueueMessage(body=json.dumps(queued).encode()))
    [row] = failed_notifications(desk)
    assert row["id"] == notification["id"] and OUTBOUND_POISON in row["error"]
    assert any(r["title"] == "Notification failed" for r in desk.syslog.list())
