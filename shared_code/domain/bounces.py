"""Delivery-status reports (RFC 3464 DSNs and Exchange NDRs): who failed, why, and which
of our mails bounced.

A bounce of a mail deskmail sent is a fact about its ticket (the client's address no longer
takes mail), not a new conversation: the pipeline (pipeline/bounce.py) writes it onto the
ticket as a note and, for a permanent failure, marks the address undeliverable. Only the
plain parsing lives here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .autoreply import bounced_message_id
from .mail import ParsedMail
from .notifications import parse_outbound_id

DSN_TYPES = ("message/delivery-status", "message/global-delivery-status")
STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
ADDRESS = re.compile(r"[^\s<>;\"',()]+@[^\s<>;\"',()]+\.[A-Za-z0-9-]+")
MAX_DIAGNOSTIC_CHARS = 300


@dataclass(frozen=True)
class Failure:
    """One recipient the report says was not delivered to."""

    recipient: str  # lower-case address
    status: str  # e.g. "5.1.1"; "5.0.0" / "4.0.0" when the report names only the class
    diagnostic: str = ""

    @property
    def permanent(self) -> bool:
        return self.status.startswith("5.")


@dataclass(frozen=True)
class BounceReport:
    original_ids: tuple[str, ...]  # Message-IDs the report names as the original, best first
    failures: tuple[Failure, ...] = field(default_factory=tuple)

    def ours(self) -> tuple[str, str] | None:
        """(ticket number, thread token) of the first original deskmail sent, or None."""
        for message_id in self.original_ids:
            found = parse_outbound_id(message_id)
            if found:
                return found
        return None


def _fields(block: str) -> dict[str, str]:
    """The `Name: value` fields of one DSN block (continuation lines unfolded)."""
    out: dict[str, str] = {}
    last = ""
    for line in block.splitlines():
        if line[:1] in (" ", "\t") and last:
            out[last] += " " + line.strip()
        elif ":" in line:
            name, value = line.split(":", 1)
            last = name.strip().lower()
            out.setdefault(last, value.strip())
    return out


def _address(value: str) -> str:
    """The address of a Final-Recipient / Original-Recipient value (`rfc822; a@b`)."""
    value = value.split(";", 1)[-1].strip().strip("<>")
    match = ADDRESS.search(value)
    return match.group(0).lower() if match else ""


def _dsn_failures(data: bytes) -> list[Failure]:
    text = data.decode("utf-8", "replace").replace("\r\n", "\n")
    failures = []
    for block in re.split(r"\n\s*\n", text):
        f = _fields(block)
        recipient = _address(f.get("final-recipient") or f.get("original-recipient") or "")
        action = f.get("action", "").lower()
        if not recipient or action not in ("failed", "delayed", ""):
            continue
        match = STATUS.search(f.get("status", ""))
        status = match.group(0) if match else ("4.0.0" if action == "delayed" else "5.0.0")
        if status.startswith("2."):
            continue
        diagnostic = f.get("diagnostic-code", "").split(";", 1)[-1].strip()
        failures.append(Failure(recipient, status, diagnostic[:MAX_DIAGNOSTIC_CHARS]))
    return failures


def _ndr_failures(mail: ParsedMail) -> list[Failure]:
    """An NDR without a DSN part (Exchange, some MTAs): X-Failed-Recipients, and the status
    code the human-readable text quotes (`Remote Server returned '550 5.1.1 ...'`)."""
    recipients: list[str] = []
    for value in mail.headers.get("x-failed-recipients", []):
        recipients += [a.lower() for a in ADDRESS.findall(value)]
    match = STATUS.search(mail.text_body or "")
    status = match.group(0) if match and not match.group(0).startswith("2.") else "5.0.0"
    line = next((ln.strip() for ln in (mail.text_body or "").splitlines()
                 if match and match.group(0) in ln), "")
    return [Failure(r, status, line[:MAX_DIAGNOSTIC_CHARS]) for r in dict.fromkeys(recipients)]


def parse_bounce(mail: ParsedMail) -> BounceReport:
    """What a bounce says: the originals it names (the enclosed message or headers first,
    then In-Reply-To) and the recipients that failed. Empty when it names neither."""
    originals = [bounced_message_id(mail) or ""] + list(mail.in_reply_to)
    failures: list[Failure] = []
    for part in mail.parts:
        if part.content_type in DSN_TYPES:
            failures += _dsn_failures(part.data)
    if not failures:
        failures = _ndr_failures(mail)
    unique = {(f.recipient, f.status): f for f in failures}
    return BounceReport(tuple(dict.fromkeys(i for i in originals if i)), tuple(unique.values()))


def note_text(report: BounceReport, account: str) -> str:
    """The internal note: one line per failed recipient, status and diagnostic."""
    lines = [f"Delivery failed: a mail of this ticket bounced (report received by {account})."]
    for f in report.failures:
        kind = "permanent" if f.permanent else "temporary"
        lines.append(f"- {f.recipient}: status {f.status} ({kind})"
                     + (f": {f.diagnostic}" if f.diagnostic else ""))
    if not report.failures:
        lines.append("- the report names no recipient or status")
    if any(f.permanent for f in report.failures):
        lines.append("Notifications to the permanently failed addresses are held until an "
                     "admin runs `clients clear-bounce ADDRESS`.")
    return "\n".join(lines)
