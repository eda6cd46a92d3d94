"""A large response (over Graph's 4 MB request limit: a draft, upload sessions, send) whose
first attempt dies mid-upload or after the send: the retry leaves no draft behind and mails
the client exactly once. A kill is simulated by faults of the Graph fake: the upload fails and
the attempt's own clean-up never reaches Graph (its DELETE fails), as when the process is
killed (Functions timeout, scale-in, OOM) before its `except` runs."""
from __future__ import annotations

import base64
from email import message_from_bytes, policy

import pytest

from shared_code.adapters.graph.large_send import delete_leftover_drafts
from shared_code.services.outbound_queue import drain_outbound

from tests.integration.helpers import SUPPORT

from .conftest import api_post
from .ticket_setup import quiet_ticket

BIG = bytes(range(256)) * (5 * 1024 * 4)  # 5 MiB: over the 4 MB request limit
CLIENT = b"ann@example.org"


@pytest.fixture
def ticket(desk, graph):
    return quiet_ticket(desk, graph)


def _reply_with_big_file(as_staff, number: int) -> None:
    answer = api_post(as_staff, f"/api/v1/tickets/{number}/reply", {
        "text": "The dump.", "attachments": [
            {"name": "dump.bin", "content_base64": base64.b64encode(BIG).decode()}]})
    assert answer.status_code == 201


def _to_client(graph) -> list[bytes]:
    return [raw for _, raw in graph.sent if CLIENT in raw.split(b"\r\n\r\n", 1)[0]]


def _drafts(graph) -> list[dict]:
    return [m for m in graph.messages(SUPPORT, "drafts") if m["isDraft"]]


def _killed_mid_upload(graph) -> None:
    """The next upload PUT fails and the attempt's DELETE of its draft never lands."""
    graph.fail_next(500, path_contains="/upload/", method="PUT")
    graph.fail_next(400, path_contains="/messages/AAMkDraft", method="DELETE",
                    message="Injected: the process was killed before its clean-up")


def test_a_draft_left_by_a_killed_upload_is_deleted_by_the_retry(as_staff, desk, graph, ticket):
    _reply_with_big_file(as_staff, ticket.number)
    _killed_mid_upload(graph)
    graph.requests.clear()
    drain_outbound(desk, release_after=0)  # the failed attempt, then the retry
    [sent] = _to_client(graph)
    mail = message_from_bytes(sent, policy=policy.default)
    assert {p.get_filename(): p.get_payload(decode=True) for p in mail.iter_attachments()} == {"dump.bin": BIG}
    assert _drafts(graph) == [] and graph.drafts.drafts == {}
    creates = [r for r in graph.requests if r.method == "POST" and r.path.endswith(f"/users/{SUPPORT}/messages")]
    assert len(creates) == 2  # the killed attempt's draft and the retry's
    lookups = [r for r in graph.requests if r.method == "GET" and "/mailFolders/drafts/messages" in r.path]
    assert lookups and all("internetMessageId eq '<" in r.path for r in lookups)
    deletes = [r for r in graph.requests if r.method == "DELETE" and r.status == 204]
    assert len(deletes) == 1  # the leftover, deleted by the retry before it made its own


def test_a_persons_draft_and_another_notifications_draft_are_left_alone(as_staff, desk, graph, ticket):
    _reply_with_big_file(as_staff, ticket.number)
    own = graph.add_message(SUPPORT, "From: support@contoso.example\r\nTo: x@example.org\r\n"
                            "Subject: half-written by a person\r\nMessage-ID: <mine@contoso.example>\r\n\r\n"
                            "draft\r\n", folder="drafts", is_draft=True)
    other = graph.add_message(SUPPORT, "From: support@contoso.example\r\nTo: y@example.org\r\n"
                              "Subject: another notification\r\nMessage-ID: <other-notification@desk.example>"
                              "\r\n\r\nx\r\n", folder="drafts", is_draft=True)
    _killed_mid_upload(graph)
    drain_outbound(desk, release_after=0)
    assert len(_to_client(graph)) == 1
    assert {m["id"] for m in _drafts(graph)} == {own, other}


def test_only_drafts_with_the_message_id_are_deleted_never_sent_mail(desk, graph):
    """The guard itself: a sent copy (in Sent Items, or moved into Drafts by a person: isDraft
    false) with the same Message-ID stays; only the draft goes."""
    raw = ("From: support@contoso.example\r\nTo: ann@example.org\r\nSubject: files\r\n"
           "Message-ID: <n-42@desk.example>\r\n\r\nsee files\r\n")
    sent_copy = graph.add_message(SUPPORT, raw, folder="sentitems", is_read=True)
    moved_copy = graph.add_message(SUPPORT, raw, folder="drafts", is_read=True)
    leftover = graph.add_message(SUPPORT, raw, folder="drafts", is_draft=True)
    with desk.mail_client(desk.accounts.get(SUPPORT)) as client:
        assert delete_leftover_drafts(client, "n-42@desk.example") == 1
        assert delete_leftover_drafts(client, "") == 0  # no Message-ID: nothing is looked up
    left = {m["id"] for m in graph.messages(SUPPORT)}
    assert leftover not in left and {sent_copy, moved_copy} <= left


def test_a_send_whose_answer_was_lost_is_not_sent_twice(as_staff, desk, graph, ticket):
    """Graph sent the draft but the answer never came back (a gateway timeout, or a crash
    right after): the retry claims the notification `maybe_sent`, finds the Message-ID in
    Sent Items and records it sent without building a second draft."""
    _reply_with_big_file(as_staff, ticket.number)
    graph.fail_after_next(504, path_contains="=/send", method="POST")
    graph.requests.clear()
    drain_outbound(desk, release_after=0)
    assert len(_to_client(graph)) == 1
    assert _drafts(graph) == [] and graph.drafts.drafts == {}
    creates = [r for r in graph.requests if r.method == "POST" and r.path.endswith(f"/users/{SUPPORT}/messages")]
    assert len(creates) == 1
    assert any("/mailFolders/sentitems/messages" in r.path for r in graph.requests)
    [row] = [r for r in desk.deliveries.with_state("sent", "uncertain", "failed")
             if r["PartitionKey"] == str(ticket.number) and r.get("template") == "response"]
    assert row["state"] == "sent"
