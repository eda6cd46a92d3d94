"""domain/bounces.py: what a DSN or an NDR says, without storage."""
from __future__ import annotations

from shared_code.domain.bounces import Failure, note_text, parse_bounce
from shared_code.domain.mail import parse_mail

OURS = "dm.123456.0123456789abcdef.0123456789abcdef01234567@contoso.example"


def dsn(blocks: str, original: str = f"Message-ID: <{OURS}>\n", kind="text/rfc822-headers") -> bytes:
    return (f"""From: MAILER-DAEMON@mx.example.org
To: support@contoso.example
Subject: Undelivered Mail Returned to Sender
Message-ID: <dsn-1@mx.example.org>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

Sorry.

--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

{blocks}
--b
Content-Type: {kind}

{original}
--b--
""").encode()


def test_a_dsn_names_each_failed_recipient_with_its_status_and_the_original():
    report = parse_bounce(parse_mail(dsn(
        "Final-Recipient: rfc822; Ann@Example.org\nAction: failed\nStatus: 5.1.1\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user\n  unknown\n\n"
        "Final-Recipient: rfc822; bob@example.org\nAction: delayed\nStatus: 4.4.1\n\n"
        "Final-Recipient: rfc822; eve@example.org\nAction: delivered\nStatus: 2.0.0\n")))
    assert report.original_ids == (OURS,)
    assert report.ours() == ("123456", "0123456789abcdef")
    assert report.failures == (Failure("ann@example.org", "5.1.1", "550 5.1.1 user unknown"),
                               Failure("bob@example.org", "4.4.1", ""))
    assert [f.permanent for f in report.failures] == [True, False]


def test_the_original_may_be_an_enclosed_message():
    raw = dsn("Final-Recipient: rfc822; ann@example.org\nAction: failed\nStatus: 5.2.2\n",
              original=f"Message-ID: <{OURS}>\nFrom: support@contoso.example\nSubject: x\n\nbody\n",
              kind="message/rfc822")
    report = parse_bounce(parse_mail(raw))
    assert report.ours() == ("123456", "0123456789abcdef")
    assert report.failures[0].status == "5.2.2"


def test_an_exchange_ndr_without_a_dsn_part_is_read_from_its_headers_and_text():
    raw = (f"From: postmaster@contoso.example\nTo: support@contoso.example\nSubject: Undeliverable: x\n"
           f"In-Reply-To: <{OURS}>\nX-MS-Exchange-Message-Is-Ndr:\nX-Failed-Recipients: ann@example.org\n"
           "Content-Type: text/plain\n\nRemote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound'\n")
    report = parse_bounce(parse_mail(raw.encode()))
    assert report.ours() == ("123456", "0123456789abcdef")
    assert report.failures == (Failure("ann@example.org", "5.1.10",
                                       "Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound'"),)


def test_a_report_about_someone_elses_mail_is_not_ours():
    report = parse_bounce(parse_mail(dsn("Final-Recipient: rfc822; a@b.example\nAction: failed\n",
                                         original="Message-ID: <x@example.net>\n")))
    assert report.ours() is None
    assert report.failures == (Failure("a@b.example", "5.0.0", ""),)  # no Status: the class only


def test_the_note_names_recipients_status_and_the_hold():
    report = parse_bounce(parse_mail(dsn("Final-Recipient: rfc822; ann@example.org\nAction: failed\n"
                                         "Status: 5.1.1\n")))
    text = note_text(report, "support@contoso.example")
    assert "- ann@example.org: status 5.1.1 (permanent)" in text
    assert "clients clear-bounce" in text
    assert "clear-bounce" not in note_text(parse_bounce(parse_mail(dsn(
        "Final-Recipient: rfc822; ann@example.org\nAction: delayed\nStatus: 4.2.2\n"))), "s@c.example")
