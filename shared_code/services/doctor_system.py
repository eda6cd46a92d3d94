"""The doctor's system-wide checks: templates, the attachments container, duplicate tickets
and the sending domains' SPF, DKIM and DMARC records (services/doctor.py runs them)."""
from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from ..adapters.names import ATTACHMENTS
from ..domain.diagnosis import (
    DKIM_SELECTORS,
    CheckId,
    DnsUnavailable,
    Finding,
    GuideRow,
    Result,
    dkim_published,
    dmarc_record,
    spf_record,
)
from ..domain.autoreply import detect_auto_reply
from ..domain.mail import parse_mail
from ..domain.templates import TEMPLATE_KEYS, field_problems, render, sample_values

if TYPE_CHECKING:
    from ..ports import DnsResolver
    from .helpdesk import Helpdesk

# Marker rows (one per Message-ID stored in a ticket) read at most by the duplicate check
DUPLICATE_SCAN_LIMIT = 20_000
# A 1x1 transparent PNG: what an inline image is, in the smallest form
PROBE_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000b49444154789c6360000200000500017a5eab3f0000000049454e44ae426082")
PROBE_PREFIX = "doctor-probe/"  # never a content-addressed name (those are hex digests)


# ---------------------------------------------------------------- auto-replies

# The guide's auto-reply table, one sample mail per row: (header or None, value, subject)
AUTO_REPLY_SAMPLES = (
    ("X-Auto-Response-Suppress", "All", "Question"),
    ("Auto-Submitted", "auto-replied", "Question"),
    ("Auto-Submitted", "auto-generated", "Question"),
    ("X-Autoreply", "yes", "Question"),
    ("Precedence", "bulk", "Question"),
    ("Precedence", "junk", "Question"),
    ("Precedence", "list", "Question"),
    (None, "", "Out of Office: Question"),
    (None, "", "Automatic reply: Question"),
    (None, "", "Undeliverable: Question"),
)


def _sample(header: str | None, value: str, subject: str, sender: str) -> bytes:
    extra = f"{header}: {value}\r\n" if header else ""
    return (f"From: {sender}\r\nTo: desk@example.org\r\nSubject: {subject}\r\n"
            f"Message-ID: <doctor@example.org>\r\n{extra}\r\nI am away.\r\n").encode()


def auto_reply_findings(desk: "Helpdesk") -> list[Finding]:
    """The guide's rows each discard their sample, with AUTO_REPLY_ALLOWED_SENDERS applied; an
    allow-listed whole domain lets its people's out-of-office replies become tickets."""
    allowed = desk.settings.auto_reply_allowed_senders
    missed = [f"{header}: {value}" if header else f"subject {subject!r}"
              for header, value, subject in AUTO_REPLY_SAMPLES
              if not detect_auto_reply(parse_mail(_sample(header, value, subject,
                                                          "ann@example.org")), allowed)]
    title = "Auto-reply detection"
    if missed:
        return [Finding(CheckId.AUTO_REPLIES, title, GuideRow.AUTO_REPLIES, Result.FAIL,
                        f"not discarded: {', '.join(missed)}",
                        "the built-in rules (domain/autoreply.py) are broken: report it")]
    domains = [entry for entry in allowed if entry.startswith("@")]
    if domains:
        return [Finding(CheckId.AUTO_REPLIES, title, GuideRow.AUTO_REPLIES, Result.WARN,
                        f"every auto-reply rule works, but AUTO_REPLY_ALLOWED_SENDERS lets whole "
                        f"domains through ({', '.join(domains)}): their out-of-office replies "
                        "become tickets", "list the monitoring tools' full addresses instead")]
    listed = f"; allowed senders: {', '.join(allowed)}" if allowed else ""
    return [Finding(CheckId.AUTO_REPLIES, title, GuideRow.AUTO_REPLIES, Result.PASS,
                    f"each of the guide's {len(AUTO_REPLY_SAMPLES)} auto-reply samples is "
                    f"discarded{listed}")]


# ---------------------------------------------------------------- templates


def _departments(desk: "Helpdesk") -> list[str]:
    names = {d.name for d in desk.directory.list_departments()}
    names |= {a.department for a in desk.accounts.list() if a.department}
    return sorted(names, key=str.lower)


