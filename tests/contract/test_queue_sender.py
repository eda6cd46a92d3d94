"""QueueSender contract: adapters/queues.py on Azurite and MemoryQueues behave alike.

Visibility timeouts in these tests are an hour (never reached), or 0 (visible at once), so no
test depends on the wall clock."""
from __future__ import annotations

from shared_code import ports

HOUR = 3600


def test_it_is_a_queue_sender(queues):
    assert isinstance(queues, ports.QueueSender)


def test_a_sent_message_is_received_once_and_hidden_meanwhile(queues):
    queues.send("outbound-mail", {"id": "n1", "template": "auto_response", "n": 1})

    [(message, handle)] = queues.receive("outbound-mail", visibility_timeout=HOUR)

    assert message == {"id": "n1", "template": "auto_response", "n": 1}
    assert isinstance(handle, ports.QueueHandle)
    assert handle.id and handle.pop_receipt and handle.dequeue_count == 1
    assert queues.receive("outbound-mail", visibility_timeout=HOUR) == []
    assert queues.peek_all("outbound-mail") == []


def test_a_delayed_message_is_not_visible_yet(queues):
    queues.send("fetch-jobs", {"address": "a@example.org"}, visibility_timeout=HOUR)
    queues.send("fetch-jobs", {"address": "b@example.org"})

    assert queues.peek_all("fetch-jobs") == [{"address": "b@example.org"}]
    assert [m for m, _ in queues.receive("fetch-jobs", visibility_timeout=HOUR)] == [
        {"address": "b@example.org"}]


def test_peek_does_not_count_a_dequeue_and_receive_takes_at_most_max(queues):
    for n in range(3):
        queues.send("outbound-mail", {"n": n})

    assert sorted(m["n"] for m in queues.peek_all("outbound-mail")) == [0, 1, 2]
    batch = queues.receive("outbound-mail", max_messages=2, visibility_timeout=HOUR)
    assert len(batch) == 2 and all(h.dequeue_count == 1 for _, h in batch)
    assert len(queues.receive("outbound-mail", visibility_timeout=HOUR)) == 1


def test_delete_removes_and_a_second_delete_is_no_error(queues):
    queues.send("outbound-mail", {"id": "n1"})
    [(_, handle)] = queues.receive("outbound-mail", visibility_timeout=HOUR)

    queues.delete("outbound-mail", handle)
    queues.delete("outbound-mail", handle)

    assert queues.hide("outbound-mail", handle.id, handle.pop_receipt, 0) is False
    assert queues.peek_all("outbound-mail") == []


def test_hide_zero_makes_the_same_message_visible_again_with_its_count(queues):
    queues.send("outbound-mail", {"id": "n1"})
    [(_, first)] = queues.receive("outbound-mail", visibility_timeout=HOUR)

    assert queues.hide("outbound-mail", first.id, first.pop_receipt, 0) is True

    [(message, second)] = queues.receive("outbound-mail", visibility_timeout=HOUR)
    assert (message, second.id, second.dequeue_count) == ({"id": "n1"}, first.id, 2)


def test_after_a_hide_the_old_receipt_neither_deletes_nor_hides(queues):
    """A deferred message: the host's later delete with the old receipt fails harmlessly."""
    queues.send("outbound-mail", {"id": "n1"})
    [(_, handle)] = queues.receive("outbound-mail", visibility_timeout=HOUR)
    assert queues.hide("outbound-mail", handle.id, handle.pop_receipt, 0) is True

    queues.delete("outbound-mail", handle)  # stale receipt: no error, and nothing deleted

    assert queues.hide("outbound-mail", handle.id, handle.pop_receipt, HOUR) is False
    assert queues.peek_all("outbound-mail") == [{"id": "n1"}]


def test_approximate_count_includes_hidden_and_delayed_messages(queues):
    assert queues.approximate_count("outbound-mail-poison") == 0
    queues.send("outbound-mail", {"n": 1})
    queues.send("outbound-mail", {"n": 2}, visibility_timeout=HOUR)
    queues.receive("outbound-mail", visibility_timeout=HOUR)

    assert queues.approximate_count("outbound-mail") == 2
