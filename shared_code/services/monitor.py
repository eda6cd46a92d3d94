"""The app watches itself: fetch incidents and client secrets about to expire.

Run every 5 minutes by the `monitor` timer and once by `python -m shared_code.cli monitor`.
Per account, domain/fetch_health.py decides (stale: no successful fetch, or never fetched since
it was added, for FETCH_STALE_MINUTES; failing: its last 3 fetches failed). An unhealthy
account opens an incident: ONE alert mail from the Alert account (else the System account) to
its department's alert recipients (else the manager); when it is healthy again ONE recovery
mail. Each secret an account uses that expires within 14 days gets ONE warning per expiry
date. Every mail and incident is in the system log. Which run sends a mail is decided by a
claim in storage (adapters/monitor_state.py), so two runs or instances never both send it.

The monitor only reads and reports: it never turns an account's fetching off, so an account
that fails to sign in is still tried by every fetch run.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from ..adapters.table_base import digest
from ..domain.fetch_health import FetchState, fetch_health
from ..domain.incidents import (MonitorMail, SecretExpiry, alert_mail, expiry_mail, recovery_mail,
                                unaccounted_mail)
from ..domain.model import Department, EmailAccount
from .helpdesk import Helpdesk
from .secret_expiry import find_expiries
from .system_mail import queue_system_mail, sender_for_alerts, system_mail


@dataclass
class AccountCheck:
    address: str
    department: str
    state: str  # a FetchState value
    detail: str
    incident: str = ""  # opened | open | recovered | closed (fetching turned off) | ""
    mail: str = ""  # what was queued: "alert to a, b" ...


@dataclass
class SecretCheck:
    source: str
    secret: str
    expires: str
    accounts: list[str]
    due: bool  # within the warning period (or past)
    warned: str = ""  # now | before | ""


@dataclass
class MonitorReport:
    ran_at: str
    sender: str = ""
    accounts: list[AccountCheck] = field(default_factory=list)
    secrets: list[SecretCheck] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def incidents(self) -> list[AccountCheck]:
        return [a for a in self.accounts if a.incident in ("opened", "open")]


class _Run:
    """One monitor run: the directory read once, the sender chosen once."""

    def __init__(self, desk: Helpdesk, now: datetime):
        self.desk, self.now = desk, now
        self.accounts = desk.accounts.list()
        self.departments = {d.name.lower(): d for d in desk.directory.list_departments()}
        self.sender, note = sender_for_alerts(self.accounts)
        self.report = MonitorReport(ran_at=now.isoformat(),
                                    sender=self.sender.address if self.sender else "")
        if note:
            self.report.notes.append(note)

    def recipients(self, department_names) -> list[str]:
        found: list[str] = []
        for name in department_names:
            department: Department | None = self.departments.get((name or "").lower())
            if department is None:
                continue
            for address in department.alert_recipients or ([department.manager] if department.manager else []):
                if address not in found:
                    found.append(address)
        return found

    def mail(self, kind: MonitorMail, about: str, departments, subject: str, text: str) -> str:
        """Queue one monitor mail; what became of it, for the report and the system log."""
        to = self.recipients(departments)
        if not to:
            note = f"no alert recipients or manager for department {', '.join(departments)}: not mailed"
            self.report.notes.append(note)
            return note
        if self.sender is None:
            return "not mailed: no account to send from"
        queue_system_mail(self.desk, system_mail(kind.value, digest(f"{kind.value}|{about}", 32),
                                                 self.sender.address, to, subject, text))
        return f"{kind.value} mailed to {', '.join(to)}"

    # -- fetch incidents ---------------------------------------------------------------------
    def check_account(self, account: EmailAccount, open_incidents: dict[str, dict],
                      stale_minutes: float) -> AccountCheck:
        health = fetch_health(account, self.now, stale_minutes)
        check = AccountCheck(account.address, account.department, health.state.value,
                             health.describe())
        state = self.desk.monitor_state
        if not health.healthy:
            if not state.open_incident(account.address, health.state.value, health.describe(), self.now):
                check.incident = "open"
                return check
            check.incident = "opened"
            subject, text = alert_mail(account.address, health, account.last_error)
            try:
                check.mail = self.mail(MonitorMail.ALERT, f"{account.address}|{self.now.isoformat()}",
                                       [account.department], subject, text)
            except Exception:
                state.forget_incident_claim(account.address)  # the next run alerts again
                raise
            self.desk.syslog.write("error", "Fetch alert", f"{account.address}: {health.describe()}; "
                                   f"{check.mail}", account=account.address)
        elif account.address in open_incidents:
            closed = state.close_incident(account.address, self.now)
            if closed is None:
                return check
            if health.state is FetchState.OFF:
                check.incident = "closed"
                self.desk.syslog.write("info", "Fetch incident closed", f"{account.address}: "
                                       "fetching was turned off", account=account.address)
                return check
            check.incident = "recovered"
            subject, text = recovery_mail(account.address, closed.get("opened"), self.now)
            check.mail = self.mail(MonitorMail.RECOVERY, f"{account.address}|{closed.get('opened')}",
                                   [account.department], subject, text)
            self.desk.syslog.write("info", "Fetch recovered", f"{account.address}: {health.describe()}; "
                                   f"{check.mail}", account=account.address)
        return check

    # -- secrets -----------------------------------------------------------------------------
    def check_secret(self, expiry: SecretExpiry) -> SecretCheck:
        check = SecretCheck(expiry.source.value, expiry.secret, expiry.expires.isoformat(),
                            list(expiry.accounts), expiry.due(self.now))
        if not check.due:
            return check
        state = self.desk.monitor_state
        if not state.claim_warning(expiry.key, {"source": expiry.source.value,
                                                "secret": expiry.secret, "expires": expiry.expires,
                                                "warned": self.now}):
            check.warned = "before"
            return check
        check.warned = "now"
        by_address = {a.address: a for a in self.accounts}
        departments = sorted({by_address[a].department for a in expiry.accounts if a in by_address})
        subject, text = expiry_mail(expiry, self.now)
        try:
            mailed = self.mail(MonitorMail.SECRET_EXPIRY, expiry.key, departments, subject, text)
        except Exception:
            state.forget_warning(expiry.key)
            raise
        self.desk.syslog.write("warning", "Secret expiring",
                               f"{expiry.source.value} {expiry.secret} {expiry.describe(self.now)} "
                               f"(used by {', '.join(expiry.accounts)}); {mailed}",
                               account=expiry.accounts[0])
        return check


def run_monitor(desk: Helpdesk, now: datetime | None = None) -> MonitorReport:
    """One monitor run (the timer's and the CLI's); `now` for tests with a controlled clock."""
    run = _Run(desk, now or datetime.now(timezone.utc))
    open_incidents = {i["address"]: i for i in desk.monitor_state.open_incidents()}
    stale_minutes = desk.settings.fetch_stale_minutes
    for account in run.accounts:
        run.report.accounts.append(run.check_account(account, open_incidents, stale_minutes))
    known = {a.address for a in run.accounts}
    for address in sorted(set(open_incidents) - known):  # the account was removed
        if desk.monitor_state.close_incident(address, run.now) is not None:
            desk.syslog.write("info", "Fetch incident closed",
                              f"{address}: the email account was removed", account=address)
    for expiry in find_expiries(desk, run.accounts, run.report.notes):
        run.report.secrets.append(run.check_secret(expiry))
    return run.report


def run_reconciliation(desk: Helpdesk, now: datetime | None = None) -> list:
    """The hourly reconciliation (yesterday and today, every fetched account): mail no run took
    is logged by services/reconcile.py once per mail and day, and mailed here once, with the
    monitor's sender, to the account's department's alert recipients."""
    from .reconcile import reconcile

    run = _Run(desk, now or datetime.now(timezone.utc))
    results = reconcile(desk, now=run.now)
    for result in results:
        if not result.new_alerts:
            continue
        account = next((a for a in run.accounts if a.address == result.account), None)
        department = account.department if account else ""
        subject, text = unaccounted_mail(result.account, str(result.day), result.new_alerts)
        ids = ",".join(sorted(m.graph_id for m in result.new_alerts))
        mailed = run.mail(MonitorMail.UNACCOUNTED, f"{result.account}|{result.day}|{ids}",
                          [department], subject, text)
        desk.syslog.write("info", "Unaccounted mail alert", f"{result.account} {result.day}: "
                          f"{len(result.new_alerts)} mail(s); {mailed}", account=result.account)
    return results
