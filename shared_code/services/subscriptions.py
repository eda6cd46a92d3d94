"""Push ingestion: Graph change notifications queue a fetch within seconds; the minute timer
stays as the safety net (docs/architecture.md, "Push ingestion").

* `sync_subscriptions` (the hourly timer, and `emails update/remove`): one subscription per
  fetched account, renewed when it expires within RENEW_WITHIN, deleted when the account is
  gone or stops fetching, or when GRAPH_NOTIFICATION_URL is empty.
* `accept_notifications` (the webhook): checks each notification's clientState in constant
  time and queues at most one fetch job per account while one is pending (coalescing); it does
  no other work. Lifecycle notifications queue a job that re-subscribes, then fetches.
* `before_fetch_job` (the queue worker): re-subscribes when asked and marks the job started.
* `push_status` / `resubscribe`: what the account page, `/api/v1/accounts/{address}/push` and
  `emails show` show (never clientState), and their Re-subscribe (`emails resubscribe`).

clientState is a fresh random secret per subscription. With KEY_VAULT_URL it is written to Key
Vault (SecretStore.set) and read back (cached) to check; without a vault (a local run) only its
SHA-256 digest is stored in the table, never the value.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from ..adapters.names import FETCH_JOBS
from ..adapters.table_base import digest
from ..domain.fetch_health import PushState, push_state
from ..domain.model import ValidationError
from .helpdesk import Helpdesk

log = logging.getLogger("deskmail.push")

LIFETIME = timedelta(minutes=10080 - 60)  # Graph's mail maximum, less an hour of margin
RENEW_WITHIN = timedelta(days=1)
LIFECYCLE_EVENTS = ("reauthorizationRequired", "subscriptionRemoved", "missed")


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    renewed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def outcome(self) -> dict:
        """What a Re-subscribe shows (page, API, CLI): whether it worked, what it made."""
        return {"ok": not self.errors, "created": self.created, "errors": self.errors}


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def secret_name(address: str) -> str:
    """The Key Vault secret holding an account's clientState (letters, digits, dashes)."""
    return f"graph-push-{digest(address.lower(), 24)}"


def subscribe(desk: Helpdesk, account, now: datetime | None = None) -> str:
    """A new subscription for the account's folder (Graph validates the webhook first)."""
    now = now or datetime.now(timezone.utc)
    state = secrets.token_urlsafe(32)
    name, state_digest = "", ""
    if desk.secrets.writable:
        name = secret_name(account.address)
        desk.secrets.set(name, state)
    else:
        state_digest = _sha(state)
    expires = now + LIFETIME
    with desk.mail_client(account) as graph:
        created = graph.create_subscription(graph.resolve_folder(account.folder),
                                            desk.settings.graph_notification_url, expires, state)
    desk.subscriptions.save(created["id"], account.address, expires, name, state_digest)
    log.info("subscribed %s to push notifications (%s)", account.address, created["id"])
    return created["id"]


def unsubscribe(desk: Helpdesk, row: dict, account=None) -> None:
    """Delete the subscription at Graph (when the account still has credentials) and here."""
    if account is not None and _has_credentials(account):
        with desk.mail_client(account) as graph:
            graph.delete_subscription(row["subscription_id"])
    desk.subscriptions.remove(row["subscription_id"])


def _has_credentials(account) -> bool:
    return bool(account.tenant_id and account.client_id and account.client_secret_name)


def unsubscribe_account(desk: Helpdesk, address: str, account=None) -> list[str]:
    """Every subscription of the account, deleted (account commands call it)."""
    gone = []
    for row in desk.subscriptions.for_account(address):
        unsubscribe(desk, row, account)
        gone.append(row["subscription_id"])
    desk.subscriptions.forget_account(address)
    return gone


def _wanted(desk: Helpdesk, account) -> bool:
    return bool(desk.settings.graph_notification_url) and account.can_fetch


def sync_account(desk: Helpdesk, address: str, now: datetime | None = None,
                 report: SyncReport | None = None) -> SyncReport:
    """Bring one account's subscription in line: create, renew or delete."""
    now = now or datetime.now(timezone.utc)
    report = report or SyncReport()
    account = desk.accounts.get(address)
    rows = desk.subscriptions.for_account(address)
    try:
        if account is None or not _wanted(desk, account):
            report.deleted += unsubscribe_account(desk, address, account)
            return report
        live = []
        for row in rows:
            if row["expires"] <= now:
                desk.subscriptions.remove(row["subscription_id"])  # Graph dropped it already
            else:
                live.append(row)
        for extra in live[1:]:
            unsubscribe(desk, extra, account)
            report.deleted.append(extra["subscription_id"])
        if not live:
            report.created.append(subscribe(desk, account, now))
        elif live[0]["expires"] - now <= RENEW_WITHIN:
            renew(desk, account, live[0], now)
            report.renewed.append(live[0]["subscription_id"])
        desk.subscriptions.note_sync(address)
    except Exception as error:  # one account's failure must not stop the others
        report.errors.append(f"{address}: {type(error).__name__}: {error}")
        log.error("push subscription of %s: %s", address, error)
        if account is not None:
            desk.subscriptions.note_sync(address, f"{type(error).__name__}: {error}")
    return report


