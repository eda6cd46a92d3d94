"""detect_auto_reply: each rule alone, negatives, the allow-list, no-reply senders."""
from __future__ import annotations

import pytest

from shared_code.domain.autoreply import (
    RULES,
    bounced_message_id,
    detect_auto_reply,
    is_allowed_sender,
    is_no_reply_sender,
    strip_subject_prefixes,
)
from shared_code.domain.mail import parse_mail
from tests.data import load

NORMAL_BODY = "Hi,\n\nI am out of office next week, so please answer before Friday.\nAutomatic reply settings are fine.\n"


def mail_with(headers: str = "", subject: str = "Printer broken", sender: str = "Customer <customer@example.com>",
              content_type: str = "text/plain; charset=utf-8", body: str = NORMAL_BODY):
    raw = (
        f"From: {sender}\nTo: support@contoso.example\nSubject: {subject}\n"
        f"Message-ID: <rule-test@example.com>\nDate: Mon, 13 Jan 2025 10:00:00 +0000\n"
        f"{headers}MIME-Version: 1.0\nContent-Type: {content_type}\n\n{body}"
    )
    return parse_mail(raw.encode("utf-8"))


def report(report_type: str, part_type: str) -> str:
    return (
        f'multipart/report; report-type={report_type}; boundary="r"',
        f"--r\nContent-Type: text/plain\n\nreport\n--r\nContent-Type: {part_type}\n\nField: value\n\n--r--\n",
    )


def test_rules_are_named_and_ordered():
    names = [rule.name for rule in RULES]
    assert len(names) == len(set(names))
    assert names.index("delivery-status-report") < names.index("auto-submitted")
    assert all(callable(rule.check) and rule.check.__doc__ for rule in RULES)


def test_a_normal_mail_mentioning_out_of_office_in_the_body_is_not_flagged():
    assert detect_auto_reply(mail_with()) is None


@pytest.mark.parametrize(
    "header, rule",
    [
        ("X-Auto-Response-Suppress: All", "x-auto-response-suppress"),
        ("X-Auto-Response-Suppress: DR, RN, NRN, OOF, AutoReply", "x-auto-response-suppress"),
        ("X-Auto-Response-Suppress:", "x-auto-response-suppress"),
        ("Auto-Submitted: auto-replied", "auto-submitted"),
        ("Auto-Submitted: Auto-Generated", "auto-submitted"),
        ("Auto-Submitted: auto-replied; vacation", "auto-submitted"),
        ("Auto-Submitted: auto-generated (failure)", "auto-submitted"),
        ("Auto-Submitted: auto-notified", "auto-submitted"),
        ("X-Autoreply: yes", "x-autoreply"),
        ("X-AutoReply: ", "x-autoreply"),
        ("X-Autorespond: Vacation", "x-autorespond"),
        ("X-Autoresponse: 1", "x-autorespond"),
        ("X-AutoReply-From: someone@example.com", "x-autorespond"),
        ("X-Mail-Autoreply: yes", "x-autorespond"),
        ("Precedence: bulk", "precedence"),
        ("Precedence: JUNK", "precedence"),
        ("Precedence: list", "precedence"),
        ("Precedence: auto_reply", "precedence"),
        ("X-Precedence: bulk", "precedence"),
        ("X-FC-MachineGenerated: true", "x-fc-machinegenerated"),
        ("X-Failed-Recipients: gone@example.org", "x-failed-recipients"),
        ("X-MS-Exchange-Message-Is-Ndr:", "exchange-ndr"),
        ("Return-Path: <>", "empty-return-path"),
        ("List-Id: <users.lists.example.org>", "mailing-list"),
        ("List-Unsubscribe: <mailto:leave@lists.example.org>", "mailing-list"),
        ("X-Loop: helpdesk@example.org", "x-loop"),
    ],
)
def test_header_rules(header, rule):
    assert detect_auto_reply(mail_with(header + "\n")) == rule


