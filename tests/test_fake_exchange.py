"""tests/fakes/exchange.py stamps mail the way Exchange Online's transport does."""
from email import message_from_bytes, policy

from tests.fakes.exchange import from_internet, header_firewall, sent_inside

RAW = (b"X-MS-Exchange-Organization-AuthAs: Internal\r\n"
       b"x-ms-exchange-organization-authsource:\r\n folded.example\r\n"
       b"From: Andy <agent@Contoso.Example>\r\n"
       b"X-Other: kept\r\n\tfolded too\r\n"
       b"Subject: hi\r\n\r\n"
       b"X-MS-Exchange-Organization-AuthAs: Internal (in the body, kept)\r\n")


def _headers(raw: bytes) -> list[tuple[str, str]]:
    return [(k.lower(), " ".join(v.split()))
            for k, v in message_from_bytes(raw, policy=policy.compat32).items()]


def test_the_header_firewall_removes_org_headers_with_their_folded_lines_only():
    out = header_firewall(RAW)

    assert _headers(out) == [("from", "Andy <agent@Contoso.Example>"),
                             ("x-other", "kept folded too"), ("subject", "hi")]
    assert out.endswith(b"\r\n\r\nX-MS-Exchange-Organization-AuthAs: Internal (in the body, kept)\r\n")


def test_internet_mail_gets_exchange_results_on_top_and_anonymous_stamps():
    headers = _headers(from_internet(RAW, spf="fail", dkim="none", dmarc="fail"))

    assert headers[0][0] == "authentication-results"
    assert "dmarc=fail action=oreject header.from=contoso.example;" in headers[0][1]
    assert [v for k, v in headers if k == "x-ms-exchange-organization-authas"] == ["Anonymous"]
    assert ("x-ms-exchange-organization-messagedirectionality", "Incoming") in headers


def test_mail_sent_inside_is_stamped_internal_and_originating():
    headers = _headers(sent_inside(header_firewall(RAW)))

    assert headers[0] == ("x-ms-exchange-organization-authas", "Internal")
    assert ("x-ms-exchange-organization-messagedirectionality", "Originating") in headers
    assert not any(k == "authentication-results" for k, _ in headers)
