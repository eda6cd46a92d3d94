"""MessageIndex contract: adapters/message_index.py on Azurite and MemoryMessageIndex."""
from __future__ import annotations

from shared_code import ports


def test_it_is_a_message_index(index):
    assert isinstance(index, ports.MessageIndex)


def test_claim_inserts_once_and_then_answers_with_the_row(index):
    fields = {"ticket": "482913", "entry_id": "E1", "new_ticket": True, "fingerprint": "f" * 24}

    assert index.claim("<CAF.1@mail.example.org>", fields) is None
    again = index.claim("CAF.1@mail.example.org", {"ticket": "999999"})

    assert {k: again[k] for k in ("message_id", "state", *fields)} == {
        "message_id": "<CAF.1@mail.example.org>", "state": "claimed", **fields}
    assert index.ticket_of("CAF.1@mail.example.org") is None  # claimed is not done


def test_brackets_and_spaces_name_the_same_row(index):
    index.record(" <a.b@example.org> ", "482913", "outbound", entry_id="E2")

    row = index.get("a.b@example.org")

    assert (row["state"], row["ticket"], row["entry_id"], row["direction"]) == (
        "done", "482913", "E2", "outbound")
    assert index.ticket_of("<a.b@example.org>") == "482913"
    assert index.get("other@example.org") is None
    assert index.ticket_of("other@example.org") is None


def test_update_merges_fields(index):
    index.claim("m@example.org", {"ticket": "482913", "entry_id": "E1", "new_ticket": True})

    index.update("m@example.org", {"state": "done", "direction": "inbound"})

    row = index.get("m@example.org")
    assert (row["state"], row["ticket"], row["entry_id"], row["new_ticket"], row["direction"]) == (
        "done", "482913", "E1", True, "inbound")
    assert index.ticket_of("m@example.org") == "482913"


def test_what_get_returns_is_a_copy(index):
    index.record("m@example.org", "482913", "inbound")
    row = index.get("m@example.org")
    row["ticket"] = "000000"
    assert index.ticket_of("m@example.org") == "482913"
