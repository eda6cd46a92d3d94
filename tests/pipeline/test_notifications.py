"""Rule 7, notifications: what a stored mail puts on `outbound-mail` (one batch message per
mail, its notifications stored as `n-` rows by the same transaction as the mail), in the
documented schema (docs/architecture.md#notification-queue)."""
from __future__ import annotations

import base64
import json
from datetime import datetime

import pytest

from shared_code.adapters.names import OUTBOUND_MAIL
from shared_code.adapters.table_base import digest
from shared_code.pipeline.notifications import notifications

from . import (
    ANN_ADDRESS,
    SUPPORT,
    SimulatedCrash,
    compose,
    crash_at,
    make_ctx,
    queued_notifications,
    store_mail,
    support_account,
)

# the fields docs/architecture.md documents (the schema may carry more)
FIELDS = {"schema", "id", "template", "event", "ticket_number", "entry_id", "department", "account",
          "recipient", "sender", "in_reply_to", "references", "created"}


def _queued(desk) -> list[dict]:
    return queued_notifications(desk)


def _suppressed(desk) -> list[dict]:
    return [e for e in desk.syslog.list() if e["title"] == "Auto-response suppressed"]


def _new_ticket(ctx, **compose_args):
    mail = store_mail(compose(**compose_args), ctx)
    assert mail.outcome == "created"
    return mail


def test_a_new_ticket_gets_an_auto_response_and_a_department_alert(desk, ctx):
    mail = _new_ticket(ctx)

    notifications(mail, ctx)

    assert [n["template"] for n in mail.notifications] == ["new_ticket_auto_response", "new_ticket_alert"]
    assert _queued(desk) == json.loads(json.dumps(mail.notifications))
    auto, alert = mail.notifications
    assert auto["recipient"] == {"role": "client", "name": "Ann Client", "email": ANN_ADDRESS}
    assert alert["recipient"] == {"role": "department_alerts"}
    rows = desk.tickets.notification_rows(mail.ticket.number)  # the transactional outbox
    assert sorted(r["RowKey"] for r in rows) == sorted("n-" + n["id"] for n in mail.notifications)
    assert {r["state"] for r in rows} == {"queued"}
    [message] = desk.queues.peek_all(OUTBOUND_MAIL)  # one queue message for the mail
    assert (message["schema"], message["ticket_number"]) == ("deskmail.batch/1", mail.ticket.number)
    assert _suppressed(desk) == []


def test_each_notification_follows_the_schema(ctx):
    mail = _new_ticket(ctx, references="<a@example.org> <b@example.org>")

    notifications(mail, ctx)

    for note in mail.notifications:
        assert FIELDS <= set(note)
        assert note["schema"] == "deskmail.notification/1"
        assert note["id"] == digest(f"{mail.key}|{note['template']}", 32)
        assert len(note["id"]) == 32 and int(note["id"], 16) >= 0
        assert note["event"] == "ticket.created"
        assert (note["ticket_number"], note["entry_id"]) == (mail.ticket.number, mail.entry.entry_id)
        assert (note["department"], note["account"]) == ("Support", SUPPORT)
        assert note["sender"] == {"name": "Ann Client", "email": ANN_ADDRESS}
        assert note["in_reply_to"] == mail.key
        assert note["references"] == ["a@example.org", "b@example.org", mail.key]
        assert datetime.fromisoformat(note["created"]).utcoffset() is not None
    assert len({n["id"] for n in mail.notifications}) == 2


def test_references_keep_the_last_twenty_ending_with_the_mail(ctx):
    chain = " ".join(f"<r{i}@example.org>" for i in range(30))
    mail = _new_ticket(ctx, references=chain)

    notifications(mail, ctx)

    refs = mail.notifications[0]["references"]
    assert len(refs) == 20 and refs[-1] == mail.key and refs[0] == "r11@example.org"


def test_messages_are_base64_json_on_the_queue(desk, ctx):
    """The Functions queue trigger expects base64 by default."""
    mail = _new_ticket(ctx)

    notifications(mail, ctx)

    raw_queue = desk.connection.queue_service.get_queue_client(OUTBOUND_MAIL)
    [body] = [json.loads(base64.b64decode(m.content)) for m in raw_queue.peek_messages(max_messages=32)]
    assert body["schema"] == "deskmail.batch/1"
    assert sorted(n["template"] for n in body["notifications"]) == [
        "new_ticket_alert", "new_ticket_auto_response"]


def test_no_auto_response_when_the_account_has_it_off(desk, ctx):
    mail = store_mail(compose(), ctx, account=support_account(auto_response=False))

    notifications(mail, ctx)

    assert [n["template"] for n in _queued(desk)] == ["new_ticket_alert"]
    assert _suppressed(desk) == []


@pytest.mark.parametrize("sender", ["no-reply@vendor.example", "DoNotReply@vendor.example",
                                    "Shop <noreply+orders@shop.example>"])
def test_no_auto_response_to_a_no_reply_sender_and_the_log_says_so(desk, ctx, sender):
    mail = _new_ticket(ctx, sender=sender)

    notifications(mail, ctx)

    assert [n["template"] for n in _queued(desk)] == ["new_ticket_alert"]
    [entry] = _suppressed(desk)
    assert entry["level"] == "info" and entry["account"] == SUPPORT
    assert mail.parsed.from_address in entry["message"]
    assert f"#{mail.ticket.number}" in entry["message"]


def test_a_reply_alerts_the_assignee_or_department_only(desk, ctx):
    first = _new_ticket(ctx, message_id="<first@example.org>")
    reply = store_mail(compose(subject="Re: Printer on fire", in_reply_to="<first@example.org>"), ctx)
    assert reply.outcome == "threaded"

    notifications(reply, ctx)

    [note] = _queued(desk)
    assert note["template"] == "new_message_alert"
    assert note["event"] == "message.received"
    assert note["recipient"] == {"role": "assignee_or_department"}
    assert (note["ticket_number"], note["entry_id"]) == (first.ticket.number, reply.entry.entry_id)


def test_a_replay_sends_the_same_notifications_again(desk, ctx):
    """The second run is a replay (the ledger was not finished): the batch goes again with the
    same ids, and the sender, which claims by id, sends each once (tests/outbound)."""
    mail = _new_ticket(ctx)

    notifications(mail, ctx)
    mail.resumed = True
    notifications(mail, ctx)

    queued = _queued(desk)
    assert len(queued) == 4 and len({n["id"] for n in queued}) == 2


def test_a_crash_between_the_transaction_and_the_enqueue_is_repaired_by_the_replay(desk):
    raw = compose(message_id="<crash@example.org>")
    with pytest.raises(SimulatedCrash):
        store_mail(raw, make_ctx(desk, checkpoint=crash_at("ticket_written")), graph_id="AAMk-1")
    assert _queued(desk) == []
    [ticket] = desk.tickets.list()
    assert len(desk.tickets.notification_rows(ticket.number)) == 2  # stored with the mail

    replay = store_mail(raw, make_ctx(desk), graph_id="AAMk-1")  # a new run: the claim is loaded
    notifications(replay, make_ctx(desk))

    assert replay.outcome == "created" and replay.ticket.number == ticket.number
    queued = _queued(desk)
    assert [n["template"] for n in queued] == ["new_ticket_auto_response", "new_ticket_alert"]
    assert [n["id"] for n in queued] == [n["id"] for n in replay.notifications]
    assert len(desk.tickets.entries(ticket.number)) == 1
