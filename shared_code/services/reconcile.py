"""Reconciliation: per account and UTC day, the mail Graph has in the account's folder against
what deskmail recorded for each Graph id (the ingest ledger, the quarantine table).

Each mail lands in one category (domain/reconcile.py). A mail UNACCOUNTED for is written to
the system log at level error once per mail and day (the `reconcilemarks` row is the marker),
however often the day is reconciled: the CLI, the admin page and the API all run this.
`AccountDay.new_alerts` are the mails alerted about in this run, for an alert mail.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from ..adapters.table_base import entity_time
from ..domain.ingest import QuarantineState
from ..domain.limits import clip
from ..domain.model import EmailAccount, ValidationError
from ..domain.reconcile import FetchReach, MailCategory, classify, day_bounds, discard_rule
from .helpdesk import Helpdesk

ALERT_TITLE = "Mail unaccounted for"
FIRST_DAY = date(2000, 1, 1)


@dataclass
class ReconciledMail:
    graph_id: str
    received: datetime
    subject: str
    sender: str
    category: MailCategory
    detail: str = ""  # the ticket, the discarding rule, the quarantine id, the last error

    def json(self) -> dict:
        return {"graph_id": self.graph_id, "received": self.received.isoformat(),
                "subject": self.subject, "from": self.sender,
                "category": self.category.value, "detail": self.detail}


@dataclass
class AccountDay:
    """The reconciliation of one account's folder for one UTC day."""

    account: str
    day: date
    folder: str = ""
    error: str = ""  # the folder could not be listed: nothing was compared
    mails: list[ReconciledMail] = field(default_factory=list)
    gone: list[dict] = field(default_factory=list)  # ledger rows whose mail left the folder
    new_alerts: list[ReconciledMail] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        counts = {category.value: 0 for category in MailCategory}
        for mail in self.mails:
            counts[mail.category.value] += 1
        return counts

    @property
    def unaccounted(self) -> list[ReconciledMail]:
        return [mail for mail in self.mails if mail.category.alerts]

    def json(self) -> dict:
        return {"account": self.account, "day": self.day.isoformat(), "folder": self.folder,
                "error": self.error, "total": len(self.mails), "counts": self.counts,
                "unaccounted": [m.json() for m in self.unaccounted],
                "new_alerts": len(self.new_alerts), "mails": [m.json() for m in self.mails],
                "gone": self.gone}


def default_days(now: datetime) -> list[date]:
    """Yesterday and today (UTC): the days a normal run may still be working on."""
    today = now.astimezone(timezone.utc).date()
    return [today - timedelta(days=1), today]


def reconcile(desk: Helpdesk, account: str | None = None, day: date | None = None,
              now: datetime | None = None) -> list[AccountDay]:
    """One account (LookupError if unknown) or every fetched account; one day or the default
    days. Never raises for an account whose folder cannot be listed (its `error` says why)."""
    now = now or datetime.now(timezone.utc)
    last_day = now.astimezone(timezone.utc).date() + timedelta(days=1)
    if day is not None and not FIRST_DAY <= day <= last_day:
        raise ValidationError(f"day must be between {FIRST_DAY.isoformat()} and "
                              f"{last_day.isoformat()} (UTC), got {day.isoformat()}", "day")
    if account:
        found = desk.accounts.get(account.strip().lower())
        if found is None:
            raise LookupError(f"no email account {account}")
        accounts = [found]
    else:
        accounts = [a for a in desk.accounts.list() if a.can_fetch]
    days = [day] if day else default_days(now)
    return [reconcile_day(desk, a, d, now) for a in accounts for d in days]


def unaccounted(results: list[AccountDay]) -> list[ReconciledMail]:
    """Every mail unaccounted for in `results` (for an alert)."""
    return [mail for result in results for mail in result.unaccounted]


