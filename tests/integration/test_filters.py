"""The admins' filters end to end: CLI `filters` → Azurite, mail in the Graph fake → a real
fetch → pipeline rule 2a, checked through the CLI and the stored tickets."""
from __future__ import annotations

from shared_code.adapters.names import RAW_MAIL
from tests.pipeline import queued_notifications

from .helpers import SUPPORT, make_mail, run_cli

AGENT = "andy@contoso.example"


def _add(*args: str) -> dict:
    code, row = run_cli("filters", "add", *args, "--json")
    assert code == 0, row
    return row


def _fetch() -> dict:
    code, data = run_cli("fetch", "--json")
    assert code == 0
    return {row["address"]: row for row in data}[SUPPORT]


def _only_ticket() -> dict:
    code, data = run_cli("tickets", "list", "--json")
    assert code == 0 and len(data) == 1, data
    code, shown = run_cli("tickets", "show", data[0]["number"], "--json")
    assert code == 0
    return shown


def _directory() -> None:
    assert run_cli("departments", "add", "Ops")[0] == 0
    assert run_cli("departments", "add", "Support")[0] == 0
    assert run_cli("staff", "add", "--name", "Andy Agent", "--email", AGENT,
                   "--department", "Ops")[0] == 0


def _templates(desk) -> list[str]:
    return sorted(n["template"] for n in queued_notifications(desk))


def test_a_discard_filter_on_the_sender_stops_the_mail_with_its_reason_logged(desk, graph):
    _add("Newsletters", "--if", "sender", "equals", "News@Vendor.example",
         "--discard", "vendor newsletter")
    graph.add_message(SUPPORT, make_mail(sender="Vendor <news@vendor.example>")[0])
    graph.add_message(SUPPORT, make_mail(subject="A real problem")[0])

    summary = _fetch()

    assert (summary["fetched"], summary["created"]) == (2, 1)
    assert _only_ticket()["subject"] == "A real problem"
    _, log = run_cli("syslog", "--json")
    [line] = [e for e in log if "discarded by filter" in e["message"]]
    assert "'Newsletters': vendor newsletter" in line["message"]
    assert len(desk.blobs.names(RAW_MAIL)) == 2  # the discarded mail's raw copy is kept


def test_a_monitoring_alert_with_auto_submitted_becomes_a_ticket_when_a_filter_allows_it(desk, graph):
    alert = make_mail(subject="PROBLEM: disk full on db01", sender="Nagios <nagios@mon.example>",
                      headers={"Auto-Submitted": "auto-generated", "X-Mailer": "Nagios 4.4"})[0]
    other = make_mail(subject="Out of office", sender="Bob <bob@example.org>",
                      headers={"Auto-Submitted": "auto-replied"})[0]
    graph.add_message(SUPPORT, other)
    _add("Monitoring", "--if", "header:X-Mailer", "contains", "nagios",
         "--if", "subject", "regex", r"^PROBLEM: ", "--allow-auto-generated", "--no-auto-response",
         "--priority", "high", "--tag", "monitoring")
    graph.add_message(SUPPORT, alert)

    summary = _fetch()

    assert (summary["fetched"], summary["created"]) == (2, 1)  # the vacation reply stays out
    ticket = _only_ticket()
    assert (ticket["subject"], ticket["priority"], ticket["tags"]) == (
        "PROBLEM: disk full on db01", "high", ["monitoring"])
    assert _templates(desk) == ["new_ticket_alert"]  # no auto-response to the monitor
    _, log = run_cli("syslog", "--json")
    [allowed] = [e for e in log if e["title"] == "Auto-generated mail allowed by a filter"]
    assert "(rule: auto-submitted) allowed by filter Monitoring" in allowed["message"]


def test_department_assignee_and_tags_from_every_matching_filter_earlier_wins(desk, graph):
    _directory()
    _add("Invoices", "--if", "subject", "contains", "invoice", "--if", "body", "regex",
         r"(?i)amount due", "--department", "Ops", "--assignee", AGENT.upper(), "--tag", "billing")
    _add("Everything to Support", "--if", "recipient", "equals", SUPPORT,
         "--department", "Support", "--priority", "low", "--tag", "inbound")
    graph.add_message(SUPPORT, make_mail(subject="Invoice 42", body="The amount due is 10 EUR.")[0])

    _fetch()

    ticket = _only_ticket()
    assert (ticket["department"], ticket["assignee"], ticket["priority"]) == ("Ops", AGENT, "low")
    assert ticket["tags"] == ["billing", "inbound"]
    assert _templates(desk) == ["new_ticket_alert", "new_ticket_auto_response"]


def test_order_decides_and_a_disabled_or_unmatched_filter_does_nothing(desk, graph):
    _add("Low", "--if", "subject", "contains", "printer", "--priority", "low", "--position", "2")
    _add("High", "--if", "subject", "contains", "fire", "--priority", "high", "--position", "1")
    _add("Off", "--if", "subject", "contains", "printer", "--discard", "never", "--no-enabled")
    _add("Other", "--if", "body", "equals", "printer", "--tag", "never")
    code, listed = run_cli("filters", "list", "--json")
    assert [(r["name"], r["position"], r["enabled"]) for r in listed] == [
        ("High", 1, True), ("Low", 2, True), ("Off", 3, False), ("Other", 4, True)]
    graph.add_message(SUPPORT, make_mail(subject="Printer on fire")[0])

    _fetch()

    ticket = _only_ticket()
    assert (ticket["priority"], ticket["tags"]) == ("high", [])


