"""What Exchange Online's transport does to a mail's headers before it reaches a mailbox.

See the platform notes ("Exchange Online: who really sent a mail"): mail submitted by a
signed-in user of the tenant is stamped `X-MS-Exchange-Organization-AuthAs: Internal`
(directionality Originating); mail from the internet first passes the header firewall, which
removes any `X-MS-Exchange-Organization-*` header the sender wrote, then gets Exchange's own
`Authentication-Results` (no authserv-id, as Exchange Online writes it) and `AuthAs: Anonymous`
(directionality Incoming), prepended above everything the sender wrote. Tests wrap raw MIME
with these before `graph.add_message`, so the app sees what `$value` returns for such mail.
"""
from __future__ import annotations

import re
from email.utils import getaddresses

AUTH_SOURCE = "AM0PR01MB1234.eurprd01.prod.exchangelabs.com"
_ORG_HEADER = re.compile(rb"x-ms-exchange-organization-", re.IGNORECASE)


def _split(raw: bytes) -> tuple[list[bytes], bytes]:
    """The header block as lines (with their line ends) and the rest, unchanged."""
    match = re.search(rb"\r?\n\r?\n", raw)
    cut = (match.start() + (2 if match.group(0).startswith(b"\r") else 1)) if match else len(raw)
    head, rest = raw[:cut], raw[cut:]
    return head.splitlines(keepends=True), rest


def _eol(raw: bytes) -> bytes:
    return b"\r\n" if b"\r\n" in raw[:2000] else b"\n"


def header_firewall(raw: bytes) -> bytes:
    """Remove X-MS-Exchange-Organization-* headers (with their folded lines)."""
    lines, rest = _split(raw)
    kept, dropping = [], False
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            if not dropping:
                kept.append(line)
            continue
        dropping = bool(_ORG_HEADER.match(line))
        if not dropping:
            kept.append(line)
    return b"".join(kept) + rest


def prepend(raw: bytes, headers: list[tuple[str, str]]) -> bytes:
    """Headers added in transport, above the ones already there (first given = topmost)."""
    eol = _eol(raw)
    return b"".join(f"{name}: {value}".encode("utf-8") + eol for name, value in headers) + raw


def _from_domain(raw: bytes) -> str:
    for line in _split(raw)[0]:
        if line.lower().startswith(b"from:"):
            pairs = getaddresses([line[5:].decode("utf-8", "replace").strip()])
            address = pairs[0][1] if pairs else ""
            return address.rsplit("@", 1)[-1].lower()
    return ""


def sent_inside(raw: bytes, auth_source: str = AUTH_SOURCE) -> bytes:
    """A mail sent by a signed-in user of the tenant, delivered to a mailbox of the tenant."""
    return prepend(raw, [
        ("X-MS-Exchange-Organization-AuthAs", "Internal"),
        ("X-MS-Exchange-Organization-AuthMechanism", "04"),
        ("X-MS-Exchange-Organization-AuthSource", auth_source),
        ("X-MS-Exchange-Organization-MessageDirectionality", "Originating"),
    ])


def authentication_results(spf: str = "pass", dkim: str = "pass", dmarc: str = "pass",
                           domain: str = "example.org") -> str:
    """Exchange Online's form of the header (no authserv-id, comments, compauth)."""
    action = {"fail": "oreject", "pass": "none"}.get(dmarc, "none")
    compauth = "fail reason=000" if dmarc == "fail" else "pass reason=100"
    return (f"spf={spf} (sender IP is 203.0.113.25) smtp.mailfrom={domain}; "
            f"dkim={dkim} (signature was verified) header.d={domain};"
            f"dmarc={dmarc} action={action} header.from={domain};compauth={compauth}")


def from_internet(raw: bytes, *, spf: str = "pass", dkim: str = "pass", dmarc: str = "pass",
                  header_from: str | None = None) -> bytes:
    """A mail from outside the tenant as delivered (`header_from`: the domain DMARC judged)."""
    raw = header_firewall(raw)
    domain = header_from if header_from is not None else _from_domain(raw)
    return prepend(raw, [
        ("Authentication-Results", authentication_results(spf, dkim, dmarc, domain)),
        ("X-MS-Exchange-Organization-AuthAs", "Anonymous"),
        ("X-MS-Exchange-Organization-AuthSource", AUTH_SOURCE),
        ("X-MS-Exchange-Organization-MessageDirectionality", "Incoming"),
        ("X-MS-Exchange-Organization-SCL", "1"),
    ])
