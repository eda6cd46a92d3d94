"""Bounces of deskmail's own mail (issue 10 §2), against Azurite and the Graph fake: the
notification goes out through the real outbound path, its Message-ID is taken from what
the fake received, and the bounce is built around it."""
from __future__ import annotations

from email import policy
from email.parser import BytesParser
from email.utils import format_datetime, make_msgid
from datetime import datetime, timezone

import pytest

from shared_code.services.fetch import fetch_all
from shared_code.services.outbound_queue import drain_outbound

from .helpers import SUPPORT, make_mail, run_cli, support_ticket

CLIENT = "ann@example.org"
AGENT = "agent@contoso.example"


@pytest.fixture
def ticket(desk, graph):
    """A client's ticket whose auto-response went out through Graph."""
    created = support_ticket(desk, graph, AGENT)
    drain_outbound(desk)
    return created


def _sent_to(graph, address: str) -> list:
    """The mails the Graph fake accepted for this recipient."""
    out = []
    for sent in graph.sent:
        message = BytesParser(policy=policy.default).parsebytes(sent.raw)
        if address in str(message.get("To", "")).lower():
            out.append(message)
    return out


def _bounced_id(graph) -> str:
    [response] = _sent_to(graph, CLIENT)
    return response["Message-ID"].strip().strip("<>")


def rfc3464(original_id: str, status: str = "5.1.1", recipient: str = CLIENT) -> bytes:
    """A Postfix-style DSN with the original's headers (text/rfc822-headers)."""
    action = "failed" if status.startswith("5") else "delayed"
    return (f"""From: Mail Delivery System <MAILER-DAEMON@mx.example.org>
To: {SUPPORT}
Subject: Undelivered Mail Returned to Sender
Date: {format_datetime(datetime.now(timezone.utc))}
Message-ID: {make_msgid(domain="mx.example.org")}
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b0"

--b0
Content-Type: text/plain; charset=us-ascii

I'm sorry to have to inform you that your message could not be delivered.

--b0
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; {recipient}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; 550 {status} <{recipient}>: Recipient address rejected

--b0
Content-Type: text/rfc822-headers

Message-ID: <{original_id}>
From: {SUPPORT}
To: {recipient}
Subject: whatever

--b0--
""").replace("\n", "\r\n").encode("ascii")


def exchange_ndr(original_id: str, status: str = "5.1.10", recipient: str = CLIENT) -> bytes:
    """An Exchange Online style NDR: no DSN part, X-MS-Exchange-Message-Is-Ndr, the status
    quoted in the text and the original named by In-Reply-To."""
    raw, _ = make_mail(
        subject="Undeliverable: Printer on fire", sender="Microsoft Outlook <postmaster@contoso.example>",
        in_reply_to=f"<{original_id}>", headers={"X-MS-Exchange-Message-Is-Ndr": "",
                                                  "X-Failed-Recipients": recipient},
        body=f"Your message to {recipient} couldn't be delivered.\n\nDiagnostic information for "
             f"administrators:\nRemote Server returned '550 {status} RESOLVER.ADR.RecipientNotFound; "
             "Recipient not found by SMTP address lookup'\n")
    return raw


def _state(desk, number):
    ticket = desk.tickets.get(number)
    return ticket.status.value, ticket.message_count


def _fetch_bounce(desk, graph, raw):
    before = len(graph.sent)
    graph.add_message(SUPPORT, raw)
    [summary] = fetch_all(desk, only=SUPPORT)
    drain_outbound(desk)
    assert (summary.created, summary.threaded, summary.discarded) == (0, 0, 1)
    assert len(graph.sent) == before  # nobody is told
    return summary


@pytest.mark.parametrize("build, status", [(rfc3464, "5.1.1"), (exchange_ndr, "5.1.10")])
def test_a_bounce_of_our_mail_is_a_note_on_its_ticket(desk, graph, ticket, build, status):
    before = _state(desk, ticket.number)
    _fetch_bounce(desk, graph, build(_bounced_id(graph), status))
    assert len(desk.tickets.list()) == 1
    assert _state(desk, ticket.number) == before
    entries = desk.tickets.entries(ticket.number)
    assert [e.type for e in entries] == ["message", "note"]
    assert f"{CLIENT}: status {status} (permanent)" in entries[1].body_text
    assert desk.undeliverable.get(CLIENT)["status"] == status


def test_the_same_bounce_fetched_twice_is_one_note(desk, graph, ticket):
    raw = rfc3464(_bounced_id(graph))
    _fetch_bounce(desk, graph, raw)
    graph.add_message(SUPPORT, raw)  # delivered again (a second copy in the mailbox)
    fetch_all(desk)
    assert [e.type for e in desk.tickets.entries(ticket.number)] == ["message", "note"]


