"""The rules of shared_code/domain/ingest.py: who is charged for a failed download, which
mails are suspects, the quarantine id."""
from shared_code.domain.ingest import (
    QuarantineState,
    download_failures_are_the_mails,
    is_suspect,
    quarantine_id,
)


def test_a_failed_download_is_the_mails_only_when_graph_served_something_else():
    assert download_failures_are_the_mails(1, downloads_ok=2, probe_ok=False)
    assert download_failures_are_the_mails(3, downloads_ok=1, probe_ok=False)
    assert download_failures_are_the_mails(1, downloads_ok=0, probe_ok=True)
    assert not download_failures_are_the_mails(1, downloads_ok=0, probe_ok=False)
    assert not download_failures_are_the_mails(2, downloads_ok=0, probe_ok=True)  # an outage
    assert not download_failures_are_the_mails(0, downloads_ok=5, probe_ok=True)


def test_suspects_are_mails_with_an_unfinished_counted_attempt():
    assert is_suspect({"state": "attempting", "attempts": 1})
    assert is_suspect({"state": "raw_saved", "attempts": 2})  # rows of the earlier version
    assert not is_suspect({"state": "attempting", "attempts": 0})  # taken back after an outage
    assert not is_suspect({"state": "processed", "attempts": 1})
    assert not is_suspect({})


def test_quarantine_ids_are_short_stable_and_per_mailbox():
    first = quarantine_id("support@contoso.example", "AAMk-1_=")
    assert first == quarantine_id("Support@contoso.example", "AAMk-1_=")
    assert len(first) == 10 and first.isalnum()
    assert first != quarantine_id("sales@contoso.example", "AAMk-1_=")
    assert [s.open for s in QuarantineState] == [True, True, True, False, False]