def template_findings(desk: "Helpdesk") -> list[Finding]:
    """Every template as each department gets it (stored defaults and department overrides;
    one query) renders with the sample ticket and uses only variables it has values for."""
    get = desk.templates.snapshot()
    values = sample_values(desk.settings.ticket_url_base)
    broken, checked = [], 0
    for key in TEMPLATE_KEYS:
        default = get(key, None)
        for department in [None, *_departments(desk)]:
            template = get(key, department)
            if department is not None and template == default:
                continue  # the department uses the default, checked once
            checked += 1
            where = f"{key} ({department or 'all departments'})"
            problems = [p for part in field_problems(template, key).values() for p in part]
            try:
                render(template, values)
            except Exception as error:  # a template that cannot render is the finding
                problems.append(f"does not render: {error}")
            if problems:
                broken.append(f"{where}: {'; '.join(problems)}")
    if not broken:
        return [Finding(CheckId.TEMPLATES, "Templates", GuideRow.TEMPLATE_VARIABLES, Result.PASS,
                        f"{checked} templates render with the sample ticket; every variable is known")]
    return [Finding(CheckId.TEMPLATES, "Templates", GuideRow.TEMPLATE_VARIABLES, Result.FAIL,
                    " | ".join(broken),
                    "write variables as %{name} with a name the template offers: fix it under "
                    "Admin → Templates (or `python -m shared_code.cli templates set KEY "
                    "[--department D]`), or `templates reset KEY` to go back to the built-in one")]


# ---------------------------------------------------------------- attachments


def attachment_findings(desk: "Helpdesk") -> list[Finding]:
    """Write a tiny PNG under a doctor-only name, read it back, compare, delete it."""
    name = f"{PROBE_PREFIX}{uuid.uuid4().hex}.png"
    title = "Attachments container"
    fix = ("give the app's identity Storage Blob Data Contributor on the storage account "
           "(infra/modules), or check AzureWebJobsStorage locally; then open an inline image "
           "of a ticket")
    try:
        desk.blobs.put(ATTACHMENTS, name, PROBE_PNG, "image/png")
        try:
            same = desk.blobs.get(ATTACHMENTS, name) == PROBE_PNG
        finally:
            desk.blobs.delete(ATTACHMENTS, name)
    except Exception as error:  # any storage refusal is what this check reports
        return [Finding(CheckId.ATTACHMENTS, title, GuideRow.IMAGES, Result.FAIL,
                        f"the {ATTACHMENTS} container refused the probe image: "
                        f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}",
                        fix, ATTACHMENTS)]
    if not same:
        return [Finding(CheckId.ATTACHMENTS, title, GuideRow.IMAGES, Result.FAIL,
                        "the probe image came back different", fix, ATTACHMENTS)]
    return [Finding(CheckId.ATTACHMENTS, title, GuideRow.IMAGES, Result.PASS,
                    f"a PNG was written to {ATTACHMENTS}, read back unchanged and deleted",
                    target=ATTACHMENTS)]


# ---------------------------------------------------------------- duplicate tickets


