"""adapters/system_mail_store.py on Azurite: the `systemmail` rows of system mail that failed
for good. failed → queued happens once (ETag-guarded, also when requeues race), a row not
failed is not taken, attempts add up over a failure after a requeue, `sent` ends it."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest


@pytest.fixture
def store(storage):
    from shared_code.adapters.storage import StorageConnection
    from shared_code.adapters.system_mail_store import SystemMailStore

    return SystemMailStore(StorageConnection({"AzureWebJobsStorage": storage}))


def _mail(mail_id: str, created: str) -> dict:
    return {"schema": "deskmail.system-mail/1", "id": mail_id, "kind": "fetch_alert",
            "sender": "alerts@contoso.example", "to": ["oncall@contoso.example", "b@x.example"],
            "subject": "support@ stopped fetching", "text": "see the log", "created": created}


def test_failed_rows_are_listed_oldest_first_with_what_an_admin_needs(store):
    assert store.failed() == [] and store.get("nope") is None
    store.record_failed(_mail("b/2", "2026-12-01T10:00:00+00:00"), 5, "ErrorInvalidRecipients")
    store.record_failed(_mail("a1", "2026-11-30T10:00:00+00:00"), 5, "Timeout")
    rows = store.failed()
    assert [r["id"] for r in rows] == ["a1", "b/2"]  # a key-unsafe id is kept as it was
    row = rows[1]
    assert (row["kind"], row["sender"], row["recipients"], row["attempts"], row["error"]) == (
        "fetch_alert", "alerts@contoso.example", "oncall@contoso.example, b@x.example", 5,
        "ErrorInvalidRecipients")
    assert row["created"] == "2026-12-01T10:00:00+00:00" and row["state"] == "failed"


def test_a_requeue_takes_a_failed_row_once_even_when_requeues_race(store):
    mail = _mail("a1", "2026-11-30T10:00:00+00:00")
    store.record_failed(mail, 5, "Timeout")
    with ThreadPoolExecutor(max_workers=4) as pool:
        taken = [m for m in pool.map(lambda _: store.take_for_requeue("a1"), range(4)) if m]
    assert taken == [mail]
    assert store.get("a1")["state"] == "queued" and store.failed() == []
    assert store.take_for_requeue("a1") is None and store.take_for_requeue("nope") is None


def test_failing_again_adds_attempts_and_sent_ends_it(store):
    mail = _mail("a1", "2026-11-30T10:00:00+00:00")
    store.record_failed(mail, 5, "Timeout")
    store.take_for_requeue("a1")
    store.record_failed(mail, 5, "ErrorAccessDenied")
    row = store.get("a1")
    assert (row["state"], row["attempts"], row["error"]) == ("failed", 10, "ErrorAccessDenied")
    store.take_for_requeue("a1")
    store.record_sent("a1")
    assert store.get("a1")["state"] == "sent" and store.take_for_requeue("a1") is None
    store.record_sent("never-failed")
    assert store.get("never-failed") is None
