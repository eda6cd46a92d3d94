"""Unit tests of shared_code/domain/sender_auth.py: the Authentication-Results parser and the
decision whether a mail's From is proven (no storage; mails parsed by the real parse_mail)."""
from __future__ import annotations

import pytest

from shared_code.domain.mail import parse_mail
from shared_code.domain.sender_auth import (
    MAX_EVIDENCE_CHARS, AuthResult, TrustSignal, Verdict, authenticate,
    parse_authentication_results,
)

EXCHANGE_PASS = ("spf=pass (sender IP is 40.107.22.59) smtp.mailfrom=contoso.example; dkim=pass "
                 "(signature was verified) header.d=contoso.example;dmarc=pass action=none "
                 "header.from=contoso.example;compauth=pass reason=100")
INTERNAL = [("X-MS-Exchange-Organization-AuthAs", "Internal"),
            ("X-MS-Exchange-Organization-AuthSource", "AM0PR01MB1234.eurprd01.prod.exchangelabs.com"),
            ("X-MS-Exchange-Organization-MessageDirectionality", "Originating")]


def _mail(headers: list[tuple[str, str]], sender: str = "Andy <agent@contoso.example>"):
    """Parse a mail whose header block starts with `headers` (topmost first)."""
    lines = [f"{name}: {value}" for name, value in headers]
    if sender is not None:
        lines.append(f"From: {sender}")
    lines += ["To: support@contoso.example", "Subject: [#482913] note",
              "Message-ID: <n1@contoso.example>"]
    return parse_mail(("\r\n".join(lines) + "\r\n\r\nbody\r\n").encode("utf-8"))


def _dmarc(value: str) -> list[AuthResult]:
    return [r for r in parse_authentication_results(value).results if r.method == "dmarc"]


# --------------------------------------------------------------------------- the parser


def test_exchange_online_form_has_no_authserv_id():
    header = parse_authentication_results(EXCHANGE_PASS)

    assert header.authserv_id == ""
    assert [(r.method, r.result) for r in header.results] == [
        ("spf", "pass"), ("dkim", "pass"), ("dmarc", "pass"), ("compauth", "pass")]
    assert header.results[2].domain("header.from") == "contoso.example"
    assert header.results[0].properties == {"smtp.mailfrom": "contoso.example"}


def test_rfc_8601_form_with_authserv_id_version_and_comments():
    header = parse_authentication_results(
        "mx.google.com 1;\r\n       dkim=pass header.i=@example.org header.s=s1 header.b=Ab+c;"
        "       spf=pass (google.com: domain of a@example.org designates 192.0.2.1 as "
        "permitted sender) smtp.mailfrom=a@example.org;\r\n       dmarc=pass (p=REJECT "
        "sp=REJECT dis=NONE) header.from=example.org")

    assert header.authserv_id == "mx.google.com"
    assert [(r.method, r.result) for r in header.results] == [
        ("dkim", "pass"), ("spf", "pass"), ("dmarc", "pass")]
    assert header.results[0].domain("header.i") == "example.org"
    assert header.results[2].properties == {"header.from": "example.org"}  # comment gone


@pytest.mark.parametrize("value", [
    "x.example; DMARC=PASS Header.From=Contoso.Example",
    "x.example;dmarc = pass header.from = contoso.example",
    "x.example;\tdmarc=pass\t(p=none (nested; with = signs) done)\theader.from=contoso.example",
    'x.example; dmarc/1=pass reason="a;b (not a comment)" header.from="contoso.example."',
    "x.example; dmarc=pass header.from=andy@CONTOSO.example",
    "x.example; spf=none; dmarc=pass header.from=contoso.example; arc=none",
])
def test_case_spacing_comments_versions_and_quotes(value):
    [dmarc] = _dmarc(value)

    assert dmarc.result == "pass"
    assert dmarc.domain("header.from") == "contoso.example"


