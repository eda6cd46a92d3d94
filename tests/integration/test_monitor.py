"""The monitor (issue 9 §3): fetch incidents and secret expiry warnings, end to end.

Azurite, the Graph/identity/Key Vault fakes; the monitor's clock is its `now=` parameter (a
fetch records the real time, the monitor is run minutes "later"). Mail goes through
`outbound-mail` and reaches `graph.sent` after `drain_outbound`.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy

import pytest

from shared_code.adapters.names import FETCH_JOBS, OUTBOUND_MAIL
from shared_code.domain.model import Department
from shared_code.services.fetch import enqueue_fetch_jobs, fetch_all
from shared_code.services.helpdesk import Helpdesk
from shared_code.services.monitor import run_monitor
from shared_code.services.outbound_queue import drain_outbound

from .helpers import SUPPORT, run_cli

ALERT = "alerts@contoso.example"
SALES = "sales@contoso.example"
ONCALL = "oncall@contoso.example"
SALES_BOSS = "boss@contoso.example"


def _add(oauth: dict, address: str, purpose: str, department: str, *extra: str) -> None:
    code, _ = run_cli("emails", "add", "--address", address, "--name", address.split("@")[0],
                      "--purpose", purpose, "--department", department,
                      "--tenant-id", oauth["tenant_id"], "--client-id", oauth["client_id"],
                      "--client-secret-name", oauth["client_secret_name"], *extra)
    assert code == 0


@pytest.fixture
def watched(desk, mailbox_app, graph):
    """support@ (department Support, alerts to oncall@) and an Alert account that is not
    fetched itself."""
    graph.add_mailbox(ALERT)
    _add(mailbox_app, ALERT, "alert", "Support", "--no-fetch-enabled")
    desk.directory.add_department(Department("Support", email=SUPPORT, alert_recipients=[ONCALL]))
    return desk


def _sent(graph) -> list:
    return [(box, message_from_bytes(raw, policy=policy.default)) for box, raw in graph.sent]


def _mailed(desk, graph) -> list:
    drain_outbound(desk, release_after=0)
    return _sent(graph)


def _log(desk, title: str) -> list[dict]:
    return [line for line in desk.syslog.list(limit=500) if line["title"] == title]


def _check(report, address: str = SUPPORT):
    return next(a for a in report.accounts if a.address == address)


def _last_fetch(desk, address: str = SUPPORT) -> datetime:
    return desk.accounts.get(address).last_fetch


def test_a_stale_account_raises_one_alert_across_three_runs_and_one_recovery(watched, graph):
    desk = watched
    fetch_all(desk)
    fetched = _last_fetch(desk)
    assert run_monitor(desk, now=fetched + timedelta(minutes=1)).incidents == []

    reports = [run_monitor(desk, now=fetched + timedelta(minutes=m)) for m in (6, 11, 16)]
    assert [_check(r).incident for r in reports] == ["opened", "open", "open"]
    sent = _mailed(desk, graph)
    assert len(sent) == 1
    box, mail = sent[0]
    assert box == ALERT and mail["From"].addresses[0].addr_spec == ALERT
    assert [a.addr_spec for a in mail["To"].addresses] == [ONCALL]
    assert SUPPORT in mail["Subject"] and "not being fetched" in mail["Subject"]
    assert mail["Auto-Submitted"] == "auto-generated"
    assert "no successful fetch for" in mail.get_body(("plain",)).get_content()
    assert len(_log(desk, "Fetch alert")) == 1

    fetch_all(desk)  # the mailbox answers again
    again = _last_fetch(desk)
    for minutes in (1, 2, 3):
        run_monitor(desk, now=again + timedelta(minutes=minutes))
    sent = _mailed(desk, graph)
    assert len(sent) == 2
    assert SUPPORT in sent[1][1]["Subject"] and "fetched again" in sent[1][1]["Subject"]
    assert len(_log(desk, "Fetch recovered")) == 1
    assert len(_log(desk, "System mail sent")) == 2
    assert desk.monitor_state.open_incidents() == []


def test_an_account_failing_to_sign_in_raises_one_alert_and_is_still_fetched(
        watched, graph, monkeypatch, mailbox_app):
    desk = watched
    monkeypatch.setenv("WRONG_SECRET", "not-the-secret")
    _add({**mailbox_app, "client_secret_name": "wrong-secret"}, SALES, "department", "Support")
    for _ in range(3):
        summaries = {s.address: s for s in fetch_all(desk)}
        assert summaries[SALES].errors
    account = desk.accounts.get(SALES)
    assert account.consecutive_failures == 3 and account.fetch_enabled

    # the monitor runs "now": SALES was just added, so only the failures make it unhealthy
    code, report = run_cli("monitor", "--json")
    assert code == 0  # findings are not errors
    checks = {a["address"]: a for a in report["accounts"]}
    assert checks[SALES]["state"] == "failing" and checks[SALES]["incident"] == "opened"
    assert checks[SUPPORT]["incident"] == ""
    code, report = run_cli("monitor", "--json")
    assert code == 0 and {a["address"]: a for a in report["accounts"]}[SALES]["incident"] == "open"
    sent = _mailed(desk, graph)
    assert [SALES in mail["Subject"] for _, mail in sent] == [True]
    assert "invalid_client" in sent[0][1].get_body(("plain",)).get_content() or \
        "AADSTS" in sent[0][1].get_body(("plain",)).get_content()

    # no silent disabling: the next fetch run still queues (and tries) the account
    assert desk.accounts.get(SALES).fetch_enabled
    enqueue_fetch_jobs(desk)
    assert SALES in {job["address"] for job in desk.queues.peek_all(FETCH_JOBS)}
    assert fetch_all(desk, only=SALES)[0].errors
    assert desk.accounts.get(SALES).consecutive_failures == 4


def test_a_never_fetched_account_counts_from_when_it_was_added(watched, graph):
    desk = watched
    created = desk.accounts.get(SUPPORT).created
    report = run_monitor(desk, now=created + timedelta(minutes=4))
    assert report.incidents == [] and _check(report).state == "healthy"
    report = run_monitor(desk, now=created + timedelta(minutes=6))
    check = _check(report)
    assert (check.state, check.incident) == ("stale", "opened")
    sent = _mailed(desk, graph)
    assert len(sent) == 1 and SUPPORT in sent[0][1]["Subject"]


def test_two_accounts_raise_two_incidents_to_their_departments(watched, graph, mailbox_app):
    desk = watched
    graph.add_mailbox(SALES)
    desk.directory.add_department(Department("Sales", email=SALES, manager=SALES_BOSS))
    _add(mailbox_app, SALES, "department", "Sales")
    created = desk.accounts.get(SALES).created
    report = run_monitor(desk, now=created + timedelta(minutes=30))
    assert sorted(a.address for a in report.incidents) == [SALES, SUPPORT]
    run_monitor(desk, now=created + timedelta(minutes=35))
    sent = {mail["Subject"]: [a.addr_spec for a in mail["To"].addresses]
            for _, mail in _mailed(desk, graph)}
    assert len(sent) == 2
    to = {next(address for address in (SALES, SUPPORT) if address in subject): recipients
          for subject, recipients in sent.items()}
    assert to == {SUPPORT: [ONCALL], SALES: [SALES_BOSS]}  # no alert recipients: the manager


def test_two_monitors_at_once_send_one_alert(watched, graph):
    desk = watched
    created = desk.accounts.get(SUPPORT).created
    later = created + timedelta(minutes=20)
    desks = [Helpdesk.from_env() for _ in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        reports = list(pool.map(lambda d: run_monitor(d, now=later), desks))
    opened = [r for r in reports for a in r.accounts if a.address == SUPPORT and a.incident == "opened"]
    assert len(opened) == 1
    assert len(_mailed(desk, graph)) == 1


def test_without_an_alert_account_the_system_account_sends_and_says_so(desk, graph, mailbox_app):
    graph.add_mailbox("system@contoso.example")
    _add(mailbox_app, "system@contoso.example", "system", "Support", "--no-fetch-enabled")
    desk.directory.add_department(Department("Support", alert_recipients=[ONCALL]))
    report = run_monitor(desk, now=desk.accounts.get(SUPPORT).created + timedelta(minutes=10))
    assert report.sender == "system@contoso.example"
    assert any("System account" in note for note in report.notes)
    assert [box for box, _ in _mailed(desk, graph)] == ["system@contoso.example"]


def test_no_recipients_is_reported_not_mailed(desk, graph, mailbox_app):
    graph.add_mailbox(ALERT)
    _add(mailbox_app, ALERT, "alert", "Support", "--no-fetch-enabled")
    report = run_monitor(desk, now=desk.accounts.get(SUPPORT).created + timedelta(minutes=10))
    assert [a.incident for a in report.accounts if a.address == SUPPORT] == ["opened"]
    assert any("no alert recipients" in note for note in report.notes)
    assert desk.queues.peek_all(OUTBOUND_MAIL) == []
    assert len(_log(desk, "Fetch alert")) == 1


def test_a_monitor_mail_graph_fails_once_is_sent_on_the_queues_retry(watched, graph):
    desk = watched
    run_monitor(desk, now=desk.accounts.get(SUPPORT).created + timedelta(minutes=10))
    graph.fail_next(500, path_contains="sendMail", method="POST")
    sent = _mailed(desk, graph)
    assert len(sent) == 1 and SUPPORT in sent[0][1]["Subject"]
    assert len(_log(desk, "Send failed")) == 1
    # the retry looked in Sent Items first (the failed attempt might have gone out)
    assert any("sentitems" in r.path.lower() for r in graph.requests)


def test_a_monitor_mail_graph_keeps_refusing_is_given_up_and_logged(watched, graph):
    desk = watched
    run_monitor(desk, now=desk.accounts.get(SUPPORT).created + timedelta(minutes=10))
    graph.fail_next(400, count=50, path_contains="sendMail", method="POST",
                    code="ErrorInvalidRecipients")
    results = drain_outbound(desk, release_after=0)
    assert graph.sent == [] and [r.outcome for r in results] == ["failed"] * 5
    assert "moved to outbound-mail-poison" in results[-1].reason
    failed = _log(desk, "System mail failed")
    assert len(failed) == 1 and ONCALL in failed[0]["message"]
    assert desk.queues.peek_all(OUTBOUND_MAIL) == []


def test_an_incident_ends_without_a_mail_when_fetching_is_turned_off_or_the_account_removed(
        watched, graph, mailbox_app):
    desk = watched
    graph.add_mailbox(SALES)
    _add(mailbox_app, SALES, "department", "Support")
    later = desk.accounts.get(SALES).created + timedelta(minutes=30)
    assert sorted(a.address for a in run_monitor(desk, now=later).incidents) == [SALES, SUPPORT]
    assert run_cli("emails", "update", SUPPORT, "--no-fetch-enabled")[0] == 0
    assert run_cli("emails", "remove", SALES)[0] == 0
    report = run_monitor(desk, now=later + timedelta(minutes=5))
    assert _check(report).incident == "closed" and report.incidents == []
    assert desk.monitor_state.open_incidents() == []
    assert len(_log(desk, "Fetch incident closed")) == 2
    assert len(_mailed(desk, graph)) == 2  # the two alerts; no recovery mail
