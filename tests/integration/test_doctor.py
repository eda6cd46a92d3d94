"""`python -m shared_code.cli doctor`: Azurite, the identity and Graph fakes, and a local
name server (tests/fakes/nameserver.py) that DOCTOR_DNS_SERVER points the resolver at."""
from __future__ import annotations

import socket
from datetime import datetime, timedelta, timezone

import pytest

from shared_code.adapters.names import ATTACHMENTS
from tests.fakes.nameserver import DMARC, SPF, FakeNameServer

from .helpers import SUPPORT, run_cli

DOMAIN = "contoso.example"


@pytest.fixture
def nameserver(monkeypatch):
    server = FakeNameServer()
    monkeypatch.setenv("DOCTOR_DNS_SERVER", server.address)
    yield server
    server.stop()


def fetched(desk, minutes_ago: float = 1, failures: int = 0, error: str = "") -> None:
    account = desk.accounts.get(SUPPORT)
    account.last_fetch = datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)
    account.consecutive_failures = failures
    account.last_error = error
    desk.accounts.save_fetch_state(account)


def doctor(*args: str):
    code, data = run_cli("doctor", "--json", *args)
    return code, data, {(c["check"], c["target"]): c for c in data.get("checks", [])}


def results(checks: dict) -> dict:
    return {key: check["result"] for key, check in checks.items()}


def test_a_healthy_setup_passes_every_check(desk, nameserver):
    nameserver.publish_mail_records(DOMAIN)
    fetched(desk)

    code, data, checks = doctor()

    assert code == 0, data
    assert data["ok"] is True and data["exit_code"] == 0
    assert data["counts"] == {"pass": len(checks), "warn": 0, "fail": 0}
    expected = {("credentials", SUPPORT), ("secret", SUPPORT), ("token", SUPPORT),
                ("permissions", SUPPORT), ("folder", SUPPORT), ("last_fetch", SUPPORT),
                ("quarantine", "all accounts"), ("auto_replies", ""), ("templates", ""), ("attachments", ATTACHMENTS),
                ("duplicates", ""), ("spf", DOMAIN), ("dkim", DOMAIN), ("dmarc", DOMAIN),
                ("settings", "")}
    assert set(checks) == expected
    assert checks[("permissions", SUPPORT)]["detail"] == "granted: Mail.ReadWrite, Mail.Send"
    assert checks[("spf", DOMAIN)]["detail"] == f"TXT {SPF}"
    assert checks[("dmarc", DOMAIN)]["row"] == "Emails going to spam"
    assert checks[("templates", "")]["row"] == "Template variables not replacing"
    # the probe image was deleted: the attachments container holds nothing of the doctor's
    assert desk.blobs.names(ATTACHMENTS) == []
    assert (f"_dmarc.{DOMAIN}", "TXT") in nameserver.queries


def test_the_text_report_shows_each_result_and_fix_and_the_exit_code(desk, nameserver):
    fetched(desk)  # no DNS records published

    code, text = run_cli("doctor")

    assert code == 1
    assert f"PASS  Access token [{SUPPORT}]: a token for Microsoft Graph was issued" in text
    assert f"FAIL  SPF [{DOMAIN}]: no TXT record starting v=spf1 at {DOMAIN}" in text
    assert "      fix: publish TXT at contoso.example: v=spf1 include:spf.protection.outlook.com" in text
    assert f"FAIL  DMARC [{DOMAIN}]" in text and f"FAIL  DKIM [{DOMAIN}]" in text
    assert text.rstrip().splitlines()[-1].endswith("0 warnings, 3 failed")


def test_one_dkim_selector_is_a_warning_and_does_not_fail(desk, nameserver):
    nameserver.add(DOMAIN, "TXT", "google-site-verification=abc", SPF)
    nameserver.add(f"_dmarc.{DOMAIN}", "TXT", DMARC)
    nameserver.add(f"selector1._domainkey.{DOMAIN}", "TXT", "v=DKIM1; k=rsa; p=MIGfMA0GCSq")
    fetched(desk)

    code, data, checks = doctor()

    assert code == 0
    assert checks[("dkim", DOMAIN)]["result"] == "warn"
    assert "only selector1 is published" in checks[("dkim", DOMAIN)]["detail"]
    assert "selector2._domainkey.contoso.example" in checks[("dkim", DOMAIN)]["fix"]
    assert checks[("spf", DOMAIN)]["result"] == "pass"


