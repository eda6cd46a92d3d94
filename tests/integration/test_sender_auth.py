"""Staff are who Exchange says they are, end to end: mail stamped as Exchange's transport would
(tests/fakes/exchange.py) in the Graph fake → fetch → pipeline → Azurite → the CLI's views."""
from __future__ import annotations

import pytest

from shared_code.adapters.names import OUTBOUND_MAIL
from shared_code.services.fetch import fetch_all
from tests.fakes.exchange import from_internet, sent_inside

from .helpers import SUPPORT, make_mail, run_cli, support_ticket

AGENT = "agent@contoso.example"
STAFF_SPOOF = "Unauthenticated mail claiming a staff address"
HELPDESK_SPOOF = "Unauthenticated mail claiming a helpdesk address"


@pytest.fixture
def ticket(desk, graph):
    """A closed ticket from a client mail, with the Support department and one staff member."""
    created = support_ticket(desk, graph, AGENT)
    assert run_cli("tickets", "close", created.number)[0] == 0
    return created


def _syslog(title: str) -> list[dict]:
    code, rows = run_cli("syslog", "--json")
    assert code == 0
    return [row for row in rows if row["title"] == title]


def _alerts(desk) -> list[dict]:
    return [n for n in desk.queues.peek_notifications(OUTBOUND_MAIL) if n["template"] == "new_message_alert"]


def test_a_genuine_staff_mail_and_a_forged_one_in_the_same_run(desk, graph, ticket):
    number = ticket.number
    graph.add_message(SUPPORT, sent_inside(make_mail(
        subject=f"Re: [#{number}] Printer on fire", sender=f"Andy <{AGENT}>",
        body="#note\nInternal: replacement ordered.")[0]))
    forged, forged_id = make_mail(subject=f"Re: [#{number}] Printer on fire",
                                  sender=f"Andy <{AGENT}>", body="Please wire the refund to me.",
                                  headers={"X-MS-Exchange-Organization-AuthAs": "Internal"})
    graph.add_message(SUPPORT, from_internet(forged, spf="fail", dkim="none", dmarc="fail"))

    [summary] = fetch_all(desk)

    assert (summary.threaded, summary.created) == (1, 1)
    code, shown = run_cli("tickets", "show", number, "--json")
    assert code == 0
    assert [e["type"] for e in shown["entries"]] == ["message", "note"]
    assert shown["status"] == "closed"
    assert "wire the refund" not in str(shown)
    forged_ticket = [t for t in desk.tickets.list() if t.number != number]
    assert [t.client.email for t in forged_ticket] == [AGENT]  # a client mail, on its own
    assert _alerts(desk) == []  # the note alerts nobody; a new ticket alerts differently
    [entry] = _syslog(STAFF_SPOOF)
    assert entry["account"] == SUPPORT and entry["level"] == "warning"
    assert f"Message-ID {forged_id}" in entry["message"]
    assert "dmarc=fail for contoso.example" in entry["message"]


def test_a_forged_staff_reply_threads_as_a_client_message(desk, graph, ticket):
    graph.add_message(SUPPORT, from_internet(make_mail(
        subject="Re: Printer on fire", sender=f"Andy <{AGENT}>", body="Forged.",
        in_reply_to=f"<{ticket.source_key}>")[0], dmarc="none"))

    assert fetch_all(desk)[0].threaded == 1

    entries = desk.tickets.entries(ticket.number)
    assert [e.type for e in entries] == ["message", "message"]
    assert desk.tickets.get(ticket.number).status.value == "open"
    assert len(_alerts(desk)) == 1
    assert len(_syslog(STAFF_SPOOF)) == 1


def test_a_spoofed_support_address_is_discarded_not_ignored(desk, graph):
    graph.add_message(SUPPORT, from_internet(make_mail(sender=f"Support <{SUPPORT}>")[0],
                                             spf="fail", dkim="none", dmarc="fail"))
    graph.add_message(SUPPORT, sent_inside(make_mail(sender=f"Support <{SUPPORT}>")[0]))

    [summary] = fetch_all(desk)

    assert (summary.discarded, summary.ignored, summary.created) == (1, 1, 0)
    assert desk.tickets.list() == []
    [entry] = _syslog(HELPDESK_SPOOF)
    assert f"claims From {SUPPORT}" in entry["message"] and "discarded" in entry["message"]
    [discarded] = _syslog("Mail discarded")
    assert f"spoofed helpdesk address {SUPPORT}" in discarded["message"]
    assert all(m["isRead"] for m in graph.messages(SUPPORT))
