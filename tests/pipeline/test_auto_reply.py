"""Rule 3, auto_reply: auto-replies and bounces are discarded, naming the rule that matched."""
from __future__ import annotations

from dataclasses import replace

import pytest

from shared_code.pipeline.auto_reply import auto_reply

from . import compose, inbound, make_ctx

MONITOR = "Monitoring <monitor@example.org>"


@pytest.mark.parametrize("subject,headers,rule", [
    ("Printer", {"Auto-Submitted": "auto-replied"}, "auto-submitted"),
    ("Printer", {"X-Auto-Response-Suppress": "All"}, "x-auto-response-suppress"),
    ("Printer", {"Precedence": "bulk"}, "precedence"),
    ("Printer", {"List-Id": "<news.lists.example.org>"}, "mailing-list"),
    ("Printer", {"X-Failed-Recipients": "bob@example.net"}, "x-failed-recipients"),
    ("Automatic reply: Printer on fire", {}, "subject:automatic-reply"),
    ("Out of Office: back on Monday", {}, "subject:out-of-office"),
])
def test_an_auto_reply_is_discarded_naming_the_rule(ctx, subject, headers, rule):
    mail = inbound(compose(subject=subject, headers=headers))

    auto_reply(mail, ctx)

    assert mail.outcome == "discarded"
    assert mail.reason == f"auto-reply or bounce (rule: {rule})"
    assert mail.rule == rule  # the ledger keeps it (the reconciliation shows it)


def test_a_bounce_from_the_mailer_daemon_is_discarded(ctx):
    mail = inbound(compose(subject="Returned mail", sender="Mail Delivery System <MAILER-DAEMON@mx.example.org>"))

    auto_reply(mail, ctx)

    assert mail.outcome == "discarded"
    assert "mailer-daemon-sender" in mail.reason


@pytest.mark.parametrize("subject", ["Printer on fire", "Re: my out of office settings are broken"])
def test_mail_a_person_wrote_is_left_alone(ctx, subject):
    mail = inbound(compose(subject=subject, headers={"Auto-Submitted": "no"}))

    auto_reply(mail, ctx)

    assert (mail.outcome, mail.reason) == (None, "")


@pytest.mark.parametrize("allowed", [("monitor@example.org",), ("@example.org",), ("Monitor@Example.ORG",)])
def test_allowed_senders_skip_the_auto_reply_rules(desk, allowed):
    ctx = make_ctx(desk, settings=replace(desk.settings, auto_reply_allowed_senders=allowed))
    mail = inbound(compose(sender=MONITOR, subject="Disk full on db01",
                           headers={"Auto-Submitted": "auto-generated", "Precedence": "bulk"}))

    auto_reply(mail, ctx)

    assert mail.outcome is None


def test_the_allow_list_matches_the_exact_domain_only(desk):
    ctx = make_ctx(desk, settings=replace(desk.settings, auto_reply_allowed_senders=("@example.org",)))
    mail = inbound(compose(sender="monitor@mail.example.org", headers={"Auto-Submitted": "auto-generated"}))

    auto_reply(mail, ctx)

    assert mail.outcome == "discarded"


def test_without_the_allow_list_the_same_alert_is_discarded(ctx):
    assert ctx.settings.auto_reply_allowed_senders == ()
    mail = inbound(compose(sender=MONITOR, headers={"Auto-Submitted": "auto-generated"}))

    auto_reply(mail, ctx)

    assert mail.reason == "auto-reply or bounce (rule: auto-submitted)"


def test_a_bounce_from_an_allowed_sender_is_still_discarded(desk):
    ctx = make_ctx(desk, settings=replace(desk.settings, auto_reply_allowed_senders=("@example.org",)))
    mail = inbound(compose(sender=MONITOR, headers={"X-Failed-Recipients": "bob@example.net",
                                                    "Auto-Submitted": "auto-generated"}))

    auto_reply(mail, ctx)

    assert mail.reason == "auto-reply or bounce (rule: x-failed-recipients)"


def test_a_replay_is_not_judged_again(ctx):
    """A claimed mail passed this rule in the run that claimed it: never discard it half-way."""
    mail = inbound(compose(subject="Automatic reply: x", headers={"Auto-Submitted": "auto-replied"}))
    mail.claim = {"ticket": "482913", "entry_id": "E1", "new_ticket": True}

    auto_reply(mail, ctx)

    assert (mail.outcome, mail.reason) == (None, "")