def test_dns_that_gives_no_answer_is_a_warning(desk, nameserver):
    nameserver.servfail = True
    fetched(desk)

    code, data, checks = doctor()

    assert code == 0 and data["counts"]["warn"] == 1
    dns = checks[("dns", DOMAIN)]
    assert dns["result"] == "warn" and dns["detail"].startswith("not checked: no DNS answer")
    assert "DOCTOR_DNS_SERVER" in dns["fix"]


def test_an_unreachable_dns_server_is_a_warning(desk, monkeypatch):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing answers there
    monkeypatch.setenv("DOCTOR_DNS_SERVER", f"127.0.0.1:{port}")
    fetched(desk)

    code, data, checks = doctor()

    assert code == 0
    assert checks[("dns", DOMAIN)]["result"] == "warn"
    assert not any(key[0] in ("spf", "dkim", "dmarc") for key in checks)


def test_an_allow_listed_domain_is_a_warning_about_auto_replies(desk, nameserver, monkeypatch):
    nameserver.publish_mail_records(DOMAIN)
    fetched(desk)
    monkeypatch.setenv("AUTO_REPLY_ALLOWED_SENDERS", "monitor@tools.example,@partner.example")

    code, _, checks = doctor()

    assert code == 0
    auto = checks[("auto_replies", "")]
    assert auto["result"] == "warn" and auto["row"] == "Auto-replies creating tickets"
    assert "lets whole domains through (@partner.example)" in auto["detail"]

    monkeypatch.setenv("AUTO_REPLY_ALLOWED_SENDERS", "monitor@tools.example")
    _, _, checks = doctor()
    assert checks[("auto_replies", "")]["detail"] == (
        "each of the guide's 10 auto-reply samples is discarded; allowed senders: monitor@tools.example")


def test_a_quarantined_mail_fails_with_the_fix(desk, nameserver):
    nameserver.publish_mail_records(DOMAIN)
    fetched(desk)
    desk.quarantine.add("q-1a2b3c", {"account": SUPPORT, "graph_id": "AAMk-1",
                                     "error": "ValueError: broken MIME", "attempts": 3})

    code, data, checks = doctor("--account", SUPPORT)

    assert code == 1 and data["counts"]["fail"] == 1
    quarantine = checks[("quarantine", SUPPORT)]
    assert quarantine["result"] == "fail"
    assert quarantine["detail"] == f"1 mail quarantined: q-1a2b3c ({SUPPORT})"
    assert "quarantine retry ID" in quarantine["fix"]
    assert quarantine["row"] == "Emails not being fetched"


def test_a_stale_account_fails_and_a_failing_one_names_its_error(desk, nameserver, monkeypatch):
    nameserver.publish_mail_records(DOMAIN)
    monkeypatch.setenv("FETCH_STALE_MINUTES", "0.5")
    fetched(desk, minutes_ago=2)

    code, _, checks = doctor()

    assert code == 1
    stale = checks[("last_fetch", SUPPORT)]
    assert stale["result"] == "fail" and stale["detail"].startswith("no successful fetch for 2.0 min")
    assert f"fetch --account {SUPPORT}" in stale["fix"]

    fetched(desk, minutes_ago=0.1, failures=3, error="AADSTS7000222 secret expired")
    _, _, checks = doctor()
    failing = checks[("last_fetch", SUPPORT)]
    assert failing["result"] == "fail" and "3 in a row: AADSTS7000222 secret expired" in failing["detail"]


