"""Reconciliation against Azurite and the Graph fake: a folder's day of mail fetched by real
runs (a new ticket, a reply, an auto-reply, a duplicate, a quarantined mail) and one mail left
in the folder that no run took (received before the watermark, so the fetch's listing by last
change never returns it) → reported unaccounted for and logged once, however often the day is
reconciled; the clean day reports none. The reconciliation's clock is passed (`now=`)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from shared_code.domain.reconcile import MailCategory
from shared_code.services.fetch import fetch_all
from shared_code.services.helpdesk import Helpdesk
from shared_code.services.reconcile import ALERT_TITLE, reconcile, unaccounted

from .helpers import SUPPORT, add_account, make_mail, run_cli

SALES = "sales@contoso.example"


@pytest.fixture
def desk(desk, monkeypatch):
    """One attempt quarantines a mail whose download fails; no client-side retries."""
    monkeypatch.setenv("GRAPH_MAX_RETRIES", "0")
    monkeypatch.setenv("MAX_PROCESSING_ATTEMPTS", "1")
    return Helpdesk.from_env()


def _base() -> datetime:
    """A whole second a minute ago whose day also holds the quarter of an hour before it and
    the minute after it (so every mail of a test is received on one UTC day)."""
    base = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=1)
    if (base - timedelta(minutes=15)).date() != (base + timedelta(minutes=1)).date():
        base -= timedelta(minutes=20)
    return base


def _errors(desk) -> list[dict]:
    return [e for e in desk.syslog.list(limit=500) if e.get("title") == ALERT_TITLE]


def _by_subject(result) -> dict[str, list]:
    out: dict[str, list] = {}
    for mail in result.mails:
        out.setdefault(mail.subject, []).append(mail)
    return out


@pytest.fixture
def fetched_day(desk, graph):
    """The day's mails fetched by real runs; returns (base time, {name: graph id})."""
    base = _base()
    first, first_id = make_mail(subject="Printer on fire")
    reply, _ = make_mail(subject="Re: Printer on fire", in_reply_to=f"<{first_id}>",
                         references=f"<{first_id}>")
    auto, _ = make_mail(subject="Out of office", headers={"Auto-Submitted": "auto-replied"})
    poison, _ = make_mail(subject="poison")
    ids = {}
    for offset, (name, raw) in enumerate((("first", first), ("reply", reply), ("auto", auto),
                                          ("copy", first), ("poison", poison))):
        ids[name] = graph.add_message(SUPPORT, raw, received=base + timedelta(seconds=offset))
    graph.break_message(SUPPORT, ids["poison"], 500)
    [summary] = fetch_all(desk)
    assert (summary.created, summary.threaded, summary.discarded, summary.duplicates,
            summary.quarantined) == (1, 1, 1, 1, 1)
    return base, ids


def test_a_clean_day_has_every_mail_accounted_for(desk, fetched_day):
    base, ids = fetched_day
    [result] = reconcile(desk, SUPPORT, base.date(), now=base + timedelta(minutes=1))

    assert result.error == "" and result.unaccounted == [] and result.gone == []
    assert {k: v for k, v in result.counts.items() if v} == {
        "ingested": 2, "discarded": 1, "duplicate": 1, "quarantined": 1}
    mails = _by_subject(result)
    assert [m.category for m in mails["Printer on fire"]] == [MailCategory.INGESTED,
                                                              MailCategory.DUPLICATE]
    assert mails["Printer on fire"][0].detail.startswith("created: ticket ")
    assert mails["Re: Printer on fire"][0].detail.startswith("threaded: ticket ")
    assert mails["Out of office"][0].category is MailCategory.DISCARDED
    assert mails["Out of office"][0].detail == "rule: auto-submitted"
    assert desk.ledger.get(SUPPORT, ids["auto"])["rule"] == "auto-submitted"
    [quarantined] = mails["poison"]
    [row] = desk.quarantine.list()
    assert (quarantined.category, quarantined.detail) == (
        MailCategory.QUARANTINED, f"quarantine {row['RowKey']} (quarantined)")
    assert _errors(desk) == []