def test_a_temporary_failure_only_adds_the_note(desk, graph, ticket):
    _fetch_bounce(desk, graph, rfc3464(_bounced_id(graph), "4.4.1"))
    [_, note] = desk.tickets.entries(ticket.number)
    assert f"{CLIENT}: status 4.4.1 (temporary)" in note.body_text
    assert desk.undeliverable.get(CLIENT) is None
    assert run_cli("tickets", "reply", ticket.number, "--staff", AGENT, "--text", "Try again")[0] == 0
    drain_outbound(desk)
    assert len(_sent_to(graph, CLIENT)) == 2


def test_a_forged_bounce_naming_a_ticket_with_a_wrong_token_writes_nothing(desk, graph, ticket):
    real = _bounced_id(graph)
    number, token, rest = real.split(".", 3)[1:]
    forged = real.replace(f".{token}.", ".0123456789abcdef.")
    assert forged != real and number == ticket.number
    _fetch_bounce(desk, graph, rfc3464(forged))
    assert [e.type for e in desk.tickets.entries(ticket.number)] == ["message"]
    assert desk.undeliverable.get(CLIENT) is None
    assert len(desk.tickets.list()) == 1


def test_a_bounce_of_a_mail_we_did_not_send_stays_discarded(desk, graph, ticket):
    _fetch_bounce(desk, graph, rfc3464("someone-else@example.net"))
    assert [e.type for e in desk.tickets.entries(ticket.number)] == ["message"]
    assert desk.undeliverable.get(CLIENT) is None


def test_permanent_failure_holds_responses_until_the_bounce_is_cleared(desk, graph, ticket):
    _fetch_bounce(desk, graph, rfc3464(_bounced_id(graph)))
    assert run_cli("tickets", "reply", ticket.number, "--staff", AGENT, "--text", "Switch it off")[0] == 0
    drain_outbound(desk)
    assert len(_sent_to(graph, CLIENT)) == 1  # only the auto-response from before

    code, failed = run_cli("notifications", "failed", "--json")
    [held] = [row for row in failed if row["template"] == "response"]
    assert held["state"] == "held" and held["error_code"] == "Undeliverable"
    assert held["error"].startswith(f"held: {CLIENT} undeliverable since ")
    assert held["error"].endswith("status 5.1.1")
    shown = run_cli("tickets", "show", ticket.number, "--json")[1]
    assert [h["id"] for h in shown["held_notifications"]] == [held["id"]]
    assert "[held] response" in run_cli("tickets", "show", ticket.number)[1]
    listed = run_cli("clients", "bounces", "--json")[1]
    assert [(r["address"], r["status"], r["ticket"]) for r in listed] == [
        (CLIENT, "5.1.1", ticket.number)]

    code, cleared = run_cli("clients", "clear-bounce", CLIENT.upper(), "--json")
    assert code == 0 and cleared["held"] == [held["id"]]
    assert desk.undeliverable.get(CLIENT) is None
    assert run_cli("notifications", "requeue", held["id"])[0] == 0
    drain_outbound(desk)
    [_, response] = _sent_to(graph, CLIENT)
    assert "Switch it off" in response.get_body(("plain",)).get_content()
    assert run_cli("tickets", "show", ticket.number, "--json")[1]["held_notifications"] == []
    assert all(r["id"] != held["id"] for r in run_cli("notifications", "failed", "--json")[1])


def test_staff_alerts_still_reach_staff_when_the_client_bounced(desk, graph, ticket, mailbox_app):
    graph.add_mailbox("desk@contoso.example")
    assert run_cli("emails", "add", "--address", "desk@contoso.example", "--name", "Desk",
                   "--purpose", "system", "--department", "Support",
                   "--tenant-id", mailbox_app["tenant_id"],
                   "--client-id", mailbox_app["client_id"],
                   "--client-secret-name", mailbox_app["client_secret_name"])[0] == 0
    _fetch_bounce(desk, graph, rfc3464(_bounced_id(graph)))
    graph.add_message(SUPPORT, make_mail(subject=f"Re: [#{ticket.number}] more")[0])
    fetch_all(desk)
    drain_outbound(desk)
    assert _sent_to(graph, AGENT)


def test_clear_bounce_of_an_address_not_marked_is_an_error(desk, capsys):
    assert run_cli("clients", "clear-bounce", "nobody@example.org")[0] == 1
    assert "nobody@example.org is not marked undeliverable" in capsys.readouterr().err
    assert run_cli("clients", "clear-bounce", "not an address")[0] == 1


def test_a_bounce_of_a_staff_response_is_a_note_on_its_ticket(desk, graph, ticket):
    run_cli("tickets", "close", ticket.number)
    assert run_cli("tickets", "reply", ticket.number, "--staff", AGENT, "--text", "Done.")[0] == 0
    drain_outbound(desk)
    response = [m for m in _sent_to(graph, CLIENT) if "Done." in m.get_body(("plain",)).get_content()]
    [response] = response
    before = _state(desk, ticket.number)
    _fetch_bounce(desk, graph, exchange_ndr(response["Message-ID"].strip().strip("<>"), "5.4.1"))
    assert _state(desk, ticket.number) == before == ("closed", 1)  # not reopened
    assert "status 5.4.1 (permanent)" in desk.tickets.entries(ticket.number)[-1].body_text
