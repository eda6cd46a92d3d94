"""Rule 4, threading: In-Reply-To, References newest first, then the subject tag of a
ticket the sender takes part in; on a replay, the claim decides."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from shared_code.domain.model import Party, Priority, Status, Ticket
from shared_code.domain.thread_match import ThreadMatch
from shared_code.pipeline.thread_match import thread_match

from tests.fakes.exchange import from_internet, sent_inside

from . import ANN_ADDRESS, compose, inbound

AGENT = "agent@contoso.example"


def _ticket(desk, number: str, client: str = ANN_ADDRESS, collaborators=()) -> None:
    assert desk.tickets.create(Ticket(
        number=number, subject="Printer on fire", status=Status.OPEN, priority=Priority.NORMAL,
        department="Support", client=Party("Ann Client", client),
        created=datetime.now(timezone.utc), collaborators=list(collaborators),
    ))


def test_in_reply_to_a_known_message_id(ctx):
    ctx.index.record("first@example.org", "482913", "inbound")
    mail = inbound(compose(subject="Re: Printer", in_reply_to="<first@example.org>"))

    thread_match(mail, ctx)

    assert mail.thread == ThreadMatch("482913", "in-reply-to")
    assert mail.outcome is None


def test_in_reply_to_an_outbound_notification(ctx):
    ctx.index.record("auto-response-1@deskmail.local", "482913", "outbound")
    mail = inbound(compose(subject="Re: [#482913] received", in_reply_to="<auto-response-1@deskmail.local>"))

    thread_match(mail, ctx)

    assert mail.thread == ThreadMatch("482913", "in-reply-to")


def test_references_are_tried_newest_first(ctx):
    ctx.index.record("oldest@example.org", "111111", "inbound")
    ctx.index.record("newest@example.org", "222222", "outbound")
    mail = inbound(compose(subject="Re: x", in_reply_to="<unknown@example.org>",
                           references="<oldest@example.org> <unknown@example.org> <newest@example.org>"))

    thread_match(mail, ctx)

    assert mail.thread == ThreadMatch("222222", "references")


def test_in_reply_to_wins_over_references(ctx):
    ctx.index.record("parent@example.org", "111111", "inbound")
    ctx.index.record("other@example.org", "222222", "inbound")
    mail = inbound(compose(in_reply_to="<parent@example.org>", references="<other@example.org>"))

    thread_match(mail, ctx)

    assert mail.thread == ThreadMatch("111111", "in-reply-to")


def test_unknown_ids_and_no_tag_mean_a_new_ticket(ctx):
    mail = inbound(compose(subject="Re: something", in_reply_to="<nope@example.org>",
                           references="<nope2@example.org>"))

    thread_match(mail, ctx)

    assert mail.thread is None
    assert mail.outcome is None


@pytest.mark.parametrize("sender", ["Ann Client <ann@example.org>", "Bob <BOB@example.org>"])
def test_the_subject_tag_threads_mail_of_participants(desk, ctx, sender):
    _ticket(desk, "482913", collaborators=["bob@example.org"])
    mail = inbound(compose(subject="[#482913] more info", sender=sender))

    thread_match(mail, ctx)

    assert mail.thread == ThreadMatch("482913", "subject-tag")


def test_the_subject_tag_is_ignored_for_a_stranger(desk, ctx):
    _ticket(desk, "482913")
    mail = inbound(compose(subject="[#482913] hijack", sender="Mallory <mallory@example.net>"))

    thread_match(mail, ctx)

    assert mail.thread is None


def test_the_subject_tag_threads_mail_of_staff(desk, ctx):
    _ticket(desk, "482913")
    ctx.staff_addresses.add(AGENT)
    mail = inbound(sent_inside(compose(subject="Re: [#482913] Printer", sender=f"Agent <{AGENT}>")))

    thread_match(mail, ctx)

    assert mail.thread == ThreadMatch("482913", "subject-tag")


@pytest.mark.parametrize("deliver", [
    lambda raw: raw,
    lambda raw: from_internet(raw, spf="fail", dkim="none", dmarc="fail"),
], ids=["no-evidence", "dmarc-fail"])
def test_the_subject_tag_is_ignored_for_a_forged_staff_address(desk, ctx, deliver):
    _ticket(desk, "482913")
    ctx.staff_addresses.add(AGENT)
    mail = inbound(deliver(compose(subject="Re: [#482913] Printer", sender=f"Agent <{AGENT}>")))

    thread_match(mail, ctx)

    assert mail.thread is None
    assert mail.spoof_logs == [("Unauthenticated mail claiming a staff address",
                                "handled as a client mail")]  # logged by rule 6's claim


def test_a_forged_staff_address_is_no_participant_even_as_a_collaborator(desk, ctx):
    """The address the mail cannot prove counts for nothing, even where it is a collaborator."""
    _ticket(desk, "482913", collaborators=[AGENT])
    ctx.staff_addresses.add(AGENT)
    mail = inbound(compose(subject="Re: [#482913] Printer", sender=f"Agent <{AGENT}>"))

    thread_match(mail, ctx)

    assert mail.thread is None


def test_a_forged_staff_reply_still_threads_by_its_headers(desk, ctx):
    """In-Reply-To is not a staff privilege: the mail threads, as a client mail (rule 6)."""
    ctx.index.record("first@example.org", "482913", "inbound")
    ctx.staff_addresses.add(AGENT)
    mail = inbound(compose(sender=AGENT, in_reply_to="<first@example.org>"))

    thread_match(mail, ctx)

    assert mail.thread == ThreadMatch("482913", "in-reply-to")


def test_the_subject_tag_of_a_missing_ticket_is_ignored(ctx):
    mail = inbound(compose(subject="[#999999] hello"))

    thread_match(mail, ctx)

    assert mail.thread is None


def test_a_replay_of_a_threaded_mail_uses_its_claim(ctx):
    """The claim fixed the ticket; the index may have changed since (here: it knows nothing)."""
    mail = inbound(compose(subject="no headers to match on"))
    mail.claim = {"ticket": "482913", "new_ticket": False, "matched_by": "references", "entry_id": "E"}

    thread_match(mail, ctx)

    assert mail.thread == ThreadMatch("482913", "references")


def test_a_replay_of_a_new_ticket_stays_a_new_ticket(ctx):
    """Its In-Reply-To became known after the claim: the mail still becomes the claimed ticket."""
    ctx.index.record("parent@example.org", "111111", "inbound")
    mail = inbound(compose(in_reply_to="<parent@example.org>"))
    mail.claim = {"ticket": "482913", "new_ticket": True, "matched_by": "", "entry_id": "E"}

    thread_match(mail, ctx)

    assert mail.thread is None
