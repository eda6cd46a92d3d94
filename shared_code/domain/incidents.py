"""What the monitor tells people: fetch incidents, recoveries and secret expiry warnings.

An incident is one stretch of time an account's fetching is unhealthy (domain/fetch_health.py
is the rule): one alert mail when it starts, one recovery mail when the account fetches
again. A secret warning is one mail per secret and expiry date. The mail text lives here,
plain text, so it never depends on a template an admin could break.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from .fetch_health import FetchHealth

#: warn this long before a client secret expires
EXPIRY_WARNING_DAYS = 14


class MonitorMail(str, Enum):
    """The kinds of mail the monitor sends (the system mail's `kind`)."""

    ALERT = "fetch_alert"
    RECOVERY = "fetch_recovery"
    SECRET_EXPIRY = "secret_expiry"
    UNACCOUNTED = "unaccounted_mail"  # the reconciliation found mail no run took


class IncidentState(str, Enum):
    OPEN = "open"
    CLOSED = "closed"


class SecretSource(str, Enum):
    """Where an expiry date was read."""

    KEY_VAULT = "key-vault"  # the `exp` attribute of the Key Vault secret
    APP_REGISTRATION = "app-registration"  # a password credential's endDateTime (Graph)


@dataclass(frozen=True)
class SecretExpiry:
    """One client secret with an expiry date, and the accounts that use it."""

    source: SecretSource
    secret: str  # the Key Vault secret name, or the app's client id and credential key id
    expires: datetime
    accounts: tuple[str, ...]

    @property
    def key(self) -> str:
        """One warning per secret and expiry date."""
        return f"{self.source.value}|{self.secret}|{self.expires.isoformat()}"

    def due(self, now: datetime) -> bool:
        return self.expires - now <= timedelta(days=EXPIRY_WARNING_DAYS)

    def describe(self, now: datetime) -> str:
        left = self.expires - now
        when = self.expires.strftime("%Y-%m-%d %H:%M UTC")
        if left.total_seconds() <= 0:
            return f"expired on {when}"
        return f"expires on {when} (in {left.days} days)" if left.days else f"expires on {when} (today)"


def alert_mail(address: str, health: FetchHealth, last_error: str) -> tuple[str, str]:
    """(subject, text) of the alert that opens an incident."""
    subject = f"[deskmail] Mail is not being fetched for {address}"
    lines = [f"The helpdesk has not fetched mail for {address}: {health.describe()}.", ""]
    if last_error:
        lines += [f"Last error: {last_error}", ""]
    lines += ["Clients writing to this address get no ticket and no answer until it is fixed.",
              f"Open Admin -> Emails -> {address} (it checks the token, the roles and the folder) "
              "to see why; docs/operations.md (Monitor) lists the usual causes.",
              "", "You get one more mail when it fetches again."]
    return subject, "\n".join(lines)


def recovery_mail(address: str, opened: datetime | None, now: datetime) -> tuple[str, str]:
    """(subject, text) of the mail that closes an incident."""
    subject = f"[deskmail] Mail is fetched again for {address}"
    lasted = ""
    if opened is not None:
        lasted = f" The incident lasted {max(0.0, (now - opened).total_seconds() / 60):.0f} min."
    text = (f"The helpdesk fetches mail for {address} again.{lasted}\n\n"
            "Mail that arrived meanwhile is fetched on the next runs (it stays in the folder).")
    return subject, text


def expiry_mail(expiry: SecretExpiry, now: datetime) -> tuple[str, str]:
    """(subject, text) of a secret expiry warning."""
    where = ("Key Vault secret" if expiry.source is SecretSource.KEY_VAULT
             else "app registration password credential")
    subject = f"[deskmail] Client secret for {', '.join(expiry.accounts)} {expiry.describe(now)}"
    text = (f"The {where} {expiry.secret} {expiry.describe(now)}.\n"
            f"It is used by: {', '.join(expiry.accounts)}.\n\n"
            "When it expires these mailboxes are neither fetched nor able to send. Create a new "
            "client secret on the app registration and store it (Admin -> Emails -> Remote "
            "mailbox, or the Key Vault secret's new version); docs/operations.md, "
            "\"Secret rotation\".")
    return subject, text


def unaccounted_mail(address: str, day: str, mails: list) -> tuple[str, str]:
    """(subject, text) of the alert about mail left in a folder that no fetch run took (the
    reconciliation's `ReconciledMail`s): subject and received time only, never a body."""
    count = len(mails)
    subject = f"[deskmail] {count} mail{'s' if count > 1 else ''} in {address} never became tickets"
    lines = [f"The reconciliation of {address} for {day} found mail in the folder that no fetch "
             "run took:", ""]
    lines += [f"- {m.received.isoformat() if m.received else '?'}  {m.subject!r}  (Graph id {m.graph_id})"
              for m in mails[:50]]
    if count > 50:
        lines.append(f"- ... and {count - 50} more")
    lines += ["", "Touch each one in Outlook (mark it unread, or flag it): the next fetch run takes it. "
              "Admin -> Reconciliation shows the day; docs/operations.md (Reconciliation) says more."]
    return subject, "\n".join(lines)
