"""The DnsResolver port: dnspython against the local name server (tests/fakes/nameserver.py),
and the memory twin. A missing record is an empty list; no answer at all is DnsUnavailable."""
from __future__ import annotations

import pytest

from shared_code.domain.diagnosis import DnsUnavailable
from tests.unit import memory

from .conftest import REAL


class _Published:
    """The resolver under test and where its records live (the server or the twin)."""

    def __init__(self, impl: str):
        if impl == REAL:
            from shared_code.adapters.dns_lookup import DnsLookup
            from tests.fakes.nameserver import FakeNameServer

            self.records = FakeNameServer()
            self.resolver = DnsLookup(self.records.address)
        else:
            self.records = memory.MemoryDns()
            self.resolver = self.records

    def go_dark(self) -> None:
        if isinstance(self.records, memory.MemoryDns):
            self.records.unavailable = True
        else:
            self.records.servfail = True

    def close(self) -> None:
        if not isinstance(self.records, memory.MemoryDns):
            self.records.stop()


@pytest.fixture
def dns(impl):
    published = _Published(impl)
    yield published
    published.close()


def test_txt_records_come_back_whole(dns):
    dns.records.add("contoso.example", "TXT", "v=spf1 -all", "google-site-verification=x")
    assert sorted(dns.resolver.txt("contoso.example")) == ["google-site-verification=x", "v=spf1 -all"]
    assert sorted(dns.resolver.txt("CONTOSO.example.")) == ["google-site-verification=x", "v=spf1 -all"]


def test_a_cname_comes_back_as_its_target(dns):
    dns.records.add("selector1._domainkey.contoso.example", "CNAME",
                    "selector1-contoso._domainkey.contoso.onmicrosoft.com.")
    assert dns.resolver.cname("selector1._domainkey.contoso.example") == [
        "selector1-contoso._domainkey.contoso.onmicrosoft.com."]


def test_a_missing_record_or_name_is_an_empty_list(dns):
    dns.records.add("contoso.example", "TXT", "v=spf1 -all")
    assert dns.resolver.cname("contoso.example") == []  # the name exists, no CNAME
    assert dns.resolver.txt("_dmarc.contoso.example") == []  # no such name


def test_no_answer_at_all_is_dns_unavailable(dns):
    dns.go_dark()
    with pytest.raises(DnsUnavailable, match="no DNS answer for contoso.example TXT"):
        dns.resolver.txt("contoso.example")
