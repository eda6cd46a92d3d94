"""`POST /api/notifications`: idempotency keys, and recipients limited to the ticket's
participants and the staff directory (invoked as the host would)."""
from __future__ import annotations

import json

import azure.functions as func

from shared_code.adapters.names import OUTBOUND_MAIL
from shared_code.services.outbound_queue import drain_outbound

from . import AGENT, CLIENT, desk, new_ticket, queued_notifications  # noqa: F401  (desk is a fixture)


def _post(payload, key: str | None = None) -> tuple[int, dict]:
    from functions import outbound

    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    request = func.HttpRequest("POST", "http://localhost:7071/api/notifications",
                               body=json.dumps(payload).encode(), headers=headers)
    response = outbound.enqueue_notification.build().get_user_function()(request)
    return response.status_code, json.loads(response.get_body())


def _ticket(desk, graph, **kw):
    ticket, _ = new_ticket(desk, graph, **kw)
    drain_outbound(desk)
    graph.sent.clear()
    return ticket


def _closed(ticket, **extra) -> dict:
    return {"template": "ticket_closed", "ticket_number": ticket.number,
            "recipient": {"role": "client"}, **extra}


def test_the_same_idempotency_key_twice_queues_once_and_answers_the_same(desk, graph):
    ticket = _ticket(desk, graph)

    first = _post(_closed(ticket), key="close-108749-try")
    again = _post(_closed(ticket), key="close-108749-try")

    assert first[0] == 202 and again == first
    assert [n["id"] for n in queued_notifications(desk)] == [first[1]["id"]]
    assert [r.outcome for r in drain_outbound(desk)] == ["sent"]
    assert _post(_closed(ticket), key="close-108749-try") == first  # also after sending
    assert desk.queues.peek_all(OUTBOUND_MAIL) == [] and len(graph.sent) == 1


def test_the_key_may_be_the_id_field_and_matches_the_same_header(desk, graph):
    ticket = _ticket(desk, graph)

    first = _post(_closed(ticket, id="req-1"))
    by_header = _post(_closed(ticket), key="req-1")  # the same key, given the other way
    both = _post(_closed(ticket, id="req-1"), key="req-1")

    assert first[0] == 202 and by_header == first and both == first
    assert len(desk.queues.peek_all(OUTBOUND_MAIL)) == 1
    other = _post(_closed(ticket, id="req-2"))
    assert other[0] == 202 and other[1]["id"] != first[1]["id"]
    assert len(desk.queues.peek_all(OUTBOUND_MAIL)) == 2


def test_the_same_key_with_another_request_is_409_and_queues_nothing(desk, graph):
    ticket = _ticket(desk, graph)
    assert _post(_closed(ticket), key="k1")[0] == 202

    status, answer = _post({**_closed(ticket), "template": "response"}, key="k1")

    assert status == 409 and "different request" in answer["error"]
    assert len(desk.queues.peek_all(OUTBOUND_MAIL)) == 1


def test_bad_keys_are_400_and_remembered_nowhere(desk, graph):
    ticket = _ticket(desk, graph)
    assert _post(_closed(ticket, id="a"), key="b") == (
        400, {"error": "the Idempotency-Key header and field 'id' differ"})
    assert "Idempotency-Key must be 1 to 200" in _post(_closed(ticket), key="x" * 201)[1]["error"]
    assert "field 'id'" in _post(_closed(ticket, id=""))[1]["error"]
    # a refused request with a key does not use the key up
    assert _post(_closed(ticket, recipient={"role": "address", "email": "x@evil.example"}),
                 key="k2")[0] == 400
    assert _post(_closed(ticket), key="k2")[0] == 202
    assert len(desk.queues.peek_all(OUTBOUND_MAIL)) == 1


def test_recipients_outside_the_ticket_and_the_staff_directory_are_refused(desk, graph):
    ticket = _ticket(desk, graph, headers={"Cc": "Carl Colleague <carl@example.org>"})
    assert ticket.collaborators == ["carl@example.org"]

    for recipient, message in (
            ({"role": "address", "email": "mallory@evil.example"},
             "mallory@evil.example is neither a participant of ticket"),
            ({"role": "staff", "email": "mallory@evil.example"},
             "mallory@evil.example is not in the staff directory"),
            ({"role": "staff", "email": CLIENT}, f"{CLIENT} is not in the staff directory"),
            ({"role": "address", "email": "not an address@example.org"}, "'recipient.email' is not an email")):
        status, answer = _post(_closed(ticket, recipient=recipient))
        assert status == 400, recipient
        assert message in answer["error"] and "recipient.email" in answer["error"], answer
    assert desk.queues.peek_all(OUTBOUND_MAIL) == []

    for recipient in ({"role": "address", "email": CLIENT.upper()},  # the client
                      {"role": "address", "email": "carl@example.org"},  # a collaborator
                      {"role": "address", "email": AGENT},  # staff
                      {"role": "staff", "email": AGENT}):
        assert _post(_closed(ticket, recipient=recipient))[0] == 202, recipient
    assert len(desk.queues.peek_all(OUTBOUND_MAIL)) == 4


def test_a_key_whose_first_request_died_before_queueing_is_finished_by_a_retry(desk, graph):
    from datetime import datetime, timedelta, timezone

    from shared_code.adapters.idempotency import IdempotencyKeys, fingerprint
    from shared_code.services.notification_requests import PENDING_KEY_SECONDS, submit

    ticket = _ticket(desk, graph)
    request = _closed(ticket)
    # the first request took the key, then its worker died before queueing anything
    IdempotencyKeys(desk.connection).take("k-died", fingerprint(request), "api-unused")
    now = datetime.now(timezone.utc)

    soon = submit(desk, request, "k-died", now=now)
    assert soon.status == 409 and "still being processed" in soon.payload["error"]
    assert desk.queues.peek_all(OUTBOUND_MAIL) == []

    later = submit(desk, request, "k-died", now=now + timedelta(seconds=PENDING_KEY_SECONDS + 1))
    assert later.status == 202
    assert [n["id"] for n in queued_notifications(desk)] == [later.payload["id"]]
    assert _post(request, key="k-died") == (202, later.payload)  # remembered from now on
    assert len(desk.queues.peek_all(OUTBOUND_MAIL)) == 1


def test_racing_requests_with_one_key_queue_once(desk, graph):
    import threading

    from shared_code.services.helpdesk import Helpdesk
    from shared_code.services.notification_requests import submit

    ticket = _ticket(desk, graph)
    start, answers = threading.Barrier(4), []

    def client():
        own = Helpdesk.from_env()
        start.wait()
        answers.append(submit(own, _closed(ticket), "race-1"))

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert len(answers) == 4 and {a.status for a in answers} <= {202, 409}
    assert len({a.payload["id"] for a in answers if a.status == 202}) == 1
    assert len(desk.queues.peek_all(OUTBOUND_MAIL)) == 1
