"""Who really sent a mail: the authentication evidence Exchange Online leaves in its headers.

A From header is a claim anyone can write. Exchange's transport stamps
`X-MS-Exchange-Organization-AuthAs: Internal` on mail submitted by a user signed in to the
tenant, and its header firewall strips `X-MS-Exchange-Organization-*` from mail arriving from
outside, so that stamp cannot come from the internet. For internet mail the receiving Exchange
prepends `Authentication-Results` (spf, dkim, dmarc with `header.from=`). This module reads that
evidence (never raising on malformed headers) and decides whether the From is proven under the
signals an administrator trusts (setting TRUSTED_SENDER_SIGNALS, docs/architecture.md).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from .mail import ParsedMail

AUTH_AS = "x-ms-exchange-organization-authas"
AUTH_SOURCE = "x-ms-exchange-organization-authsource"
DIRECTIONALITY = "x-ms-exchange-organization-messagedirectionality"
AUTHENTICATION_RESULTS = "authentication-results"

MAX_RESULTS_HEADERS = 20  # Authentication-Results headers read per mail; more is noise or an attack
MAX_HEADER_CHARS = 4000  # of one header value, parsed
MAX_EVIDENCE_CHARS = 600  # the summary written to the system log


class TrustSignal(str, Enum):
    """A piece of evidence that may prove a mail's From (values of TRUSTED_SENDER_SIGNALS)."""

    EXCHANGE_INTERNAL = "exchange-internal"  # AuthAs: Internal (a signed-in user of the tenant)
    DMARC_PASS = "dmarc-pass"  # the receiving Exchange's dmarc=pass for the From domain


DEFAULT_TRUSTED_SIGNALS = (TrustSignal.EXCHANGE_INTERNAL, TrustSignal.DMARC_PASS)


class Verdict(str, Enum):
    AUTHENTICATED = "authenticated"  # a trusted signal proves the From
    UNAUTHENTICATED = "unauthenticated"  # nothing proves the From (it may still be genuine)
    SPOOFED = "spoofed"  # Authentication-Results reports dmarc=fail for the From domain


@dataclass(frozen=True)
class AuthResult:
    """One `method=result` of an Authentication-Results header, e.g. dmarc=pass."""

    method: str  # lower-case, without a /version
    result: str  # lower-case
    properties: dict[str, str] = field(default_factory=dict)  # "header.from" -> value

    def domain(self, key: str) -> str:
        """A property naming a domain (or an address: its domain), normalized; "" when absent."""
        return _domain(self.properties.get(key, ""))


@dataclass(frozen=True)
class AuthResultsHeader:
    authserv_id: str  # lower-case; "" when absent (Exchange Online writes none)
    results: tuple[AuthResult, ...]

    def dmarc(self) -> list[AuthResult]:
        return [r for r in self.results if r.method == "dmarc"]


@dataclass(frozen=True)
class SenderAuth:
    verdict: Verdict
    signal: TrustSignal | None  # the signal that proved the From, when authenticated
    reason: str  # why, in words, for reasons and logs
    evidence: str  # the headers seen, clipped, for the system log

    @property
    def trusted(self) -> bool:
        return self.verdict is Verdict.AUTHENTICATED


# --------------------------------------------------------------------------- parsing


def _domain(value: str) -> str:
    value = value.strip().strip('"').strip("<>").strip().lower()
    if "@" in value:
        value = value.rsplit("@", 1)[1]
    return value.rstrip(".")


def _strip_comments(text: str) -> str:
    """Remove RFC 5322 comments (nested parentheses), keeping quoted strings intact."""
    out: list[str] = []
    depth = 0
    quoted = False
    escaped = False
    for char in text:
        if escaped:
            escaped = False
            if depth == 0:
                out.append(char)
            continue
        if char == "\\" and (quoted or depth):
            escaped = True
            if depth == 0:
                out.append(char)
            continue
        if quoted:
            out.append(char)
            if char == '"':
                quoted = False
        elif char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
            if not depth:
                out.append(" ")
        elif depth:
            continue
        else:
            out.append(char)
            if char == '"':
                quoted = True
    return "".join(out)


def _split_outside_quotes(text: str, separator: str = ";") -> list[str]:
    parts, current, quoted, escaped = [], [], False, False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


# A token: runs of non-space characters and quoted strings (atomic: linear time on any input).
_TOKEN = re.compile(r'(?:[^\s"]++|"(?:[^"\\]|\\.)*+"?)++')
_RESULT_START = re.compile(r"\s*[A-Za-z0-9][A-Za-z0-9_.\-]*(?:\s*/\s*\d+)?\s*=")


def _unquote(value: str) -> str:
    if value.startswith('"'):
        value = value[1:-1] if value.endswith('"') and len(value) > 1 else value[1:]
        value = re.sub(r"\\(.)", r"\1", value)
    return value


def _pairs(segment: str) -> list[tuple[str, str]]:
    """`key=value` tokens of a segment, spaces around "=" allowed; other tokens skipped."""
    text = " ".join(segment.split()).replace(" =", "=").replace("= ", "=")
    pairs = []
    for token in _TOKEN.findall(text):
        key, equals, value = token.partition("=")
        if equals and key and '"' not in key:
            pairs.append((key, value))
    return pairs


