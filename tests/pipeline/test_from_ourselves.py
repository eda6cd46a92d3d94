"""Rule 2, from_ourselves: mail sent from one of the helpdesk's own addresses is not posted."""
from __future__ import annotations

import pytest

from shared_code.pipeline.from_ourselves import from_ourselves

from . import SUPPORT, compose, inbound


@pytest.mark.parametrize("sender", [
    "Contoso Support <support@contoso.example>",
    "SUPPORT@Contoso.Example",
    "Support Desk <Support@CONTOSO.example>",
])
def test_mail_from_the_receiving_account_is_ignored_whatever_the_case(ctx, sender):
    mail = inbound(compose(sender=sender))

    from_ourselves(mail, ctx)

    assert mail.outcome == "ignored"
    assert SUPPORT in mail.reason


def test_mail_from_another_helpdesk_account_is_ignored(ctx):
    mail = inbound(compose(sender="Sales <sales@contoso.example>"))

    from_ourselves(mail, ctx)

    assert mail.outcome == "ignored"
    assert "sales@contoso.example" in mail.reason


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
    mail = inbound(compose(sender="Billing <billing@contoso.example>"))
    ctx.system_addresses.add("billing@contoso.example")

    from_ourselves(mail, ctx)

    assert mail.outcome == "ignored"
