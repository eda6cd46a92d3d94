"""DNS look-ups for the doctor (dnspython), behind ports.DnsResolver.

`server` ("host:port", the DOCTOR_DNS_SERVER setting) points the resolver at one name server
(tests start a local one); None uses the system resolver. dnspython is imported on first use,
so importing this module loads no SDK.
"""
from __future__ import annotations

from ..domain.diagnosis import DnsUnavailable

# seconds for one look-up, retries included: a doctor run waits at most this per record
LIFETIME_SECONDS = 4.0


class DnsLookup:
    def __init__(self, server: str | None = None, lifetime: float = LIFETIME_SECONDS):
        self._server = server
        self._lifetime = lifetime
        self._resolver = None

    def _get_resolver(self):
        if self._resolver is None:
            try:
                import dns.resolver
            except ImportError:  # requirements.txt has it; a partial install must not crash
                raise DnsUnavailable("dnspython is not installed") from None

            try:
                resolver = dns.resolver.Resolver(configure=self._server is None)
            except dns.resolver.NoResolverConfiguration as error:
                raise DnsUnavailable(f"no DNS resolver is configured: {error}") from None
            if self._server:
                host, _, port = self._server.rpartition(":")
                resolver.nameservers = [host.strip("[]")]
                resolver.port = int(port)
            resolver.lifetime = resolver.timeout = self._lifetime
            self._resolver = resolver
        return self._resolver

    def _answer(self, name: str, rdtype: str):
        import dns.exception
        import dns.resolver

        resolver = self._get_resolver()
        try:
            return list(resolver.resolve(name, rdtype, search=False))
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except (dns.resolver.NoNameservers, dns.exception.Timeout, OSError) as error:
            raise DnsUnavailable(f"no DNS answer for {name} {rdtype}: "
                                 f"{type(error).__name__}") from None

    def txt(self, name: str) -> list[str]:
        return [b"".join(rdata.strings).decode("utf-8", "replace")
                for rdata in self._answer(name, "TXT")]

    def cname(self, name: str) -> list[str]:
        return [rdata.target.to_text() for rdata in self._answer(name, "CNAME")]