def test_a_filter_changes_only_new_tickets_not_the_replies_threaded_into_them(desk, graph):
    raw, first_id = make_mail(subject="Printer on fire")
    graph.add_message(SUPPORT, raw)
    _fetch()
    _add("Urgent", "--if", "subject", "contains", "fire", "--priority", "emergency")
    graph.add_message(SUPPORT, make_mail(subject="Re: Printer on fire", in_reply_to=f"<{first_id}>")[0])

    assert _fetch()["threaded"] == 1

    ticket = _only_ticket()
    assert ticket["priority"] == "normal" and len(ticket["entries"]) == 2


def test_filters_test_shows_what_would_happen_and_changes_nothing(desk, graph, tmp_path):
    _add("Monitoring", "--if", "header:X-Mailer", "contains", "nagios", "--allow-auto-generated",
         "--tag", "monitoring")
    _add("Spam", "--if", "subject", "contains", "viagra", "--discard", "spam")
    eml = tmp_path / "alert.eml"
    eml.write_bytes(make_mail(subject="PROBLEM: disk full", headers={
        "Auto-Submitted": "auto-generated", "X-Mailer": "Nagios"})[0])
    before = [r for r in run_cli("filters", "list", "--json")[1]]

    code, result = run_cli("filters", "test", str(eml), "--json")

    assert code == 0
    assert result["matched"] == ["Monitoring"]
    assert [(f["name"], f["matches"]) for f in result["filters"]] == [("Monitoring", True),
                                                                    ("Spam", False)]
    assert result["auto_generated"] == "auto-submitted"
    assert result["outcome"].startswith("becomes a ticket")
    assert "tags: monitoring" in result["effects"]
    code, text = run_cli("filters", "test", str(eml))
    assert "MATCH 1. Monitoring" in text and "nothing was changed" in text
    assert run_cli("tickets", "list", "--json")[1] == []
    assert desk.blobs.names(RAW_MAIL) == [] and desk.queues.peek_all("outbound-mail") == []
    assert run_cli("filters", "list", "--json")[1] == before


def test_update_and_remove_through_the_cli(desk, graph):
    _add("Spam", "--if", "subject", "contains", "viagra", "--discard", "spam")
    code, row = run_cli("filters", "update", "Spam", "--if", "subject", "regex", "(?i)v[i1]agra",
                        "--position", "5", "--json")
    assert code == 0
    assert (row["conditions"][0]["operator"], row["actions"][0]["kind"], row["position"]) == (
        "regex", "discard", 5)
    assert run_cli("filters", "remove", "spam")[0] == 0
    assert run_cli("filters", "list", "--json")[1] == []
    assert run_cli("filters", "remove", "spam")[0] == 1
    assert run_cli("filters", "update", "spam", "--tag", "x")[0] == 1


def test_invalid_filters_are_refused_naming_the_field(desk, graph, capsys):
    _directory()
    cases = [
        (["--if", "subject", "regex", "(a+)+$", "--tag", "x"], "nests a repeat"),
        (["--if", "subject", "regex", "([", "--tag", "x"], "invalid regular expression"),
        (["--if", "subject", "contains", "x", "--department", "Nowhere"], "unknown department"),
        (["--if", "subject", "contains", "x", "--assignee", "ghost@contoso.example"],
         "unknown staff member"),
        (["--if", "subject", "contains", "x", "--priority", "urgent"], "actions.value"),
        (["--if", "colour", "contains", "x", "--tag", "x"], "conditions.field"),
        (["--if", "subject", "like", "x", "--tag", "x"], "conditions.operator"),
        (["--if", "header", "contains", "x", "--tag", "x"], "header's name"),
        (["--tag", "x"], "at least one condition"),
        (["--if", "subject", "contains", "x"], "at least one action"),
    ]
    for args, message in cases:
        capsys.readouterr()
        code, _ = run_cli("filters", "add", "Bad", *args)
        assert code == 1, args
        assert message in capsys.readouterr().err, args
    assert run_cli("filters", "list", "--json")[1] == []


def test_the_ticket_page_shows_the_tags_a_filter_set(desk, graph, monkeypatch):
    from fastapi.testclient import TestClient

    from shared_code.web.app import create_app
    from tests.web.conftest import AGENT, DEV_USERS, sign_in

    _add("Tagger", "--if", "subject", "contains", "printer", "--tag", "hardware", "--tag", "urgent")
    graph.add_message(SUPPORT, make_mail()[0])
    _fetch()
    number = _only_ticket()["number"]
    for name, value in (("DESKMAIL_AUTH", "dev"), ("DESKMAIL_DEV_USERS", DEV_USERS),
                        ("DESKMAIL_SESSION_KEY", "k" * 40)):
        monkeypatch.setenv(name, value)
    with TestClient(create_app(), follow_redirects=False) as client:
        page = sign_in(client, AGENT).get(f"/tickets?number={number}")
    assert page.status_code == 200
    assert '<span id="ticket-tags">hardware, urgent</span>' in page.text