def duplicate_findings(desk: "Helpdesk", limit: int = DUPLICATE_SCAN_LIMIT) -> list[Finding]:
    """One Message-ID stored in two tickets (a marker row in each partition); the index says
    which ticket the Message-ID threads to."""
    rows, more = desk.tickets.marker_rows(limit)
    tickets: dict[str, set[str]] = {}
    message_ids: dict[str, str] = {}
    for row in rows:
        tickets.setdefault(row["RowKey"], set()).add(row["PartitionKey"])
        message_ids[row["RowKey"]] = row.get("message_id", "")
    bound = (f" (the scan stopped after {limit:,} Message-IDs: run it again after removing "
             "old tickets, or query the tickets table for RowKey m-*)" if more else "")
    duplicates = {key: numbers for key, numbers in tickets.items() if len(numbers) > 1}
    if not duplicates:
        return [Finding(CheckId.DUPLICATES, "Duplicate tickets", GuideRow.DUPLICATES,
                        Result.WARN if more else Result.PASS,
                        f"{len(rows):,} Message-IDs checked, none is in two tickets{bound}",
                        "" if not more else "the scan was bounded: see the detail")]
    found = []
    for key, numbers in sorted(duplicates.items())[:10]:
        message_id = message_ids[key]
        indexed = desk.index.ticket_of(message_id) if message_id else None
        found.append(f"<{message_id}> in tickets {', '.join('#' + n for n in sorted(numbers))}"
                     + (f" (the index threads it to #{indexed})" if indexed else ""))
    more_dups = f" and {len(duplicates) - 10} more" if len(duplicates) > 10 else ""
    return [Finding(CheckId.DUPLICATES, "Duplicate tickets", GuideRow.DUPLICATES, Result.FAIL,
                    "; ".join(found) + more_dups + bound,
                    "close the duplicate ticket with a note pointing at the other; check that "
                    "the mail's Message-ID, In-Reply-To and References headers reach the mailbox "
                    "unchanged (a gateway that rewrites them breaks threading), and that one mail "
                    "is not fetched by two accounts")]


# ---------------------------------------------------------------- SPF, DKIM, DMARC


def _domains(addresses: list[str]) -> list[str]:
    return sorted({a.rpartition("@")[2].lower() for a in addresses if "@" in a})


def dns_findings(dns: "DnsResolver", addresses: list[str]) -> list[Finding]:
    """Per sending domain: SPF at the domain, DKIM at the Microsoft 365 selectors, DMARC at
    _dmarc. DNS that gives no answer at all is a warning (the records were not checked)."""
    findings = []
    for domain in _domains(addresses):
        try:
            findings += _domain_findings(dns, domain)
        except DnsUnavailable as error:
            findings.append(Finding(CheckId.DNS, "SPF, DKIM, DMARC", GuideRow.SPAM, Result.WARN,
                                    f"not checked: {error}",
                                    "run the doctor where DNS can be reached, or set "
                                    "DOCTOR_DNS_SERVER to a name server (host:port)", domain))
    return findings


def _domain_findings(dns: "DnsResolver", domain: str) -> list[Finding]:
    spf = spf_record(dns.txt(domain))
    dmarc = dmarc_record(dns.txt(f"_dmarc.{domain}"))
    published = [s for s in DKIM_SELECTORS
                 if dkim_published(dns.cname(f"{s}._domainkey.{domain}"),
                                   dns.txt(f"{s}._domainkey.{domain}"))]
    dkim_fix = ("turn DKIM on for the domain in Microsoft Defender (Email & collaboration → "
                "Policies → Email authentication settings → DKIM) and publish the two CNAME "
                f"records it shows: selector1._domainkey.{domain} and selector2._domainkey.{domain}")
    if len(published) == len(DKIM_SELECTORS):
        dkim = (Result.PASS, f"{' and '.join(published)} published", "")
    elif published:
        dkim = (Result.WARN, f"only {published[0]} is published: key rotation will break DKIM",
                dkim_fix)
    else:
        dkim = (Result.FAIL, "no DKIM record at selector1 or selector2._domainkey", dkim_fix)
    return [
        Finding(CheckId.SPF, "SPF", GuideRow.SPAM, Result.PASS if spf else Result.FAIL,
                f"TXT {spf}" if spf else f"no TXT record starting v=spf1 at {domain}",
                "" if spf else f"publish TXT at {domain}: v=spf1 include:spf.protection.outlook.com -all "
                "(merge it into an existing SPF record: only one is allowed)", domain),
        Finding(CheckId.DKIM, "DKIM", GuideRow.SPAM, dkim[0], dkim[1], dkim[2], domain),
        Finding(CheckId.DMARC, "DMARC", GuideRow.SPAM, Result.PASS if dmarc else Result.FAIL,
                f"TXT {dmarc}" if dmarc else f"no TXT record starting v=DMARC1 at _dmarc.{domain}",
                "" if dmarc else f"publish TXT at _dmarc.{domain}: v=DMARC1; p=quarantine; "
                f"rua=mailto:dmarc@{domain} (start with p=none to watch the reports first)", domain),
    ]