def renew(desk: Helpdesk, account, row: dict, now: datetime) -> None:
    from ..adapters.graph import GraphError

    expires = now + LIFETIME
    try:
        with desk.mail_client(account) as graph:
            graph.renew_subscription(row["subscription_id"], expires)
    except GraphError as error:
        if error.status != 404:
            raise
        desk.subscriptions.remove(row["subscription_id"])
        subscribe(desk, account, now)
        return
    desk.subscriptions.save(row["subscription_id"], account.address, expires,
                            row.get("secret_name", ""), row.get("state_digest", ""))


def sync_subscriptions(desk: Helpdesk, now: datetime | None = None) -> SyncReport:
    """The renewal timer: every account with a subscription or a reason to have one."""
    report = SyncReport()
    addresses = {a.address for a in desk.accounts.list()}
    addresses |= {row["address"] for row in desk.subscriptions.all()}
    for address in sorted(addresses):
        sync_account(desk, address, now, report)
    return report


def _state_ok(desk: Helpdesk, row: dict, given) -> bool:
    if not isinstance(given, str) or not given:
        return False
    if row.get("secret_name"):
        try:
            expected = desk.secrets.get(row["secret_name"])
        except Exception:  # the vault is unreachable: refuse rather than trust
            log.exception("cannot read clientState secret %s", row["secret_name"])
            return False
        return hmac.compare_digest(expected.encode(), given.encode())
    return hmac.compare_digest(row.get("state_digest") or "", _sha(given))


def accept_notifications(desk: Helpdesk, payload) -> int:
    """The webhook's work: check and coalesce, queue fetch jobs; the number queued."""
    items = payload.get("value") if isinstance(payload, dict) else None
    queued = 0
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        row = desk.subscriptions.get(str(item.get("subscriptionId") or ""))
        if row is None or not _state_ok(desk, row, item.get("clientState")):
            log.warning("push notification dropped: unknown subscription or wrong clientState "
                        "(subscription %s)", str(item.get("subscriptionId"))[:64])
            continue
        event = item.get("lifecycleEvent")
        job = {"address": row["address"], "scheduled": datetime.now(timezone.utc).isoformat(),
               "push": True}
        if event in LIFECYCLE_EVENTS:
            job["resubscribe"] = event
        elif not desk.subscriptions.request_fetch(row["address"]):
            continue  # a queued job has not started yet: it will see this mail
        desk.queues.send(FETCH_JOBS, job)
        queued += 1
    return queued


def before_fetch_job(desk: Helpdesk, job: dict) -> None:
    """The worker, before fetching a push job: re-subscribe if a lifecycle event asked, and
    mark the account's pending job as started."""
    if not job.get("push"):
        return
    address = job["address"]
    desk.subscriptions.mark_served(address)
    event = job.get("resubscribe")
    if event:
        log.warning("push lifecycle %s for %s: re-subscribing and catching up", event, address)
        if event != "missed":
            _drop_all(desk, address)
        sync_account(desk, address)


def _drop_all(desk: Helpdesk, address: str) -> None:
    account = desk.accounts.get(address)
    for row in desk.subscriptions.for_account(address):
        try:
            unsubscribe(desk, row, account)
        except Exception:  # Graph may already have dropped it
            desk.subscriptions.remove(row["subscription_id"])


def resubscribe(desk: Helpdesk, address: str) -> SyncReport:
    """An admin's Re-subscribe: drop the account's subscriptions and create a fresh one (a
    new clientState too). Refused when push is off for it: there is nothing to subscribe."""
    account = desk.accounts.get(address)
    if account is None or not account.can_fetch:
        raise ValidationError("the account does not fetch mail: turn fetching on first",
                              "fetch_enabled")
    if not desk.settings.graph_notification_url:
        raise ValidationError("push ingestion is off: GRAPH_NOTIFICATION_URL is not set",
                              "GRAPH_NOTIFICATION_URL")
    _drop_all(desk, address)
    return sync_account(desk, address)


def push_status(desk: Helpdesk, account, now: datetime | None = None) -> dict:
    """An account's push ingestion as the admin sees it: the live subscription's id and
    expiry, the last notification that queued a fetch, the last sync and its error."""
    now = now or datetime.now(timezone.utc)
    live = [row for row in desk.subscriptions.for_account(account.address) if row["expires"] > now]
    marker = desk.subscriptions.push_state(account.address)
    state = push_state(_wanted(desk, account), [row["expires"] for row in live], now)
    return {"state": state, "subscription_id": live[0]["subscription_id"] if live else None,
            "expires": live[0]["expires"] if live else None,
            "last_notification": marker["requested_at"], "last_sync": marker["synced_at"],
            "last_error": marker["last_error"]}


def push_states(desk: Helpdesk, accounts, now: datetime) -> dict[str, PushState]:
    """Every account's PushState from one read of the subscriptions (for /health)."""
    expiries: dict[str, list[datetime]] = {}
    for row in desk.subscriptions.all():
        expiries.setdefault(row["address"], []).append(row["expires"])
    return {a.address: push_state(_wanted(desk, a), expiries.get(a.address.lower(), []), now)
            for a in accounts}