@pytest.mark.parametrize(
    "header",
    [
        "Auto-Submitted: no",
        "Auto-Submitted: No ; comment",
        "Auto-Submitted:",
        "Precedence: normal",
        "Precedence: first-class",
        "X-Precedence: urgent",
        "Return-Path: <customer@example.com>",
        "X-MS-Exchange-Message-Is-Ndr: false",
        "X-MS-Exchange-Inbox-Rules-Loop: customer@example.com",  # a forwarding rule, not an auto-reply
    ],
)
def test_header_negatives(header):
    assert detect_auto_reply(mail_with(header + "\n")) is None


@pytest.mark.parametrize(
    "subject, rule",
    [
        ("Out of Office: Printer broken", "subject:out-of-office"),
        ("OUT OF OFFICE", "subject:out-of-office"),
        ("Out of the office until Monday", "subject:out-of-office"),
        ("RE: AW: Out of Office", "subject:out-of-office"),
        ("[#108749] Re: Out of Office: Checkout page error", "subject:out-of-office"),
        ("Abwesenheitsnotiz: Drucker defekt", "subject:out-of-office"),
        ("Automatic reply: Printer broken", "subject:automatic-reply"),
        ("automatic reply: x", "subject:automatic-reply"),
        ("Fwd: Automatic Reply: x", "subject:automatic-reply"),
        ("SV: VS: Autoreply: x", "subject:automatic-reply"),
        ("Auto-Reply: x", "subject:automatic-reply"),
        ("AutoReply", "subject:automatic-reply"),
        ("Automatische Antwort: Drucker", "subject:automatic-reply"),
        ("Réponse automatique : Imprimante", "subject:automatic-reply"),
        ("WG: TR: R: Antw: RE[2]: Automatic reply: x", "subject:automatic-reply"),
        ("Undeliverable: Printer broken", "subject:undeliverable"),
        ("UNDELIVERABLE MAIL", "subject:undeliverable"),
        ("Mail delivery failed: returning message to sender", "subject:undeliverable"),
        ("Delivery Status Notification (Failure)", "subject:undeliverable"),
        ("Returned mail: see transcript for details", "subject:undeliverable"),
        ("Undelivered Mail Returned to Sender", "subject:undeliverable"),
        ("failure notice", "subject:undeliverable"),
        ("Unzustellbar: Drucker", "subject:undeliverable"),
    ],
)
def test_subject_rules(subject, rule):
    assert detect_auto_reply(mail_with(subject=subject)) == rule


@pytest.mark.parametrize(
    "subject",
    [
        "My out of office settings are broken",
        "Re: Out of office settings do not save",
        "Automatic replies not working in Outlook",  # not "Automatic reply" at the start
        "Question about undeliverable mails",
        "Absence request for next week",
        "Re: [#108749] Checkout page error",
    ],
)
def test_subject_negatives(subject):
    assert detect_auto_reply(mail_with(subject=subject)) is None


def test_strip_subject_prefixes():
    assert strip_subject_prefixes("RE: AW: [#123] Fwd: WG:  Out of Office") == "Out of Office"
    assert strip_subject_prefixes("Re[3]: Sv: Antw: VS: TR: R: x") == "x"
    assert strip_subject_prefixes("Report: numbers") == "Report: numbers"


@pytest.mark.parametrize(
    "report_type, part_type, rule",
    [
        ("delivery-status", "message/delivery-status", "delivery-status-report"),
        ("disposition-notification", "message/disposition-notification", "disposition-notification-report"),
        ("feedback-report", "message/feedback-report", "feedback-report"),
        ("something-else", "text/plain", "multipart-report"),
    ],
)
def test_report_rules(report_type, part_type, rule):
    content_type, body = report(report_type, part_type)
    assert detect_auto_reply(mail_with(content_type=content_type, body=body)) == rule


def test_delivery_status_part_outside_a_report():
    body = "--m\nContent-Type: text/plain\n\nbounce\n--m\nContent-Type: message/delivery-status\n\nAction: failed\n\n--m--\n"
    assert detect_auto_reply(mail_with(content_type='multipart/mixed; boundary="m"', body=body)) == "delivery-status-report"


