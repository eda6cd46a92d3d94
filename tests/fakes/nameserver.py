"""A tiny authoritative name server on a local UDP port, for the doctor's DNS checks.

`records` maps (name, type) to answers: TXT strings or CNAME targets. A name with records of
another type answers NOERROR with no answer (NoAnswer); an unknown name NXDOMAIN. With
`servfail = True` every query gets SERVFAIL: a DNS that gives no answer. dnspython builds and
parses the messages; the socket runs in a daemon thread until `stop()`.
"""
from __future__ import annotations

import socket
import threading

SPF = "v=spf1 include:spf.protection.outlook.com -all"
DMARC = "v=DMARC1; p=quarantine; rua=mailto:dmarc@contoso.example"


class FakeNameServer:
    def __init__(self) -> None:
        self.records: dict[tuple[str, str], list[str]] = {}
        self.servfail = False
        self.queries: list[tuple[str, str]] = []
        self._stopping = False
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._thread = threading.Thread(target=self._serve, name="fake-dns", daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        """host:port, as DOCTOR_DNS_SERVER takes it."""
        host, port = self._sock.getsockname()
        return f"{host}:{port}"

    def add(self, name: str, rdtype: str, *values: str) -> None:
        self.records.setdefault((name.lower().rstrip("."), rdtype.upper()), []).extend(values)

    def publish_mail_records(self, domain: str, spf: str = SPF, dmarc: str = DMARC) -> None:
        """What a domain set up for Microsoft 365 publishes: SPF, DMARC and the two DKIM
        selectors as CNAMEs."""
        self.add(domain, "TXT", spf)
        self.add(f"_dmarc.{domain}", "TXT", dmarc)
        for selector in ("selector1", "selector2"):
            self.add(f"{selector}._domainkey.{domain}", "CNAME",
                     f"{selector}-{domain.replace('.', '-')}._domainkey.contoso.onmicrosoft.com.")

    def stop(self) -> None:
        """Wake the thread with one datagram to itself, then close the socket."""
        self._stopping = True
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as waker:
            waker.sendto(b"stop", self._sock.getsockname())
        self._thread.join()
        self._sock.close()

    def _serve(self) -> None:
        while True:
            data, peer = self._sock.recvfrom(4096)
            if self._stopping:
                return
            self._sock.sendto(self._answer(data), peer)

    def _answer(self, data: bytes) -> bytes:
        import dns.flags
        import dns.message
        import dns.rcode
        import dns.rdatatype
        import dns.rrset

        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text().lower().rstrip(".")
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, rdtype))
        if self.servfail:
            response.set_rcode(dns.rcode.SERVFAIL)
            return response.to_wire()
        values = self.records.get((name, rdtype))
        if values:
            texts = [f'"{v}"' if rdtype == "TXT" else v for v in values]
            response.answer.append(dns.rrset.from_text(question.name, 300, "IN", rdtype, *texts))
        elif not any(known == name for known, _ in self.records):
            response.set_rcode(dns.rcode.NXDOMAIN)
        response.flags |= dns.flags.AA
        return response.to_wire()
