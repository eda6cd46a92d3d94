"""The doctor's vocabulary: one finding per check and target, pass / warn / fail with the fix,
and the guide's troubleshooting row each check answers. Plain data: the CLI, the admin page
and the API show the same report.

Also the pure rules that need no I/O: what an SPF, DKIM or DMARC answer means, and which
production settings are missing (the hardening issue's rules for a run in Azure).
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from enum import Enum


class Result(str, Enum):
    PASS = "pass"
    WARN = "warn"  # worth a look; does not fail the doctor (exit code 0)
    FAIL = "fail"  # exit code 1


class GuideRow(str, Enum):
    """The guide's "Troubleshooting" rows (Issue column), plus the hardening settings."""

    NOT_FETCHED = "Emails not being fetched"
    AUTO_REPLIES = "Auto-replies creating tickets"
    IMAGES = "Images not displaying"
    DUPLICATES = "Duplicate tickets from same email"
    SEND_FAILED = '"Send failed" errors'
    TEMPLATE_VARIABLES = "Template variables not replacing"
    SPAM = "Emails going to spam"
    SETTINGS = "Production settings (hardening)"


class CheckId(str, Enum):
    """Each check's stable id (the JSON's `check`). The first five are verify_access's."""

    CREDENTIALS = "credentials"
    SECRET = "secret"
    TOKEN = "token"
    PERMISSIONS = "permissions"
    FOLDER = "folder"
    LAST_FETCH = "last_fetch"
    QUARANTINE = "quarantine"
    AUTO_REPLIES = "auto_replies"
    TEMPLATES = "templates"
    ATTACHMENTS = "attachments"
    DUPLICATES = "duplicates"
    SPF = "spf"
    DKIM = "dkim"
    DMARC = "dmarc"
    DNS = "dns"  # the look-ups could not be made: SPF, DKIM and DMARC unchecked
    SETTINGS = "settings"


@dataclass(frozen=True)
class Finding:
    check: CheckId
    title: str
    row: GuideRow
    result: Result
    detail: str
    fix: str = ""
    target: str = ""  # the account address, domain or template the finding is about

    def as_dict(self) -> dict:
        data = asdict(self)
        data.update(check=self.check.value, row=self.row.value, result=self.result.value)
        return data


@dataclass
class DoctorReport:
    findings: list[Finding] = field(default_factory=list)

    def add(self, *findings: Finding) -> None:
        self.findings.extend(findings)

    def count(self, result: Result) -> int:
        return sum(1 for f in self.findings if f.result is result)

    @property
    def ok(self) -> bool:
        return self.count(Result.FAIL) == 0

    @property
    def exit_code(self) -> int:
        """0 when nothing failed (warnings included), 1 when a check failed."""
        return 0 if self.ok else 1

    def as_dict(self) -> dict:
        return {"ok": self.ok, "exit_code": self.exit_code,
                "counts": {r.value: self.count(r) for r in Result},
                "checks": [f.as_dict() for f in self.findings]}


# ---------------------------------------------------------------- mail DNS (SPF, DKIM, DMARC)

# Microsoft 365 publishes DKIM under these two selectors (CNAMEs to the tenant's keys)
DKIM_SELECTORS = ("selector1", "selector2")


class DnsUnavailable(Exception):
    """No DNS answer at all (unreachable, timed out, refused): the records were not checked."""


def spf_record(txt: list[str]) -> str | None:
    """The TXT record that is an SPF policy: `v=spf1` alone or followed by a space."""
    return next((t for t in txt if re.match(r"\s*v=spf1(?:\s|$)", t, re.I)), None)


def dmarc_record(txt: list[str]) -> str | None:
    """The TXT record that is a DMARC policy: `v=DMARC1` then `;` or the end."""
    return next((t for t in txt if re.match(r"\s*v\s*=\s*dmarc1\s*(?:;|$)", t, re.I)), None)


def dkim_published(cnames: list[str], txt: list[str]) -> bool:
    """A selector is published as a CNAME (Microsoft 365) or as a TXT key record with a key
    (an empty `p=` is a revoked key)."""
    return bool(cnames) or any(re.search(r"(?:^|;)\s*p=\s*[A-Za-z0-9+/]", t) for t in txt)


# ---------------------------------------------------------------- production settings


def production_problems(azure: bool, trusted_signals: tuple, key_vault_url: str | None,
                        auth_mode: str) -> list[tuple[str, str]]:
    """(problem, fix) pairs for the settings a production run needs that Settings.from_env
    does not already refuse (those come from its SettingError)."""
    problems = []
    if not trusted_signals:
        problems.append(("TRUSTED_SENDER_SIGNALS is none: any mail that claims a staff or helpdesk "
                         "From address is believed", "remove TRUSTED_SENDER_SIGNALS (the default) "
                         "or list the signals your tenant stamps (docs/configuration.md)"))
    if azure and not key_vault_url:
        problems.append(("KEY_VAULT_URL is not set in Azure: client secrets cannot be saved and "
                         "are read from app settings", "set KEY_VAULT_URL to the vault of the "
                         "deployment (the Bicep sets it)"))
    if azure and auth_mode == "off":
        problems.append(("DESKMAIL_AUTH is off in Azure: nobody can sign in to the admin pages",
                         "remove DESKMAIL_AUTH (easyauth is the default in Azure)"))
    return problems
