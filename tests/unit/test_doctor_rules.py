"""The doctor's pure rules: what an SPF, DKIM or DMARC answer means, the production settings,
the report's exit code, and the DNS findings on the memory resolver."""
from __future__ import annotations

from shared_code.domain.diagnosis import (
    CheckId, DoctorReport, Finding, GuideRow, Result, dkim_published, dmarc_record,
    production_problems, spf_record,
)
from shared_code.services.doctor_system import dns_findings

from .memory import MemoryDns


def test_spf_and_dmarc_records_are_recognised_among_others():
    assert spf_record(["google-site-verification=x", " V=SPF1 -all"]) == " V=SPF1 -all"
    assert spf_record(["v=spf10 -all", "spf1", "x v=spf1"]) is None
    assert spf_record(["v=spf1"]) == "v=spf1"
    assert dmarc_record(["v = DMARC1; p=none"]) == "v = DMARC1; p=none"
    assert dmarc_record(["v=spf1 -all", "v=DMARC10; p=none"]) is None


def test_dkim_counts_as_published_as_cname_or_as_a_key():
    assert dkim_published(["selector1-x._domainkey.x.onmicrosoft.com."], [])
    assert dkim_published([], ["v=DKIM1; k=rsa; p=MIGf"])
    assert not dkim_published([], ["v=DKIM1; k=rsa; p="])  # an empty key: revoked
    assert not dkim_published([], ["some text"])


def test_production_problems_name_each_setting():
    assert production_problems(False, ("exchange-internal",), None, "off") == []
    local = production_problems(False, (), None, "dev")
    assert [p for p, _ in local] == [local[0][0]] and local[0][0].startswith("TRUSTED_SENDER_SIGNALS")
    azure = [p for p, _ in production_problems(True, (), None, "off")]
    assert [p.split(" ")[0] for p in azure] == ["TRUSTED_SENDER_SIGNALS", "KEY_VAULT_URL", "DESKMAIL_AUTH"]


def test_warnings_do_not_fail_the_report():
    report = DoctorReport()
    report.add(Finding(CheckId.DNS, "DNS", GuideRow.SPAM, Result.WARN, "not checked"))
    assert report.ok and report.exit_code == 0
    report.add(Finding(CheckId.SPF, "SPF", GuideRow.SPAM, Result.FAIL, "none"))
    data = report.as_dict()
    assert data["exit_code"] == 1 and data["counts"] == {"pass": 0, "warn": 1, "fail": 1}
    assert data["checks"][1] == {"check": "spf", "title": "SPF", "row": "Emails going to spam",
                                 "result": "fail", "detail": "none", "fix": "", "target": ""}


def test_each_sending_domain_is_looked_up_once():
    dns = MemoryDns()
    dns.add("contoso.example", "TXT", "v=spf1 -all")
    dns.add("_dmarc.contoso.example", "TXT", "v=DMARC1; p=reject")
    for selector in ("selector1", "selector2"):
        dns.add(f"{selector}._domainkey.contoso.example", "CNAME", f"{selector}.x.")

    findings = dns_findings(dns, ["a@contoso.example", "B@Contoso.example", "c@fabrikam.example"])

    by = {(f.check, f.target): f.result for f in findings}
    assert by == {(CheckId.SPF, "contoso.example"): Result.PASS,
                  (CheckId.DKIM, "contoso.example"): Result.PASS,
                  (CheckId.DMARC, "contoso.example"): Result.PASS,
                  (CheckId.SPF, "fabrikam.example"): Result.FAIL,
                  (CheckId.DKIM, "fabrikam.example"): Result.FAIL,
                  (CheckId.DMARC, "fabrikam.example"): Result.FAIL}


def test_a_resolver_without_answers_warns_once_per_domain():
    dns = MemoryDns()
    dns.unavailable = True

    [finding] = dns_findings(dns, ["a@contoso.example"])

    assert (finding.check, finding.result, finding.target) == (CheckId.DNS, Result.WARN,
                                                                "contoso.example")