def test_a_quoted_reason_keeps_its_semicolons_and_parentheses():
    [dmarc] = _dmarc('x.example; dmarc=fail reason="a;b (c)" header.from=contoso.example')

    assert dmarc.properties["reason"] == "a;b (c)"
    assert dmarc.result == "fail"


def test_no_results_and_the_authserv_id_alone():
    assert parse_authentication_results("mx.contoso.example; none").results == ()
    assert parse_authentication_results("mx.contoso.example").authserv_id == "mx.contoso.example"


@pytest.mark.parametrize("value", [
    "", ";;;", "=", "==;==", "(((unclosed", ")))", '"unclosed quote; dmarc=pass',
    "dmarc=", "dmarc=pass header.from", "\x00\x01\x7f", "é=ü; ☃=☃",
    "a; " + "dmarc=pass " * 5000, "(" * 10000 + "dmarc=pass",
])
def test_garbage_never_raises(value):
    header = parse_authentication_results(value)

    assert isinstance(header.results, tuple)


def test_a_comment_cannot_smuggle_a_result():
    """'dmarc=pass' inside a comment is a comment, not a result."""
    assert _dmarc("x.example; spf=fail (dmarc=pass header.from=contoso.example)") == []


# --------------------------------------------------------------------------- the decision


def test_a_mail_sent_inside_the_tenant_is_authenticated():
    auth = authenticate(_mail(INTERNAL))

    assert (auth.verdict, auth.signal) == (Verdict.AUTHENTICATED, TrustSignal.EXCHANGE_INTERNAL)
    assert auth.trusted


def test_header_names_and_values_in_any_case():
    auth = authenticate(_mail([("x-ms-exchange-organization-authas", "  internal "),
                               ("X-MS-EXCHANGE-ORGANIZATION-MESSAGEDIRECTIONALITY", "originating")]))

    assert auth.signal is TrustSignal.EXCHANGE_INTERNAL


def test_a_from_without_evidence_is_unauthenticated():
    auth = authenticate(_mail([]))

    assert auth.verdict is Verdict.UNAUTHENTICATED
    assert not auth.trusted
    assert "contoso.example" in auth.reason
    assert "AuthAs=(none)" in auth.evidence and "Authentication-Results=(none)" in auth.evidence


@pytest.mark.parametrize("headers", [
    [("X-MS-Exchange-Organization-AuthAs", "Anonymous")],
    [("X-MS-Exchange-Organization-AuthAs", "Partner")],
    [("X-MS-Exchange-Organization-AuthAs", "Internal"),
     ("X-MS-Exchange-Organization-MessageDirectionality", "Incoming")],
    [("X-MS-Exchange-Organization-AuthAs", "Anonymous"),
     ("X-MS-Exchange-Organization-AuthAs", "Internal")],
    [("X-MS-Exchange-Organization-AuthAs", "")],
])
def test_anything_but_an_internal_stamp_is_not_exchange_internal(headers):
    assert authenticate(_mail(headers)).verdict is Verdict.UNAUTHENTICATED


def test_dmarc_fail_beats_a_hand_written_internal_stamp():
    mail = _mail([("Authentication-Results", EXCHANGE_PASS.replace("dmarc=pass", "dmarc=fail")),
                  *INTERNAL])

    auth = authenticate(mail)

    assert auth.verdict is Verdict.SPOOFED
    assert auth.reason == "Authentication-Results reports dmarc=fail for contoso.example"
    assert "AuthAs=Internal" in auth.evidence and "dmarc=fail" in auth.evidence


def test_dmarc_fail_in_a_lower_header_is_still_a_veto():
    mail = _mail([("Authentication-Results", EXCHANGE_PASS),
                  ("Authentication-Results", "relay.example; dmarc=fail header.from=contoso.example"),
                  *INTERNAL])

    assert authenticate(mail).verdict is Verdict.SPOOFED


def test_dmarc_fail_naming_no_domain_is_about_the_from():
    mail = _mail([("Authentication-Results", "x.example; dmarc=fail"), *INTERNAL])

    assert authenticate(mail).verdict is Verdict.SPOOFED


