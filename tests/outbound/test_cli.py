"""The outbound admin commands: send, notifications failed|requeue, emails test-send."""
from __future__ import annotations

from tests.integration.helpers import run_cli

from . import AGENT, ALERTS, AUTO, CLIENT, SUPPORT, desk, new_ticket, sent  # noqa: F401  (desk: fixture)


def test_send_json_lists_each_notification(desk, graph):
    ticket, _ = new_ticket(desk, graph)
    code, rows = run_cli("send", "--json")
    assert code == 0
    by_template = {row["template"]: row for row in rows}
    assert set(by_template) == {"new_ticket_auto_response", "new_ticket_alert"}
    auto = by_template["new_ticket_auto_response"]
    assert (auto["sender"], auto["recipients"], auto["outcome"]) == (AUTO, [CLIENT], "sent")
    assert auto["subject"] == f"[#{ticket.number}] Re: Printer on fire"
    assert len(auto["id"]) == 32
    alert = by_template["new_ticket_alert"]
    assert (alert["sender"], sorted(alert["recipients"])) == (ALERTS, [AGENT, "boss@contoso.example"])
    assert len(graph.sent) == 2
    assert run_cli("send", "--json") == (0, [])  # nothing left
    code, text = run_cli("send")
    assert (code, text.strip()) == (0, "no notifications to send")


def test_test_send_sends_a_short_mail_from_the_account(desk, graph):
    code, text = run_cli("emails", "test-send", SUPPORT, "--to", "me@example.org")
    assert code == 0 and text.startswith(f"sent a test message from {SUPPORT} to me@example.org")
    [(box, mail)] = sent(graph)
    assert box == SUPPORT
    assert [a.addr_spec for a in mail["To"].addresses] == ["me@example.org"]
    assert mail["Subject"] == f"deskmail test message from {SUPPORT}"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["Message-ID"].endswith("@desk.contoso.example>")


def test_test_send_prints_the_graph_error_code(desk, graph, capsys):
    graph.fail_next(403, path_contains="sendMail", code="ErrorAccessDenied",
                    message="Access is denied. Check credentials and try again.")
    code, text = run_cli("emails", "test-send", SUPPORT, "--to", "me@example.org")
    assert code == 1
    assert "send failed: ErrorAccessDenied" in text
    code, data = run_cli("emails", "test-send", "nobody@contoso.example", "--to", "me@example.org")
    assert code == 1 and "no email account nobody@contoso.example" in capsys.readouterr().err
    assert graph.sent == []


def test_notifications_failed_and_requeue_of_an_unknown_id(desk, capsys):
    assert run_cli("notifications", "failed", "--json") == (0, [])
    assert run_cli("notifications", "failed")[1].strip() == "no failed notifications"
    assert run_cli("notifications", "requeue", "feedface")[0] == 1
    assert "no notification feedface" in capsys.readouterr().err


def test_send_exits_1_when_a_notification_failed(desk, graph):
    new_ticket(desk, graph)
    graph.fail_next(403, count=2, path_contains="sendMail", code="ErrorAccessDenied")
    code, rows = run_cli("send", "--json")
    assert code == 1
    assert [row["outcome"] for row in rows] == ["failed", "failed"]
    assert all("ErrorAccessDenied" in row["reason"] for row in rows)