def reconcile_day(desk: Helpdesk, account: EmailAccount, day: date, now: datetime) -> AccountDay:
    result = AccountDay(account=account.address, day=day, folder=account.folder)
    start, end = day_bounds(day)
    try:
        with desk.mail_client(account) as graph:
            refs = list(graph.list_received(graph.resolve_folder(account.folder), start, end))
    except Exception as error:  # the account's sign-in or folder: the monitor's concern
        result.error = f"the folder could not be listed: {type(error).__name__}: {error}"
        return result
    rows = {row["graph_id"]: row for row in desk.ledger.received_between(account.address,
                                                                         start, end)}
    quarantined = {row.get("graph_id"): row for row in
                   desk.quarantine.in_states(account.address, list(QuarantineState))}
    reach = _reach(desk, account, now)
    listed = set()
    for ref in refs:
        listed.add(ref.id)
        row = rows.get(ref.id)
        if row is None:  # a row written before `received` was stored on every row
            row = desk.ledger.get(account.address, ref.id) or {}
        category = classify(_times(row), ref.received, ref.modified, reach)
        result.mails.append(ReconciledMail(
            graph_id=ref.id, received=ref.received, subject=ref.subject or "",
            sender=ref.from_address or "", category=category,
            detail=_detail(category, row, quarantined.get(ref.id))))
    result.gone = [{"graph_id": gid, "received": _iso(row.get("received")),
                    "state": row.get("state", ""), "outcome": row.get("outcome", ""),
                    "ticket": row.get("ticket", "")}
                   for gid, row in rows.items() if gid not in listed]
    _alert(desk, result)
    return result


def _reach(desk: Helpdesk, account: EmailAccount, now: datetime) -> FetchReach:
    """What a normal fetch run takes, as services/mailbox_listing.py decides it."""
    settings = desk.settings
    window_start = (account.created or now) - timedelta(hours=settings.fetch_lookback_hours)
    listed_from = (account.fetch_watermark - timedelta(seconds=settings.fetch_overlap_seconds)
                   if account.fetch_watermark else None)
    return FetchReach(window_start=window_start, listed_from=listed_from, now=now,
                      time_budget=timedelta(seconds=settings.fetch_time_budget_seconds))


def _times(row: dict) -> dict:
    return {**row, "updated": entity_time(row.get("updated"))} if row else {}


def _iso(value) -> str | None:
    when = entity_time(value) if value else None
    return when.isoformat() if when else None


def _detail(category: MailCategory, row: dict, quarantine: dict | None) -> str:
    if category is MailCategory.INGESTED:
        return f"{row.get('outcome')}: ticket {row.get('ticket') or '?'}"
    if category is MailCategory.DISCARDED:
        return f"rule: {discard_rule(row) or '?'}"
    if category is MailCategory.QUARANTINED:
        state = (quarantine or {}).get("state", "")
        return f"quarantine {(quarantine or {}).get('RowKey', '?')}" + (f" ({state})" if state else "")
    if category in (MailCategory.IN_PROGRESS, MailCategory.AWAITING_RETRY):
        error = f": {clip(str(row['error']), 300)}" if row.get("error") else ""
        return f"{int(row.get('attempts') or 0)} attempt(s){error}"
    if category in (MailCategory.DUPLICATE, MailCategory.IGNORED):
        return clip(str(row.get("reason") or ""), 300)
    if category is MailCategory.UNACCOUNTED and row.get("outcome"):
        return f"the ledger says {row.get('outcome')} but the mail is in the folder"
    return ""


def _alert(desk: Helpdesk, result: AccountDay) -> None:
    """One system-log error per unaccounted mail and day: the log line first, then the marker,
    so a failure between the two repeats the line rather than losing it."""
    lost = result.unaccounted
    if not lost:
        return
    reported = {row.get("graph_id") for row in desk.reconcile_marks.reported(result.account,
                                                                             result.day)}
    for mail in lost:
        if mail.graph_id in reported:
            continue
        desk.syslog.write(
            "error", ALERT_TITLE,
            f"{result.account}: mail {mail.graph_id} {clip(mail.subject, 200)!r} received "
            f"{mail.received.isoformat()} is in the folder {result.folder!r} but no fetch run "
            f"took it (reconciliation of {result.day.isoformat()})",
            account=result.account, graph_id=mail.graph_id)
        desk.reconcile_marks.first_report(result.account, result.day, mail.graph_id,
                                          {"subject": clip(mail.subject, 200),
                                           "received": mail.received})
        result.new_alerts.append(mail)
