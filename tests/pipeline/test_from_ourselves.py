"""Rule 2, from_ourselves: mail sent from one of the helpdesk's own addresses is not posted;
only proven own mail is ignored quietly, a forged own address is discarded as a spoof."""
from __future__ import annotations

import pytest

from shared_code.pipeline.from_ourselves import from_ourselves
from shared_code.pipeline.sender import HELPDESK_SPOOF
from tests.fakes.exchange import from_internet, prepend, sent_inside

from . import SUPPORT, compose, inbound


def _spoof_entries(desk) -> list[dict]:
    return [e for e in desk.syslog.list() if e["title"] == HELPDESK_SPOOF]


@pytest.mark.parametrize("sender", [
    "Contoso Support <support@contoso.example>",
    "SUPPORT@Contoso.Example",
    "Support Desk <Support@CONTOSO.example>",
])
def test_mail_from_the_receiving_account_is_ignored_whatever_the_case(ctx, sender):
    mail = inbound(sent_inside(compose(sender=sender)))

    from_ourselves(mail, ctx)

    assert mail.outcome == "ignored"
    assert SUPPORT in mail.reason


def test_mail_from_another_helpdesk_account_is_ignored(desk, ctx):
    mail = inbound(sent_inside(compose(sender="Sales <sales@contoso.example>")))

    from_ourselves(mail, ctx)

    assert mail.outcome == "ignored"
    assert "sales@contoso.example" in mail.reason
    assert _spoof_entries(desk) == []


@pytest.mark.parametrize("sender", [
    "Ann Client <ann@example.org>",
    "support@contoso.example.attacker.test",
    "support@example.org",
])
def test_other_senders_are_left_alone(ctx, sender):
    mail = inbound(compose(sender=sender))

    from_ourselves(mail, ctx)

    assert (mail.outcome, mail.reason) == (None, "")


def test_a_mail_without_a_readable_sender_is_left_alone(ctx):
    mail = inbound(compose(sender=None))

    from_ourselves(mail, ctx)

    assert mail.parsed.from_address == ""
    assert mail.outcome is None


def test_a_replay_of_a_client_mail_is_left_alone(ctx):
    mail = inbound(compose())
    mail.claim = {"ticket": "482913", "entry_id": "E1", "new_ticket": True}

    from_ourselves(mail, ctx)

    assert mail.outcome is None
    assert mail.claim == {"ticket": "482913", "entry_id": "E1", "new_ticket": True}


def test_the_addresses_come_from_the_context(ctx):
    """The rule reads ctx.system_addresses (fetch fills it from the accounts table per run)."""
    mail = inbound(sent_inside(compose(sender="Billing <billing@contoso.example>")))
    ctx.system_addresses.add("billing@contoso.example")

    from_ourselves(mail, ctx)

    assert mail.outcome == "ignored"


@pytest.mark.parametrize("deliver", [
    lambda raw: raw,  # no evidence at all
    lambda raw: from_internet(raw, spf="fail", dkim="none", dmarc="fail"),
    lambda raw: from_internet(raw, spf="softfail", dkim="none", dmarc="none"),
    # a hand-written Internal stamp that slipped through, contradicted by dmarc=fail
    lambda raw: prepend(sent_inside(raw), [("Authentication-Results", "spf=fail "
                        "smtp.mailfrom=contoso.example;dmarc=fail header.from=contoso.example")]),
], ids=["bare", "dmarc-fail", "dmarc-none", "internal-stamp-but-dmarc-fail"])
def test_a_forged_own_address_is_discarded_and_logged_as_a_spoof(desk, ctx, deliver):
    raw = compose(sender=f"Contoso Support <{SUPPORT}>", message_id="<forged-1@evil.example>")
    mail = inbound(deliver(raw))

    from_ourselves(mail, ctx)

    assert mail.outcome == "discarded"
    assert mail.reason.startswith(f"spoofed helpdesk address {SUPPORT}: ")
    assert mail.rule == "helpdesk-spoof"
    [entry] = _spoof_entries(desk)
    assert entry["level"] == "warning" and entry["account"] == SUPPORT
    assert "Message-ID forged-1@evil.example" in entry["message"]
    assert f"claims From {SUPPORT}" in entry["message"]
    assert "Authentication seen: AuthAs=" in entry["message"]


def test_the_spoof_log_names_the_dmarc_failure_and_clips_what_it_saw(desk, ctx):
    raw = compose(sender=SUPPORT, message_id="<" + "m" * 5000 + "@evil.example>",
                  headers={"Authentication-Results": "x.example; dmarc=fail header.from="
                           "contoso.example reason=\"" + "r" * 5000 + "\""})
    mail = inbound(raw)

    from_ourselves(mail, ctx)

    [entry] = _spoof_entries(desk)
    assert "dmarc=fail for contoso.example" in entry["message"]
    assert len(entry["message"]) < 1500
    assert entry["message"].count("[clipped]") == 2  # the Message-ID and the evidence


def test_own_address_proven_by_dmarc_is_ignored_when_that_signal_is_trusted(desk, ctx):
    mail = inbound(from_internet(compose(sender=SUPPORT)))

    from_ourselves(mail, ctx)

    assert mail.outcome == "ignored"