def test_a_broken_department_template_fails_naming_it(desk, nameserver):
    from shared_code.adapters.table_base import _Table
    from shared_code.adapters.names import TEMPLATES

    nameserver.publish_mail_records(DOMAIN)
    fetched(desk)
    # stored directly, as an older version or a hand edit could have: the store would refuse it
    _Table(desk.connection, TEMPLATES).upsert({
        "PartitionKey": "dept:support", "RowKey": "new_ticket_auto_response", "department": "Support",
        "subject": "We got it: %{ticket.nmuber}", "html": "<p>Thanks</p>", "text": "Thanks"})

    code, _, checks = doctor()

    assert code == 1
    templates = checks[("templates", "")]
    assert templates["result"] == "fail"
    assert templates["detail"] == ("new_ticket_auto_response (Support): unknown variable "
                                   "%{ticket.nmuber} in subject (did you mean %{ticket.number}?)")
    assert "templates reset KEY" in templates["fix"]


def test_a_wrong_secret_fails_the_token_check(desk, nameserver, monkeypatch):
    nameserver.publish_mail_records(DOMAIN)
    fetched(desk)
    monkeypatch.setenv("DESKMAIL_GRAPH_SECRET", "the-secret-id-not-its-value")

    code, data, checks = doctor()

    assert code == 1
    token = checks[("token", SUPPORT)]
    assert token["result"] == "fail" and "AADSTS7000215" in token["detail"]
    assert "paste the secret's Value" in token["fix"]
    assert ("permissions", SUPPORT) not in checks  # not run after the token failed
    assert "the-secret-id-not-its-value" not in str(data)


def test_one_message_id_in_two_tickets_is_a_duplicate(desk, nameserver):
    from shared_code.adapters.table_base import _Table
    from shared_code.adapters.names import TICKETS
    from shared_code.adapters.ticket_store import TicketStore

    nameserver.publish_mail_records(DOMAIN)
    fetched(desk)
    table = _Table(desk.connection, TICKETS)
    for number in ("100001", "100002"):
        table.upsert(TicketStore.marker_entity(number, "dup-1@example.org", {}))
    table.upsert(TicketStore.marker_entity("100003", "single@example.org", {}))
    desk.index.record("dup-1@example.org", "100001", "inbound")

    code, _, checks = doctor()

    assert code == 1
    duplicates = checks[("duplicates", "")]
    assert duplicates["result"] == "fail"
    assert duplicates["detail"] == ("<dup-1@example.org> in tickets #100001, #100002 "
                                    "(the index threads it to #100001)")

    from shared_code.services.doctor_system import duplicate_findings

    [bounded] = duplicate_findings(desk, limit=1)
    assert bounded.result.value == "warn" and "the scan stopped after 1 Message-IDs" in bounded.detail


def test_production_settings_in_azure(desk, nameserver, monkeypatch):
    nameserver.publish_mail_records(DOMAIN)
    fetched(desk)
    monkeypatch.setenv("TRUSTED_SENDER_SIGNALS", "none")
    _, _, checks = doctor()
    local = checks[("settings", "")]
    assert local["result"] == "warn" and local["detail"].startswith("TRUSTED_SENDER_SIGNALS is none")

    monkeypatch.setenv("WEBSITE_INSTANCE_ID", "instance-1")  # the platform's marker of Azure
    code, data, checks = doctor()
    assert code == 1 and list(checks) == [("settings", "")]  # nothing else can run
    assert "setting SYSTEM_MAIL_DOMAIN is required when the app runs in Azure" in data["checks"][0]["detail"]

    for name, value in (("TICKET_URL_BASE", "https://desk.contoso.example/tickets"),
                        ("SYSTEM_MAIL_DOMAIN", "desk.contoso.example"),
                        ("DESKMAIL_AUTH", "dev")):
        monkeypatch.setenv(name, value)
    code, _, checks = doctor()
    azure = checks[("settings", "")]
    assert code == 1 and azure["result"] == "fail"
    assert "DESKMAIL_AUTH=dev is refused" in azure["detail"]
    assert "TRUSTED_SENDER_SIGNALS is none" in azure["detail"]
    assert "KEY_VAULT_URL is not set in Azure" in azure["detail"]


def test_an_unknown_account_is_an_error(desk, nameserver):
    code, text = run_cli("doctor", "--account", "nobody@contoso.example")
    assert code == 1 and text == ""
