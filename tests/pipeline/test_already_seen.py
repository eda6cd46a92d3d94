"""Rule 1, already_seen: the mail's key, duplicates, and a half-done earlier run's claim.

The check itself (`check_seen`) runs in rule 1 for a mail that may be a reply; for one that
can only start a ticket it is rule 6's claim (an insert), so rule 1 reads nothing."""
from __future__ import annotations

import pytest

from shared_code.pipeline.already_seen import already_seen, check_seen, fingerprint

from . import SALES, compose, inbound, support_account


def _check(mail, ctx):
    """Rule 1 on a mail, with its index read made now (deferred or not)."""
    already_seen(mail, ctx)
    check_seen(mail, ctx)


def test_the_key_is_the_message_id_without_brackets(ctx):
    mail = inbound(compose(message_id="<CAF.123-x@mail.example.org>"))

    already_seen(mail, ctx)

    assert mail.key == "CAF.123-x@mail.example.org"
    assert (mail.outcome, mail.reason, mail.claim) == (None, "", None)
    assert ctx.index.get(mail.key) is None  # the rule only reads the index


def test_a_mail_without_message_id_gets_a_synthetic_id_from_its_content(ctx):
    """Issue 10 §5: not from the mailbox or the Graph id, so the copies of one mail in two
    helpdesk mailboxes (or redelivered into one) are one mail; other content, another id."""
    raw = compose(message_id=False)
    first = inbound(raw, graph_id="AAMkAD-immutable-1")
    again = inbound(raw, graph_id="AAMkAD-immutable-1")
    other = inbound(raw, graph_id="AAMkAD-immutable-2")
    elsewhere = inbound(raw, account=support_account(address=SALES), graph_id="AAMkAD-immutable-1")
    changed = [inbound(compose(message_id=False, body="Another text")),
               inbound(compose(message_id=False, subject="Another subject")),
               inbound(compose(message_id=False, sender="Bob <bob@example.org>")),
               inbound(compose(message_id=False, attachments=[("a.txt", "text/plain", b"1")]))]

    for mail in (first, again, other, elsewhere, *changed):
        already_seen(mail, ctx)

    assert first.parsed.message_id is None
    assert first.key.startswith("content-")
    assert first.key.endswith("@" + ctx.settings.system_domain)
    assert first.key == again.key == other.key == elsewhere.key
    assert len({first.key, *(mail.key for mail in changed)}) == 5
    assert first.outcome is None


def test_a_mail_without_message_id_or_date_keeps_its_graph_key(ctx):
    """Without a Date header, identical content could be two genuine resends: per mailbox."""
    raw = b"\r\n".join(line for line in compose(message_id=False).split(b"\n")
                        if not line.startswith(b"Date:"))
    first, other = inbound(raw, graph_id="AAMkAD-1"), inbound(raw, graph_id="AAMkAD-2")

    for mail in (first, other):
        already_seen(mail, ctx)

    assert first.parsed.date is None
    assert first.key.startswith("graph-") and first.key != other.key


def test_a_replay_of_a_mail_without_message_id_finds_its_claim(ctx):
    raw = compose(message_id=False)
    crashed = inbound(raw, graph_id="AAMkAD-immutable-1")
    _check(crashed, ctx)
    ctx.index.claim(crashed.key, {"ticket": "482913", "entry_id": "E1", "new_ticket": True})

    replay = inbound(raw, graph_id="AAMkAD-immutable-1")
    _check(replay, ctx)

    assert replay.outcome is None
    assert replay.claim["ticket"] == "482913"


@pytest.mark.parametrize("direction", ["inbound", "outbound"])
def test_a_message_id_processed_before_is_a_duplicate(ctx, direction):
    mail = inbound(compose(message_id="<seen@example.org>"))
    ctx.index.record("seen@example.org", "482913", direction, entry_id="E1")

    _check(mail, ctx)

    assert mail.outcome == "duplicate"
    assert "seen@example.org" in mail.reason and "#482913" in mail.reason
    assert mail.claim is None


def test_brackets_and_spaces_do_not_make_a_message_id_new(ctx):
    ctx.index.record(" <seen@example.org> ", "482913", "inbound")
    mail = inbound(compose(message_id="<seen@example.org>"))

    _check(mail, ctx)

    assert mail.outcome == "duplicate"


def test_a_claimed_row_is_loaded_to_finish_the_earlier_run(ctx):
    """An earlier run claimed the Message-ID and stopped: the claim is its work order."""
    mail = inbound(compose(message_id="<half-done@example.org>"))
    ctx.index.claim("half-done@example.org", {
        "ticket": "482913", "entry_id": "20261127T020304000001Z-ab12cd34ef56",
        "new_ticket": True, "matched_by": "", "graph_id": "AAMk-1", "account": "support@contoso.example",
    })

    _check(mail, ctx)

    assert mail.outcome is None and mail.reason == ""
    assert mail.claim["state"] == "claimed"
    assert mail.claim["ticket"] == "482913"
    assert mail.claim["entry_id"] == "20261127T020304000001Z-ab12cd34ef56"
    assert mail.claim["new_ticket"] is True
    assert ctx.index.get("half-done@example.org")["state"] == "claimed"  # not changed by the rule


def test_a_different_mail_reusing_a_message_id_is_not_a_duplicate(ctx):
    first = inbound(compose(message_id="<reused@scanner.example>", subject="Scan 1"))
    ctx.index.claim("reused@scanner.example", {"ticket": "482913", "entry_id": "E1",
                                               "fingerprint": fingerprint(first)})
    ctx.index.update("reused@scanner.example", {"state": "done"})

    same = inbound(compose(message_id="<reused@scanner.example>", subject="Scan 1"))
    _check(same, ctx)
    other = inbound(compose(message_id="<reused@scanner.example>", subject="Scan 2"),
                    graph_id="AAMkAD-other")
    _check(other, ctx)

    assert same.outcome == "duplicate"
    assert other.outcome is None and other.key.startswith("graph-")


def test_rule_1_sends_no_request_new_mail_or_reply(desk, ctx):
    """The claim of rule 6 is the check (409 = seen), for a mail that may be a reply too."""
    ctx.index.record("seen@example.org", "482913", "inbound")
    new = inbound(compose(message_id="<seen@example.org>"))
    reply = inbound(compose(message_id="<seen@example.org>", in_reply_to="<x@example.org>"))

    already_seen(new, ctx)
    already_seen(reply, ctx)

    assert (new.outcome, new.seen_deferred) == (None, True)  # not read
    assert (reply.outcome, reply.seen_deferred) == (None, True)
