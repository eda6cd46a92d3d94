"""MailClient contract: GraphMailClient against the TLS Graph fake, and MemoryMailClient.

Messages are delivered with explicit past times, so listing never depends on the wall clock."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from shared_code import ports
from shared_code.adapters.graph import GraphError

from .conftest import MAILBOX

T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=timezone.utc)


def mime(n: int, to: str = MAILBOX) -> bytes:
    return (f"From: Alice <alice@example.org>\r\nTo: {to}\r\nSubject: question {n}\r\n"
            f"Message-ID: <q{n}@example.org>\r\nDate: Mon, 02 Mar 2026 09:00:00 +0000\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\nbody {n}\r\n").encode()


def test_it_is_a_mail_client(mailbox):
    assert isinstance(mailbox.client, ports.MailClient)
    assert mailbox.client.address == MAILBOX


def test_list_messages_by_last_change_oldest_first(mailbox):
    late = mailbox.add_message(mime(2), received=T0 + timedelta(minutes=2))
    early = mailbox.add_message(mime(1), received=T0)
    mailbox.add_message(mime(3), folder="junkemail", received=T0)
    inbox = mailbox.client.resolve_folder("Inbox")

    refs = list(mailbox.client.list_messages(inbox, T0 - timedelta(hours=1), top=1))

    assert [r.id for r in refs] == [early, late]
    first = refs[0]
    assert isinstance(first, ports.MessageRef)
    assert (first.internet_message_id, first.subject, first.from_address, first.from_name,
            first.is_read, first.received) == ("q1@example.org", "question 1",
                                               "alice@example.org", "Alice", False, T0)
    assert [r.id for r in mailbox.client.list_messages(inbox, T0 + timedelta(minutes=1))] == [late]


def test_list_received_is_one_window_of_received_times_oldest_first(mailbox):
    day_end = T0.replace(hour=0) + timedelta(days=1)
    late = mailbox.add_message(mime(2), received=day_end - timedelta(seconds=1))
    early = mailbox.add_message(mime(1), received=T0)
    mailbox.add_message(mime(3), received=day_end)  # the next day
    mailbox.add_message(mime(4), received=T0.replace(hour=0) - timedelta(seconds=1))
    mailbox.add_message(mime(5), folder="junkemail", received=T0)
    inbox = mailbox.client.resolve_folder("Inbox")

    refs = list(mailbox.client.list_received(inbox, T0.replace(hour=0), day_end, top=1))

    assert [r.id for r in refs] == [early, late]
    assert (refs[0].subject, refs[0].received) == ("question 1", T0)


def test_folders_by_name_under_inbox_or_by_path(mailbox):
    support = mailbox.add_folder("Support")
    message = mailbox.add_message(mime(1), folder=support, received=T0)

    for name in ("Support", "Inbox/Support", "support"):
        folder = mailbox.client.resolve_folder(name)
        assert [r.id for r in mailbox.client.list_messages(folder, T0)] == [message]
    with pytest.raises(GraphError) as caught:
        mailbox.client.resolve_folder("Inbox/Nowhere")
    assert (caught.value.status, caught.value.code) == (404, "FolderNotFound")


def test_get_mime_mark_read_and_message_exists(mailbox):
    message = mailbox.add_message(mime(1), received=T0)

    assert mailbox.client.get_mime(message) == mime(1)
    mailbox.client.mark_read(message)
    assert mailbox.is_read(message) is True
    assert mailbox.client.message_exists(message) is True

    mailbox.delete(message)
    assert mailbox.client.message_exists(message) is False
    with pytest.raises(GraphError) as caught:
        mailbox.client.get_mime(message)
    assert caught.value.status == 404


def test_a_sent_mail_is_found_in_sent_items_by_its_message_id(mailbox):
    assert mailbox.client.find_sent("q7@example.org") is None

    mailbox.client.send_mime(mime(7, to="ann@example.org"))

    assert mailbox.sent() == [mime(7, to="ann@example.org")]
    assert mailbox.client.find_sent("q7@example.org") is not None
    assert mailbox.client.find_sent("<q7@example.org>") == mailbox.client.find_sent("q7@example.org")
    assert mailbox.client.find_sent("q8@example.org") is None


def test_a_mail_without_recipients_is_refused(mailbox):
    raw = mime(1).replace(f"To: {MAILBOX}\r\n".encode(), b"")
    with pytest.raises(GraphError) as caught:
        mailbox.client.send_mime(raw)
    assert caught.value.status == 400
    assert mailbox.sent() == []


def test_a_large_mail_is_sent_with_its_files_and_found_in_sent_items(mailbox):
    from email import message_from_bytes, policy

    big = bytes(range(256)) * 16 * 1024  # 4 MiB: an upload session on the real client
    mailbox.client.send_large(mime(9, to="ann@example.org"), [("big.bin", "application/octet-stream", big),
                                                               ("a.txt", "text/plain", b"hi\n")])
    [raw] = mailbox.sent()
    mail = message_from_bytes(raw, policy=policy.default)
    assert {p.get_filename(): p.get_payload(decode=True) for p in mail.iter_attachments()} == {
        "big.bin": big, "a.txt": b"hi\n"}
    assert "body 9" in mail.get_body(("plain",)).get_content()
    assert mailbox.client.find_sent("q9@example.org") is not None