@pytest.mark.parametrize(
    "sender",
    [
        "MAILER-DAEMON@mail.example.org",
        "Mail Delivery System <MAILER-DAEMON@mail.example.org>",
        "Mail Delivery Subsystem <MAILER-DAEMON>",
        "MAILER-DAEMON",
        "postmaster@example.com",
        "Postmaster <PostMaster@example.com>",
    ],
)
def test_mailer_daemon_sender(sender):
    assert detect_auto_reply(mail_with(sender=sender)) == "mailer-daemon-sender"


def test_mailer_daemon_lookalikes_are_not_flagged():
    assert detect_auto_reply(mail_with(sender="postmaster-team-lead@example.com")) is None
    assert detect_auto_reply(mail_with(sender="Mailer Daemon Fan <fan@example.com>")) is None


@pytest.mark.parametrize(
    "name, rule",
    [
        ("exchange_ooo.eml", "x-auto-response-suppress"),
        ("vacation_rfc3834.eml", "auto-submitted"),
        ("bounce_dsn.eml", "delivery-status-report"),
        ("bounce_exchange_ndr.eml", "mailer-daemon-sender"),
        ("list_mail.eml", "precedence"),
        ("plain.eml", None),
        ("gmail_reply.eml", None),
        ("apple_reply.eml", None),
        ("forward.eml", None),
        ("no_message_id.eml", None),
        ("html_with_scripts.eml", None),
    ],
)
def test_corpus_files(name, rule):
    assert detect_auto_reply(parse_mail(load(name))) == rule


# --- allow-list -------------------------------------------------------------------------------


def test_allowed_sender_bypasses_auto_reply_rules():
    mail = mail_with("Auto-Submitted: auto-generated\nPrecedence: bulk\n", sender="Monitor <alerts@monitor.example.com>")
    assert detect_auto_reply(mail) == "auto-submitted"
    assert detect_auto_reply(mail, ("alerts@monitor.example.com",)) is None
    assert detect_auto_reply(mail, ("@monitor.example.com",)) is None
    assert detect_auto_reply(mail, ("ALERTS@Monitor.Example.com ",)) is None
    assert detect_auto_reply(mail, ("@example.com",)) == "auto-submitted"  # exact domain only
    assert detect_auto_reply(mail, ("other@monitor.example.com",)) == "auto-submitted"


def test_allowed_sender_never_bypasses_bounces():
    mail = parse_mail(load("bounce_dsn.eml"))
    assert detect_auto_reply(mail, ("mailer-daemon@mail.example.org", "@mail.example.org")) == "delivery-status-report"
    ndr = parse_mail(load("bounce_exchange_ndr.eml"))
    assert detect_auto_reply(ndr, ("@example.com",)) == "mailer-daemon-sender"


def test_is_allowed_sender():
    assert is_allowed_sender("a@b.example", ("a@b.example",))
    assert not is_allowed_sender("", ("@b.example",))
    assert not is_allowed_sender("a@evilb.example", ("@b.example",))


# --- no-reply senders -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "MAILER-DAEMON@example.com", "mailer-daemon", "postmaster@example.com", "abuse@example.com",
        "root@example.com", "noreply@example.com", "no-reply@example.com", "no_reply@example.com",
        "no.reply@example.com", "NoReply-Notifications@example.com", "do-not-reply@example.com",
        "donotreply@example.com", "do_not_reply@example.com", "bounce@example.com",
        "bounces+user=example.org@lists.example.com", "bounce-123-abc@example.com", "", "   ",
    ],
)
def test_no_reply_senders(address):
    assert is_no_reply_sender(address)


@pytest.mark.parametrize(
    "address",
    ["alice@example.com", "noreplyjohn@example.com", "rooter@example.com", "postmasters-guild@example.com",
     "bouncer@example.com", "support@noreply.example.com"],
)
def test_regular_senders_are_not_no_reply(address):
    assert not is_no_reply_sender(address)


def test_no_reply_custom_pattern():
    assert is_no_reply_sender("robot@example.com", r"^robot$")
    assert not is_no_reply_sender("noreply@example.com", r"^robot$")


def test_bounced_message_id():
    assert bounced_message_id(parse_mail(load("bounce_dsn.eml"))) == "ticket-108752.1736758800.1@contoso.example"
    assert bounced_message_id(parse_mail(load("plain.eml"))) is None
