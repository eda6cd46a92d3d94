"""Staff are who Exchange says they are: the whole pipeline on staff replies with Exchange-style
headers (tests/fakes/exchange.py). Only a proven staff From is staff: its `#note` mail makes a
silent internal note (without `#note`, a response to the client: tests/integration/
test_staff_by_email.py); a forged one is a client mail, and the system log says so once."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from shared_code.adapters.names import OUTBOUND_MAIL
from shared_code.domain.model import Status
from shared_code.domain.sender_auth import TrustSignal
from shared_code.pipeline import run_pipeline
from shared_code.pipeline.content import content
from shared_code.pipeline.sender import HELPDESK_SPOOF, STAFF_SPOOF
from tests.fakes.exchange import authentication_results, from_internet, prepend, sent_inside

from . import (
    SUPPORT,
    SimulatedCrash,
    compose,
    crash_at,
    inbound,
    make_ctx,
    queued_notifications,
    run_rules_before,
)

AGENT = "agent@contoso.example"
PARTNER = "pat@partner.example"  # a staff member whose mail comes from another domain


@pytest.fixture
def staff_ctx(desk):
    return make_ctx(desk, staff_addresses={AGENT, PARTNER})


@pytest.fixture
def closed_ticket(desk, staff_ctx):
    """A closed ticket from a client mail, Message-ID <first@example.org>."""
    mail = run_pipeline(inbound(compose(message_id="<first@example.org>")), staff_ctx)
    ticket = desk.tickets.get(mail.ticket.number)
    ticket.status = Status.CLOSED
    assert desk.tickets.update(ticket)
    return ticket


def _staff_mail(number: str, sender: str = f"Andy Agent <{AGENT}>", **changes) -> bytes:
    fields = dict(subject=f"Re: [#{number}] Printer on fire", sender=sender,
                  body="#note\nInternal: the toner supplier is on it.")
    fields.update(changes)
    return compose(**fields)


def _later_entry_id() -> str:
    """An entry id (the form of store.py's) sorting after every entry written so far."""
    later = datetime.now(timezone.utc) + timedelta(seconds=1)
    return f"{later.strftime('%Y%m%dT%H%M%S%fZ')}-abcdefabcdef"


def _alerts(desk) -> list[str]:
    return [n["template"] for n in queued_notifications(desk)
            if n["template"] == "new_message_alert"]


def _spoofs(desk, title=STAFF_SPOOF) -> list[dict]:
    return [e for e in desk.syslog.list() if e["title"] == title]


def _assert_internal_note(desk, number: str, sender: str) -> None:
    entries = desk.tickets.entries(number)
    assert [e.type for e in entries] == ["message", "note"]
    assert entries[1].sender.email == sender
    ticket = desk.tickets.get(number)
    assert (ticket.status, ticket.message_count) == (Status.CLOSED, 1)  # no reopen, not counted
    assert sender not in ticket.collaborators
    assert _alerts(desk) == []
    assert _spoofs(desk) == []


def _assert_client_message(desk, number: str, sender: str) -> None:
    entries = desk.tickets.entries(number)
    assert [e.type for e in entries] == ["message", "message"]
    ticket = desk.tickets.get(number)
    assert (ticket.status, ticket.message_count) == (Status.OPEN, 2)  # a client mail reopens
    assert _alerts(desk) == ["new_message_alert"]  # and staff hear of it


# --------------------------------------------------------------------------- genuine staff


def test_a_genuine_internal_staff_reply_is_an_internal_note(desk, staff_ctx, closed_ticket):
    number = closed_ticket.number
    mail = run_pipeline(inbound(sent_inside(_staff_mail(number))), staff_ctx)

    assert (mail.outcome, mail.thread.matched_by) == ("threaded", "subject-tag")
    _assert_internal_note(desk, number, AGENT)


def test_a_cross_domain_staff_member_with_dmarc_pass_is_staff(desk, staff_ctx, closed_ticket):
    number = closed_ticket.number
    raw = from_internet(_staff_mail(number, sender=f"Pat <{PARTNER}>"))

    mail = run_pipeline(inbound(raw), staff_ctx)

    assert mail.sender_auth.signal is TrustSignal.DMARC_PASS
    _assert_internal_note(desk, number, PARTNER)


def test_dmarc_pass_proves_nothing_when_the_setting_trusts_only_exchange(desk, closed_ticket):
    settings = dataclasses.replace(desk.settings,
                                   trusted_sender_signals=(TrustSignal.EXCHANGE_INTERNAL,))
    ctx = make_ctx(desk, settings=settings, staff_addresses={AGENT, PARTNER})
    raw = from_internet(_staff_mail(closed_ticket.number, sender=f"Pat <{PARTNER}>",
                                    in_reply_to="<first@example.org>"))

    run_pipeline(inbound(raw), ctx)

    _assert_client_message(desk, closed_ticket.number, PARTNER)
    assert len(_spoofs(desk)) == 1


# --------------------------------------------------------------------------- forged staff


@pytest.mark.parametrize("deliver", [
    lambda raw: from_internet(raw, spf="fail", dkim="none", dmarc="fail"),
    lambda raw: from_internet(raw, spf="pass", dkim="none", dmarc="none"),
    lambda raw: raw,
], ids=["dmarc-fail", "dmarc-none", "no-headers"])
def test_a_forged_staff_reply_cannot_post_a_silent_note(desk, staff_ctx, closed_ticket, deliver):
    """The attacker knows the ticket number: the tag is refused, so the mail is a new ticket
    of a "client" whose address is the forged one; the real ticket is untouched."""
    number = closed_ticket.number
    raw = deliver(_staff_mail(number, message_id="<forged@evil.example>"))

    mail = run_pipeline(inbound(raw), staff_ctx)

    assert mail.outcome == "created" and mail.ticket.number != number
    assert [e.type for e in desk.tickets.entries(number)] == ["message"]
    assert desk.tickets.get(number).status == Status.CLOSED
    [entry] = _spoofs(desk)
    assert entry["level"] == "warning" and entry["account"] == SUPPORT
    assert "Message-ID forged@evil.example" in entry["message"]
    assert f"claims From {AGENT}" in entry["message"]
    assert "handled as a client mail" in entry["message"]


def test_a_hand_written_internal_stamp_with_dmarc_fail_is_not_trusted(desk, staff_ctx, closed_ticket):
    """A tenant's firewall would strip the stamp; if one got through, dmarc=fail still wins."""
    raw = prepend(sent_inside(_staff_mail(closed_ticket.number, in_reply_to="<first@example.org>")),
                  [("Authentication-Results", authentication_results(
                      spf="fail", dkim="none", dmarc="fail", domain="contoso.example"))])

    mail = run_pipeline(inbound(raw), staff_ctx)

    assert mail.thread.matched_by == "in-reply-to"  # threads as any reply would, but:
    _assert_client_message(desk, closed_ticket.number, AGENT)
    [entry] = _spoofs(desk)
    assert "spoofed (Authentication-Results reports dmarc=fail for contoso.example)" in entry["message"]
    assert "AuthAs=Internal" in entry["message"] and "dmarc=fail" in entry["message"]


def test_a_replayed_forged_reply_stays_a_client_message_and_is_logged_once(desk, staff_ctx,
                                                                           closed_ticket):
    """A run that stopped after the claim is finished by the next one: same verdict."""
    raw = from_internet(_staff_mail(closed_ticket.number, in_reply_to="<first@example.org>",
                                    message_id="<forged-2@evil.example>"), dmarc="fail")
    with pytest.raises(SimulatedCrash):  # up to the claim (rule 6), then a crash
        run_pipeline(inbound(raw), dataclasses.replace(staff_ctx, checkpoint=crash_at("claimed")))
    assert staff_ctx.index.get("forged-2@evil.example")["new_ticket"] is False

    replay = run_pipeline(inbound(raw), staff_ctx)

    assert replay.resumed
    _assert_client_message(desk, closed_ticket.number, AGENT)
    assert len(_spoofs(desk)) == 1


def test_a_replayed_genuine_note_stays_a_note(desk, staff_ctx, closed_ticket):
    raw = sent_inside(_staff_mail(closed_ticket.number, message_id="<note-1@contoso.example>"))
    staff_ctx.index.claim("note-1@contoso.example", {
        "entry_id": _later_entry_id(), "ticket": closed_ticket.number,
        "new_ticket": False, "matched_by": "subject-tag", "graph_id": "AAMk-1",
        "account": SUPPORT, "direction": "inbound"})

    run_pipeline(inbound(raw), staff_ctx)

    _assert_internal_note(desk, closed_ticket.number, AGENT)


# --------------------------------------------------------------------------- our own addresses


def test_a_spoofed_support_address_is_discarded_and_nothing_is_stored(desk, staff_ctx):
    raw = from_internet(compose(sender=f"Contoso Support <{SUPPORT}>", subject="Re: [#123456] x"),
                        spf="fail", dkim="none", dmarc="fail")

    mail = run_pipeline(inbound(raw), staff_ctx)

    assert mail.outcome == "discarded" and "spoofed helpdesk address" in mail.reason
    assert desk.tickets.list() == [] and desk.queues.peek_all(OUTBOUND_MAIL) == []
    assert staff_ctx.index.get(mail.key) is None
    assert len(_spoofs(desk, HELPDESK_SPOOF)) == 1 and _spoofs(desk) == []


def test_genuine_own_mail_is_still_ignored_quietly(desk, staff_ctx):
    mail = run_pipeline(inbound(sent_inside(compose(sender=SUPPORT))), staff_ctx)

    assert mail.outcome == "ignored"
    assert desk.syslog.list() == []
