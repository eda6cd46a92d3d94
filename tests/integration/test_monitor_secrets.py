"""The monitor's secret expiry warnings (issue 9 §3): Key Vault `exp` and the app
registration's password credentials through Graph; one warning per secret and expiry date."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy

import pytest

from shared_code.domain.model import Department
from shared_code.services.helpdesk import Helpdesk
from shared_code.services.monitor import run_monitor
from shared_code.services.outbound_queue import drain_outbound

from .helpers import SUPPORT, run_cli

ALERT = "alerts@contoso.example"
ONCALL = "oncall@contoso.example"


@pytest.fixture
def watched(desk, mailbox_app, graph):
    graph.add_mailbox(ALERT)
    code, _ = run_cli("emails", "add", "--address", ALERT, "--name", "Alerts", "--purpose", "alert",
                      "--department", "Support", "--no-fetch-enabled",
                      "--tenant-id", mailbox_app["tenant_id"], "--client-id", mailbox_app["client_id"],
                      "--client-secret-name", mailbox_app["client_secret_name"])
    assert code == 0
    desk.directory.add_department(Department("Support", email=SUPPORT, alert_recipients=[ONCALL]))
    return desk



def _mailed(desk, graph) -> list:
    drain_outbound(desk, release_after=0)
    return [message_from_bytes(raw, policy=policy.default) for _, raw in graph.sent]


def _log(desk, title: str) -> list[dict]:
    return [line for line in desk.syslog.list(limit=500) if line["title"] == title]


def test_a_key_vault_secret_expiring_within_14_days_warns_once(watched, vault, graph, mailbox_app):
    now = datetime.now(timezone.utc)
    expires = (now + timedelta(days=10)).replace(microsecond=0)
    vault.set_secret(mailbox_app["client_secret_name"], mailbox_app["secret"], expires=expires)
    desk = Helpdesk.from_env()
    assert desk.secrets.expires_on(mailbox_app["client_secret_name"]) == expires

    early = run_monitor(desk, now=now - timedelta(days=5))  # 15 days ahead: not yet
    assert [(s.secret, s.due, s.warned) for s in early.secrets] == [
        (mailbox_app["client_secret_name"], False, "")]
    reports = [run_monitor(desk, now=now + timedelta(minutes=m)) for m in (0, 5, 10)]
    assert [r.secrets[0].warned for r in reports] == ["now", "before", "before"]
    assert sorted(reports[0].secrets[0].accounts) == [ALERT, SUPPORT]

    mails = [m for m in _mailed(desk, graph) if "Client secret" in m["Subject"]]
    assert len(mails) == 1
    assert [a.addr_spec for a in mails[0]["To"].addresses] == [ONCALL]
    assert expires.strftime("%Y-%m-%d") in mails[0]["Subject"]
    assert mailbox_app["secret"] not in mails[0].as_string()  # the name, never the value
    assert len(_log(desk, "Secret expiring")) == 1

    # a rotated secret with a new expiry date is a new secret to warn about, once
    vault.set_secret(mailbox_app["client_secret_name"], mailbox_app["secret"],
                     expires=expires + timedelta(days=2))
    reports = [run_monitor(desk, now=now + timedelta(minutes=m)) for m in (15, 20)]
    assert [r.secrets[0].warned for r in reports] == ["now", "before"]
    assert len(_log(desk, "Secret expiring")) == 2


def test_monitor_json_lists_the_expiring_secret(watched, vault, mailbox_app):
    vault.set_secret(mailbox_app["client_secret_name"], mailbox_app["secret"],
                     expires=datetime.now(timezone.utc) + timedelta(days=3))
    code, report = run_cli("monitor", "--json")
    assert code == 0
    assert [(s["source"], s["secret"], s["due"], s["warned"]) for s in report["secrets"]] == [
        ("key-vault", mailbox_app["client_secret_name"], True, "now")]


def test_secrets_without_an_expiry_date_warn_nothing(watched, graph):
    report = run_monitor(watched)  # local secrets (environment variables) have no date
    assert report.secrets == [] and report.notes == []


def test_the_app_registrations_password_credential_end_date_warns_once(
        watched, graph, identity, mailbox_app):
    identity.register_app(mailbox_app["tenant_id"], mailbox_app["client_id"], mailbox_app["secret"],
                          roles=["Mail.ReadWrite", "Mail.Send", "Application.Read.All"])
    now = datetime.now(timezone.utc)
    end = (now + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    graph.set_password_credentials(mailbox_app["client_id"], [
        {"keyId": "k-1", "displayName": "deskmail", "hint": mailbox_app["secret"][:3],
         "endDateTime": end},
        # another secret of the same app, which no account uses: not warned about
        {"keyId": "k-2", "displayName": "old", "hint": "zzz",
         "endDateTime": (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")},
        {"keyId": "k-3", "displayName": "later", "endDateTime": "2099-01-01T00:00:00Z"},
    ])
    reports = [run_monitor(watched, now=now + timedelta(minutes=m)) for m in (0, 5)]
    found = {(s.source, s.secret, s.due, s.warned) for s in reports[0].secrets}
    assert found == {("app-registration", f"{mailbox_app['client_id']} (deskmail)", True, "now"),
                     ("app-registration", f"{mailbox_app['client_id']} (later)", False, "")}
    assert [s.warned for s in reports[1].secrets if s.due] == ["before"]
    mails = [m for m in _mailed(watched, graph) if "Client secret" in m["Subject"]]
    assert len(mails) == 1 and "app registration password credential" in mails[0].get_body(
        ("plain",)).get_content()


def test_an_app_that_may_not_read_its_registration_is_skipped_quietly(watched, graph, mailbox_app):
    graph.set_password_credentials(mailbox_app["client_id"], [
        {"keyId": "k-1", "displayName": "deskmail", "endDateTime": "2000-01-01T00:00:00Z"}])
    report = run_monitor(watched)  # the default token has Mail roles only: Graph answers 403
    assert report.secrets == [] and report.notes == []
    assert any("applications(appId=" in r.path and r.status == 403 for r in graph.requests)
