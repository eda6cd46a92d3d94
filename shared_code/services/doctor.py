"""The doctor: one check per row of the guide's troubleshooting table, each with the fix.

`diagnose` is what `python -m shared_code.cli doctor`, /admin/doctor and GET /api/v1/doctor
run. Account checks (mailbox access, Last Fetch, quarantine, the sending domain's DNS) cover
every account, or the one asked for; the rest (settings, templates, attachments, duplicate
tickets) are the whole system's. It reads, except for one probe blob it writes and deletes
and the system-log line of the access check. Nothing here prints a secret.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable

from ..config import Settings, SettingError, running_in_azure
from ..domain.diagnosis import (
    CheckId,
    DoctorReport,
    Finding,
    GuideRow,
    Result,
    production_problems,
)
from ..domain.fetch_health import FetchState, fetch_health
from ..domain.model import EmailAccount
from .doctor_system import (
    attachment_findings,
    auto_reply_findings,
    dns_findings,
    duplicate_findings,
    template_findings,
)

if TYPE_CHECKING:
    from .helpdesk import Helpdesk

DEFAULT_STALE_MINUTES = 5.0

# verify_access's check names → the guide's row each answers
_ACCESS_ROWS = {CheckId.PERMISSIONS: GuideRow.SEND_FAILED}


def diagnose(desk_factory: Callable[[], "Helpdesk"] | None = None, account: str | None = None,
             now: datetime | None = None) -> DoctorReport:
    """Run every check. Settings come first: when they cannot be read, nothing else can run
    and that is the report. `account` limits the account checks to one (LookupError if none)."""
    from .helpdesk import Helpdesk

    report = DoctorReport()
    settings_ok, stale_minutes = _settings(report)
    if not settings_ok:
        return report
    desk = (desk_factory or Helpdesk.from_env)()
    accounts = _accounts(desk, account)
    now = now or datetime.now(timezone.utc)
    for item in accounts:
        report.add(*access_findings(desk, item, now))
        report.add(last_fetch_finding(item, now, stale_minutes))
    report.add(*quarantine_findings(desk, account and accounts[0].address))
    report.add(*auto_reply_findings(desk))
    report.add(*template_findings(desk))
    report.add(*attachment_findings(desk))
    report.add(*duplicate_findings(desk))
    report.add(*dns_findings(desk.dns, [a.address for a in accounts]))
    return report


def _accounts(desk: "Helpdesk", address: str | None) -> list[EmailAccount]:
    if address:
        from .accounts import get_account

        return [get_account(desk, address)]
    return sorted(desk.accounts.list(), key=lambda a: a.address)


# ---------------------------------------------------------------- settings


def _settings(report: DoctorReport) -> tuple[bool, float]:
    """The production settings finding; (core settings readable, FETCH_STALE_MINUTES)."""
    from ..web.settings import WebSettings

    azure = running_in_azure()
    title = "Production settings"
    try:
        settings = Settings.from_env()
    except SettingError as error:
        report.add(Finding(CheckId.SETTINGS, title, GuideRow.SETTINGS, Result.FAIL, str(error),
                           "set it in the Function App's settings (infra/main.bicep sets them) "
                           "or local.settings.json; docs/configuration.md lists each"))
        return False, DEFAULT_STALE_MINUTES
    problems: list[tuple[str, str]] = []
    stale, auth_mode = DEFAULT_STALE_MINUTES, ""
    try:
        web = WebSettings.from_env()
        stale, auth_mode = web.fetch_stale_minutes, web.auth.value
    except SettingError as error:
        problems.append((str(error), "fix the web app's settings (docs/web.md)"))
    problems += production_problems(azure, settings.trusted_sender_signals,
                                    settings.key_vault_url, auth_mode)
    if problems:
        # outside Azure a missing production setting is a warning: a developer machine
        result = Result.FAIL if azure else Result.WARN
        report.add(Finding(CheckId.SETTINGS, title, GuideRow.SETTINGS, result,
                           "; ".join(p for p, _ in problems), "; ".join(f for _, f in problems)))
    else:
        where = ("running in Azure: every production setting is set" if azure else
                 "not running in Azure: the settings are valid; the Azure-only rules "
                 "(public URLs, Key Vault, Easy Auth) apply when deployed")
        report.add(Finding(CheckId.SETTINGS, title, GuideRow.SETTINGS, Result.PASS, where))
    return True, stale


# ---------------------------------------------------------------- per account


def access_findings(desk: "Helpdesk", account: EmailAccount, now: datetime) -> list[Finding]:
    """verify_access's checks (registration, secret, token, roles, folder) as findings. A check
    it skipped on purpose (roles granted by Exchange RBAC, fetching off) passes with its reason."""
    from .mailbox_access import verify_access

    findings = []
    for check in verify_access(desk, account.address, now).checks:
        result = Result.FAIL if check.ok is False else Result.PASS
        detail = check.detail if check.ok is not None else f"not checked: {check.detail}"
        check_id = CheckId(check.name)
        findings.append(Finding(check_id, check.title,
                                _ACCESS_ROWS.get(check_id, GuideRow.NOT_FETCHED), result,
                                detail, check.fix if result is Result.FAIL else "",
                                account.address))
    return findings


def last_fetch_finding(account: EmailAccount, now: datetime, stale_minutes: float) -> Finding:
    health = fetch_health(account, now, stale_minutes)
    detail = health.describe()
    if health.healthy:
        return Finding(CheckId.LAST_FETCH, "Last Fetch", GuideRow.NOT_FETCHED, Result.PASS, detail,
                       target=account.address)
    if health.state is FetchState.FAILING:
        detail += f" ({account.consecutive_failures} in a row: {account.last_error or 'no error kept'})"
    fix = (f"see the access checks above and the system log; run `python -m shared_code.cli "
           f"fetch --account {account.address}` to try now (FETCH_STALE_MINUTES={stale_minutes:g})")
    return Finding(CheckId.LAST_FETCH, "Last Fetch", GuideRow.NOT_FETCHED, Result.FAIL, detail, fix,
                   account.address)


def quarantine_findings(desk: "Helpdesk", address: str | None) -> list[Finding]:
    rows = [r for r in desk.quarantine.list() if not address or r.get("account") == address]
    target = address or "all accounts"
    if not rows:
        return [Finding(CheckId.QUARANTINE, "Quarantine", GuideRow.NOT_FETCHED, Result.PASS,
                        "no mail is quarantined", target=target)]
    shown = ", ".join(f"{r['RowKey']} ({r.get('account', '?')})" for r in rows[:10])
    more = f" and {len(rows) - 10} more" if len(rows) > 10 else ""
    return [Finding(CheckId.QUARANTINE, "Quarantine", GuideRow.NOT_FETCHED, Result.FAIL,
                    f"{len(rows)} mail{'s' if len(rows) != 1 else ''} quarantined: {shown}{more}",
                    "read each error under Admin → Quarantine (or `python -m shared_code.cli "
                    "quarantine list`), fix the cause, then Retry it (`quarantine retry ID`) or "
                    "Dismiss it once dealt with by hand", target)]
