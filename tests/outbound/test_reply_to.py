"""Replies to notifications are not lost: client mail carries Reply-To a fetched account,
and `emails add/update` warns when a client-mail account's answers would go nowhere."""
from __future__ import annotations

from shared_code.services.fetch import fetch_all
from shared_code.services.outbound_queue import drain_outbound
from tests.integration.helpers import make_mail, run_cli

from . import ALERTS, AUTO, SUPPORT, desk, new_ticket, sent  # noqa: F401  (desk is a fixture)


def test_the_auto_response_from_a_send_only_account_has_reply_to_the_department(desk, graph):
    ticket, _ = new_ticket(desk, graph)
    drain_outbound(desk)

    by_box = {box: mail for box, mail in sent(graph)}
    auto = by_box[AUTO]  # autoreply@ sends, but is not fetched
    assert [a.addr_spec for a in auto["Reply-To"].addresses] == [SUPPORT]
    assert auto["Reply-To"].addresses[0].display_name == "Contoso Support"
    # staff alerts too: staff answer a ticket by replying to its alert (issue 10 §4)
    assert [a.addr_spec for a in by_box[ALERTS]["Reply-To"].addresses] == [SUPPORT]

    # the client answers the auto-response: the answer reaches the fetched mailbox's ticket
    raw, _ = make_mail(subject=f"Re: {auto['Subject']}", to=str(auto["Reply-To"]),
                       in_reply_to=auto["Message-ID"], body="It is still burning.")
    graph.add_message(SUPPORT, raw)
    fetch_all(desk)
    assert [t.number for t in desk.tickets.list()] == [ticket.number]
    assert [e.body_text.strip() for e in desk.tickets.entries(ticket.number)
            if e.type == "message"][-1] == "It is still burning."


def _warning(capsys) -> str:
    return capsys.readouterr().err


def test_emails_add_and_update_warn_when_client_answers_would_be_lost(desk, graph, capsys,
                                                                      mailbox_app):
    oauth = ("--tenant-id", mailbox_app["tenant_id"], "--client-id", mailbox_app["client_id"],
             "--client-secret-name", mailbox_app["client_secret_name"])
    # support@ is fetched: a new send-only account's answers go there (Reply-To)
    code, _ = run_cli("emails", "add", "--address", "noreply-desk@contoso.example", "--name",
                      "Desk", "--purpose", "auto-response", "--department", "Support",
                      "--no-fetch-enabled", *oauth)
    assert code == 0 and _warning(capsys) == ""

    # with fetching off on support@, nothing is fetched: every client-mail account warns
    code, _ = run_cli("emails", "update", SUPPORT, "--no-fetch-enabled")
    assert code == 0
    warning = _warning(capsys)
    assert f"warning: {SUPPORT} may send client mail but is not fetched" in warning
    assert "answers would be lost" in warning
    code, _ = run_cli("emails", "update", AUTO, "--name", "Auto")
    assert code == 0 and f"warning: {AUTO}" in _warning(capsys)
    code, _ = run_cli("emails", "update", ALERTS, "--name", "Alerts")  # staff mail only
    assert code == 0 and _warning(capsys) == ""

    code, _ = run_cli("emails", "update", SUPPORT, "--fetch-enabled")
    assert code == 0 and _warning(capsys) == ""