def _result(segment: str) -> AuthResult | None:
    pairs = _pairs(segment)
    if not pairs:
        return None  # "none", or garbage
    (method, result), rest = pairs[0], pairs[1:]
    method = method.split("/", 1)[0].strip().lower()
    result = _unquote(result).strip().lower()
    if not method or not result:
        return None
    properties: dict[str, str] = {}
    for key, value in rest:
        properties.setdefault(key.lower(), _unquote(value).strip())
    return AuthResult(method, result, properties)


def parse_authentication_results(value: str) -> AuthResultsHeader:
    """Parse one Authentication-Results value (RFC 8601, and Exchange's form without an
    authserv-id). Tolerant: unreadable pieces are skipped, nothing raises."""
    try:
        text = _strip_comments(str(value or "")[:MAX_HEADER_CHARS])
        segments = _split_outside_quotes(text)
        authserv_id = ""
        if segments and not _RESULT_START.match(segments[0]):
            words = segments.pop(0).split()
            authserv_id = _unquote(words[0]).lower() if words else ""
        results = tuple(r for r in (_result(s) for s in segments) if r is not None)
        return AuthResultsHeader(authserv_id, results)
    except Exception:  # noqa: BLE001 - a header must never stop a mail
        return AuthResultsHeader("", ())


# --------------------------------------------------------------------------- the decision


def _values(headers: dict[str, list[str]], name: str) -> list[str]:
    return [str(v).strip() for v in (headers.get(name) or [])]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 12] + " …[clipped]"


def _evidence(headers: dict[str, list[str]]) -> str:
    """The authentication headers seen, one short line, for the system log."""
    parts = []
    for label, name in (("AuthAs", AUTH_AS), ("AuthSource", AUTH_SOURCE),
                        ("MessageDirectionality", DIRECTIONALITY)):
        values = _values(headers, name)
        parts.append(f"{label}={','.join(_clip(v, 100) for v in values) if values else '(none)'}")
    results = _values(headers, AUTHENTICATION_RESULTS)
    if not results:
        parts.append("Authentication-Results=(none)")
    for number, value in enumerate(results[:3], 1):
        parts.append(f"Authentication-Results#{number}={_clip(value, 250)}")
    if len(results) > 3:
        parts.append(f"(+{len(results) - 3} more Authentication-Results)")
    return _clip("; ".join(parts), MAX_EVIDENCE_CHARS)


def _exchange_internal(headers: dict[str, list[str]]) -> bool:
    """Every AuthAs stamp says Internal, and the mail is not marked as arriving from outside."""
    auth_as = [v.lower() for v in _values(headers, AUTH_AS)]
    directions = [v.lower() for v in _values(headers, DIRECTIONALITY)]
    return bool(auth_as) and all(v == "internal" for v in auth_as) and "incoming" not in directions


def authenticate(mail: "ParsedMail", signals: Iterable[TrustSignal] = DEFAULT_TRUSTED_SIGNALS
                 ) -> SenderAuth:
    """Decide whether `mail`'s From address is proven by a trusted signal.

    - dmarc=fail for the From domain (or naming no domain) in any Authentication-Results
      header: SPOOFED, whatever else the mail carries. A header lower down can only have been
      added by an earlier hop or the sender, who can only make their own mail less trusted.
    - exchange-internal: every X-MS-Exchange-Organization-AuthAs is Internal and the
      directionality (when stamped) is not Incoming.
    - dmarc-pass: the topmost Authentication-Results header (the one the receiving Exchange
      prepended; anything below it may be written by the sender) has dmarc=pass with
      header.from equal to the From domain.
    """
    headers = mail.headers or {}
    signals = set(signals)
    evidence = _evidence(headers)
    address = (mail.from_address or "").strip().lower()
    if "@" not in address:
        return SenderAuth(Verdict.UNAUTHENTICATED, None, "no readable From address", evidence)
    from_domain = _domain(address)
    parsed = [parse_authentication_results(v)
              for v in _values(headers, AUTHENTICATION_RESULTS)[:MAX_RESULTS_HEADERS]]
    for header in parsed:
        for result in header.dmarc():
            if result.result == "fail" and result.domain("header.from") in ("", from_domain):
                return SenderAuth(Verdict.SPOOFED, None,
                                  f"Authentication-Results reports dmarc=fail for {from_domain}",
                                  evidence)
    if TrustSignal.EXCHANGE_INTERNAL in signals and _exchange_internal(headers):
        return SenderAuth(Verdict.AUTHENTICATED, TrustSignal.EXCHANGE_INTERNAL,
                          "sent by a signed-in user of the tenant (AuthAs: Internal)", evidence)
    if TrustSignal.DMARC_PASS in signals and parsed and any(
            r.result == "pass" and r.domain("header.from") == from_domain
            for r in parsed[0].dmarc()):
        return SenderAuth(Verdict.AUTHENTICATED, TrustSignal.DMARC_PASS,
                          f"dmarc=pass for {from_domain}", evidence)
    trusted = ", ".join(s.value for s in TrustSignal if s in signals) or "none"
    return SenderAuth(Verdict.UNAUTHENTICATED, None,
                      f"no trusted signal proves {from_domain} (trusted: {trusted})", evidence)