def test_dmarc_fail_for_another_domain_is_not_about_this_from():
    mail = _mail([("Authentication-Results", "x.example; dmarc=fail header.from=other.example"),
                  *INTERNAL])

    assert authenticate(mail).signal is TrustSignal.EXCHANGE_INTERNAL


def test_dmarc_pass_for_the_from_domain_authenticates_a_cross_domain_sender():
    mail = _mail([("Authentication-Results", EXCHANGE_PASS.replace("contoso.example", "partner.example")),
                  ("X-MS-Exchange-Organization-AuthAs", "Anonymous")],
                 sender="Pat <pat@Partner.Example>")

    auth = authenticate(mail)

    assert (auth.verdict, auth.signal) == (Verdict.AUTHENTICATED, TrustSignal.DMARC_PASS)
    assert auth.reason == "dmarc=pass for partner.example"


@pytest.mark.parametrize("header_from", ["other.example", "sub.contoso.example", "example", ""])
def test_dmarc_pass_counts_only_for_the_from_domain(header_from):
    results = f"dmarc=pass action=none header.from={header_from}" if header_from else "dmarc=pass"

    auth = authenticate(_mail([("Authentication-Results", results)]))

    assert auth.verdict is Verdict.UNAUTHENTICATED


def test_a_second_from_address_cannot_borrow_its_dmarc_pass():
    """DMARC judged the attacker's own domain; the first From (ours) stays unproven."""
    mail = _mail([("Authentication-Results", EXCHANGE_PASS.replace("contoso.example", "evil.example"))],
                 sender="Andy <agent@contoso.example>, Eve <eve@evil.example>")

    assert mail.from_address == "agent@contoso.example"
    assert authenticate(mail).verdict is Verdict.UNAUTHENTICATED


def test_only_the_topmost_results_can_prove_a_sender():
    """A header below the receiving Exchange's own may have been written by the sender."""
    mail = _mail([("Authentication-Results", EXCHANGE_PASS.replace("dmarc=pass", "dmarc=none")),
                  ("Authentication-Results", EXCHANGE_PASS)])

    assert authenticate(mail).verdict is Verdict.UNAUTHENTICATED


def test_bestguesspass_is_not_pass():
    mail = _mail([("Authentication-Results", EXCHANGE_PASS.replace("dmarc=pass", "dmarc=bestguesspass"))])

    assert authenticate(mail).verdict is Verdict.UNAUTHENTICATED


def test_the_trusted_signals_decide():
    internal = _mail(INTERNAL)
    dmarc = _mail([("Authentication-Results", EXCHANGE_PASS)])

    assert authenticate(internal, [TrustSignal.DMARC_PASS]).verdict is Verdict.UNAUTHENTICATED
    assert authenticate(dmarc, [TrustSignal.DMARC_PASS]).trusted
    assert authenticate(dmarc, [TrustSignal.EXCHANGE_INTERNAL]).verdict is Verdict.UNAUTHENTICATED
    assert authenticate(internal, [TrustSignal.EXCHANGE_INTERNAL]).trusted
    assert not authenticate(internal, []).trusted
    assert "(trusted: none)" in authenticate(internal, []).reason


def test_a_mail_without_from_is_unauthenticated():
    auth = authenticate(_mail(INTERNAL, sender=None))

    assert (auth.verdict, auth.reason) == (Verdict.UNAUTHENTICATED, "no readable From address")


def test_the_evidence_is_clipped():
    huge = "spf=pass " + "x" * 5000 + "; dmarc=none header.from=contoso.example"
    mail = _mail([("Authentication-Results", huge)] * 100 + INTERNAL)

    auth = authenticate(mail)

    assert auth.signal is TrustSignal.EXCHANGE_INTERNAL
    assert len(auth.evidence) <= MAX_EVIDENCE_CHARS
    assert auth.evidence.endswith("[clipped]")
    assert auth.evidence.startswith("AuthAs=Internal; AuthSource=AM0PR01MB1234")