def test_a_mail_no_run_took_is_unaccounted_for_and_logged_once(desk, graph, fetched_day):
    base, ids = fetched_day
    lost_raw, _ = make_mail(subject="Lost <b>order</b>", body="secret body text")
    # received (and last changed) ten minutes before the watermark: the next run's listing,
    # by last change since the watermark less the overlap, never returns it
    lost = graph.add_message(SUPPORT, lost_raw, received=base - timedelta(minutes=10))
    waiting = graph.add_message(SUPPORT, make_mail(subject="Just arrived")[0],
                                received=base + timedelta(seconds=30))
    graph.delete_message(SUPPORT, ids["first"])  # recorded, then deleted: informational
    now = base + timedelta(minutes=1)

    [result] = reconcile(desk, SUPPORT, base.date(), now=now)

    assert [(m.graph_id, m.subject, m.received) for m in result.unaccounted] == [
        (lost, "Lost <b>order</b>", base - timedelta(minutes=10))]
    assert result.new_alerts == result.unaccounted
    assert _by_subject(result)["Just arrived"][0].category is MailCategory.WAITING
    assert [(g["graph_id"], g["outcome"]) for g in result.gone] == [(ids["first"], "created")]
    assert result.counts["unaccounted"] == 1 and result.counts["waiting"] == 1
    [entry] = _errors(desk)
    assert entry["level"] == "error" and entry["account"] == SUPPORT
    for part in (SUPPORT, lost, "Lost <b>order</b>", (base - timedelta(minutes=10)).isoformat()):
        assert part in entry["message"]
    assert "secret body text" not in entry["message"]

    again = reconcile(desk, SUPPORT, base.date(), now=now + timedelta(minutes=5))
    assert [m.graph_id for m in unaccounted(again)] == [lost]
    assert again[0].new_alerts == [] and len(_errors(desk)) == 1

    fetch_all(desk)  # the next run takes the waiting mail, never the lost one
    [after] = reconcile(desk, SUPPORT, base.date(), now=now + timedelta(minutes=10))
    assert _by_subject(after)["Just arrived"][0].category is MailCategory.INGESTED
    assert [m.graph_id for m in after.unaccounted] == [lost] and len(_errors(desk)) == 1
    assert waiting not in {g["graph_id"] for g in after.gone}

    # the operator's remedy (docs/operations.md): touch it in Outlook (read/unread, a flag),
    # which changes its last-modified time, and the next run takes it
    graph.set_read(SUPPORT, lost, True)
    fetch_all(desk)
    [fixed] = reconcile(desk, SUPPORT, base.date(), now=now + timedelta(minutes=15))
    assert fixed.unaccounted == [] and len(_errors(desk)) == 1
    assert [m.category for m in fixed.mails if m.graph_id == lost] == [MailCategory.INGESTED]


def test_mail_from_before_the_account_was_added_is_skipped_not_unaccounted(desk, graph):
    account = desk.accounts.get(SUPPORT)
    old = account.created - timedelta(hours=desk.settings.fetch_lookback_hours, minutes=30)
    graph.add_message(SUPPORT, make_mail(subject="Ancient")[0], received=old)
    fetch_all(desk)

    [result] = reconcile(desk, SUPPORT, old.date(), now=account.created)

    assert [m.category for m in result.mails] == [MailCategory.BEFORE_ACCOUNT]
    assert result.unaccounted == [] and _errors(desk) == []


def test_cli_reports_counts_and_unaccounted_mail_and_exits_0(desk, graph, mailbox_app,
                                                             fetched_day):
    base, _ = fetched_day
    lost = graph.add_message(SUPPORT, make_mail(subject="Lost")[0],
                             received=base - timedelta(minutes=10))
    add_account(mailbox_app, SALES)  # its mailbox does not exist: listed with its error

    code, results = run_cli("reconcile", "--day", base.date().isoformat(), "--json")

    assert code == 0
    by_account = {r["account"]: r for r in results}
    support, sales = by_account[SUPPORT], by_account[SALES]
    assert (support["day"], support["total"], support["counts"]["ingested"],
            support["counts"]["unaccounted"]) == (base.date().isoformat(), 6, 2, 1)
    assert [(m["graph_id"], m["subject"], m["category"]) for m in support["unaccounted"]] == [
        (lost, "Lost", "unaccounted")]
    assert support["new_alerts"] == 1 and support["error"] == ""
    assert sales["error"].startswith("the folder could not be listed") and sales["total"] == 0

    code, text = run_cli("reconcile", "--account", SUPPORT, "--day", base.date().isoformat())
    assert code == 0 and "UNACCOUNTED" in text and lost in text and "Lost" in text
    assert len(_errors(desk)) == 1  # the second run logged nothing new


def test_cli_default_days_are_yesterday_and_today(desk):
    before = datetime.now(timezone.utc).date()
    code, results = run_cli("reconcile", "--json")
    after = datetime.now(timezone.utc).date()

    assert code == 0 and [r["account"] for r in results] == [SUPPORT, SUPPORT]
    yesterday, today = (date.fromisoformat(r["day"]) for r in results)
    assert today - yesterday == timedelta(days=1) and before <= today <= after


def test_cli_refuses_an_unknown_account_and_a_bad_day(desk):
    assert run_cli("reconcile", "--account", "nobody@contoso.example")[0] == 1
    assert run_cli("reconcile", "--day", "2026-02-30")[0] == 2
    assert run_cli("reconcile", "--day", str(date(2026, 2, 28)), "--json")[0] == 0


def test_the_hourly_reconciliation_mails_the_alert_recipients_once(desk, graph, fetched_day):
    """The timer's run (services/monitor.run_reconciliation): a mail no run took reaches the
    department's alert recipients through Graph, once, with its subject and no body."""
    from email import message_from_bytes, policy

    from shared_code.domain.model import Department, EmailAccount
    from shared_code.services.monitor import run_reconciliation
    from shared_code.services.outbound_queue import drain_outbound

    base, _ids = fetched_day
    support = desk.accounts.get(SUPPORT)
    desk.accounts.add(EmailAccount(address="alerts@contoso.example", name="Contoso Alerts",
                                   purpose="alert", department="Support", fetch_enabled=False,
                                   tenant_id=support.tenant_id, client_id=support.client_id,
                                   client_secret_name=support.client_secret_name))
    graph.add_mailbox("alerts@contoso.example")
    desk.directory.add_department(Department(name="Support", alert_recipients=["boss@contoso.example"]))
    lost = graph.add_message(SUPPORT, make_mail(subject="Lost order", body="private words")[0],
                             received=base - timedelta(minutes=10))
    now = base + timedelta(minutes=1)

    results = run_reconciliation(desk, now=now)
    assert [m.graph_id for m in unaccounted(results)] == [lost]
    drain_outbound(desk)
    run_reconciliation(desk, now=now + timedelta(hours=1))  # found again: not mailed again
    drain_outbound(desk)

    sent = [(box, message_from_bytes(raw, policy=policy.default)) for box, raw in graph.sent]
    alerts = [mail for box, mail in sent if "never became tickets" in mail["Subject"]]
    assert len(alerts) == 1 and [box for box, mail in sent if mail is alerts[0]] == ["alerts@contoso.example"]
    assert alerts[0]["To"] == "boss@contoso.example"
    assert alerts[0]["Subject"] == f"[deskmail] 1 mail in {SUPPORT} never became tickets"
    text = alerts[0].get_body(("plain",)).get_content()
    assert "'Lost order'" in text and lost in text and "private words" not in text
