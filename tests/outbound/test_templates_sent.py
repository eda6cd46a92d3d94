"""Each of the eight templates fires from its event, end to end: Graph fake → fetch → queue →
`send` → Graph sendMail, and the MIME that left is checked (account, recipients, subject tag,
headers, escaped values, threading)."""
from __future__ import annotations

from datetime import timedelta

from shared_code.domain.notifications import parse_outbound_id
from shared_code.services import actions
from shared_code.services.fetch import fetch_all
from shared_code.services.outbound_queue import drain_outbound

from . import (  # noqa: F401  (desk is a fixture)
    AGENT, ALERTS, AUTO, BOSS, CLIENT, SUPPORT, SYSTEM, body, desk, make_mail, new_ticket, sent,
)

DOMAIN = "@desk.contoso.example>"


def _addresses(msg, header="To"):
    return sorted(a.addr_spec for a in msg[header].addresses)


def _only(graph, prefix: str):
    """The one sent mail whose subject (after the tag) starts with `prefix`."""
    found = [(box, msg) for box, msg in sent(graph) if str(msg["Subject"]).split("] ", 1)[1].startswith(prefix)]
    assert len(found) == 1, [str(m["Subject"]) for _, m in sent(graph)]
    return found[0]


def _outcomes(results):
    return sorted((r.template, r.outcome) for r in results)


def test_new_ticket_sends_the_auto_response_and_the_alert(desk, graph):
    ticket, client_id = new_ticket(desk, graph, subject="Invoice <b>urgent</b> & more",
                                   body="Total is <script>alert(1)</script> & wrong")
    results = drain_outbound(desk)

    assert _outcomes(results) == [("new_ticket_alert", "sent"), ("new_ticket_auto_response", "sent")]
    box, auto = _only(graph, "Re: Invoice")
    assert box == AUTO
    assert auto["From"].addresses[0].addr_spec == AUTO
    assert _addresses(auto) == [CLIENT]
    assert auto["Subject"] == f"[#{ticket.number}] Re: Invoice <b>urgent</b> & more"
    assert auto["Auto-Submitted"] == "auto-replied"
    assert auto["X-Auto-Response-Suppress"] == "All"
    assert auto["In-Reply-To"] == f"<{client_id}>"
    assert auto["References"] == f"<{client_id}>"
    assert auto["Message-ID"].endswith(DOMAIN)
    assert body(auto).startswith("-- reply above this line --\n")
    assert f"https://help.contoso.example/tickets.php?number={ticket.number}" in body(auto)

    box, alert = _only(graph, "New ticket:")
    assert box == ALERTS
    assert _addresses(alert) == [AGENT, BOSS]
    assert alert["Auto-Submitted"] == "auto-generated"
    # staff answer by replying to the alert (issue 10 §4): the separator cuts the alert off
    assert body(alert).startswith("-- reply above this line --\n")
    html = body(alert, "html")
    assert "Invoice &lt;b&gt;urgent&lt;/b&gt; &amp; more" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; wrong" in html
    assert "<script>" not in html and "<b>urgent" not in html
    assert "Total is <script>alert(1)</script> & wrong" in body(alert)
    # each Message-ID names the ticket and carries its token, so a reply to either threads
    # without an index row (domain/thread_match.py)
    token = desk.tickets.get(ticket.number).thread_token
    for msg in (auto, alert):
        assert parse_outbound_id(msg["Message-ID"]) == (ticket.number, token)


def test_client_reply_alerts_the_department_then_the_assignee(desk, graph):
    ticket, client_id = new_ticket(desk, graph)
    drain_outbound(desk)
    graph.sent.clear()

    reply, reply_id = make_mail(subject="Re: Printer on fire", body="Now it smokes.",
                                in_reply_to=f"<{client_id}>")
    graph.add_message(SUPPORT, reply)
    fetch_all(desk)
    assert _outcomes(drain_outbound(desk)) == [("new_message_alert", "sent")]
    box, alert = _only(graph, "New message:")
    assert (box, _addresses(alert)) == (ALERTS, [AGENT, BOSS])
    assert alert["In-Reply-To"] == f"<{reply_id}>"
    assert "Now it smokes." in body(alert)

    actions.assign(desk, ticket.number, AGENT, by=BOSS)
    graph.add_message(SUPPORT, make_mail(subject="Re: Printer on fire", body="Hello?",
                                         in_reply_to=f"<{reply_id}>")[0])
    fetch_all(desk)
    graph.sent.clear()
    assert _outcomes(drain_outbound(desk)) == [("assignment_alert", "sent"),
                                               ("new_message_alert", "sent")]
    assert _addresses(_only(graph, "New message:")[1]) == [AGENT]


def test_staff_response_goes_from_the_department_account_threaded(desk, graph):
    ticket, client_id = new_ticket(desk, graph)
    drain_outbound(desk)
    graph.sent.clear()

    entry = actions.reply(desk, ticket.number, AGENT, "Please switch it off.\n<b>Then</b> on.")
    assert _outcomes(drain_outbound(desk)) == [("response", "sent")]
    box, mail = _only(graph, "Re: Printer on fire")
    assert box == SUPPORT
    assert mail["Subject"] == f"[#{ticket.number}] Re: Printer on fire"
    assert _addresses(mail) == [CLIENT]
    assert mail["Auto-Submitted"] is None
    assert mail["X-Auto-Response-Suppress"] == "All"
    assert mail["Message-ID"] == f"<{entry.message_id}>"
    assert mail["In-Reply-To"] == f"<{client_id}>"
    assert mail["References"] == f"<{client_id}>"
    text = body(mail)
    assert text.startswith("-- reply above this line --\n")
    assert "Please switch it off.\n<b>Then</b> on." in text and "Andy Agent" in text
    assert "&lt;b&gt;Then&lt;/b&gt; on." in body(mail, "html")
    token = desk.tickets.get(ticket.number).thread_token
    assert parse_outbound_id(entry.message_id) == (ticket.number, token)
    assert [e.entry_id for e in desk.tickets.entries(ticket.number)
            if e.message_id == entry.message_id] == [entry.entry_id]


def test_assignment_transfer_close_and_overdue(desk, graph):
    ticket, _ = new_ticket(desk, graph)
    drain_outbound(desk)
    graph.sent.clear()

    actions.assign(desk, ticket.number, AGENT, by=BOSS)
    actions.transfer(desk, ticket.number, "Billing", by=AGENT)
    actions.check_overdue(desk, now=ticket.created + timedelta(hours=25))
    actions.close(desk, ticket.number, by=AGENT)
    assert _outcomes(drain_outbound(desk)) == [
        ("assignment_alert", "sent"), ("overdue_alert", "sent"), ("ticket_closed", "sent"),
        ("transfer_alert", "sent")]

    box, assigned = _only(graph, "Assigned to Andy Agent")
    assert (box, _addresses(assigned)) == (ALERTS, [AGENT])
    assert assigned["Auto-Submitted"] == "auto-generated"
    assert "Bea Boss" in body(assigned)  # who assigned it

    box, moved = _only(graph, "Transferred to Billing")
    assert (box, _addresses(moved)) == (ALERTS, [BOSS])  # Billing's manager
    assert "from Support to Billing" in body(moved)

    box, overdue = _only(graph, "Overdue:")
    assert (box, _addresses(overdue)) == (ALERTS, [AGENT, BOSS])  # assignee and manager
    assert "more than 24 hours" in body(overdue)  # Billing's default SLA

    box, closed = _only(graph, "Closed:")
    assert box == SYSTEM  # Billing has no account of its own: the system account sends
    assert _addresses(closed) == [CLIENT]
    assert closed["Auto-Submitted"] == "auto-generated"
    assert body(closed).startswith("-- reply above this line --\n")
    assert all(m["Subject"].startswith(f"[#{ticket.number}] ") for _, m in sent(graph))
    assert len({m["Message-ID"] for _, m in sent(graph)}) == 4


def test_a_department_template_is_used_with_the_thread_it_shows(desk, graph):
    from shared_code.adapters.template_store import TemplateStore
    from shared_code.domain.templates import Template

    TemplateStore(desk.connection).set("new_ticket_auto_response", Template(
        subject="We got it: %{ticket.subject}",
        html="<p>You wrote: %{ticket.lastMessage}</p>",
        text="You wrote: %{ticket.lastMessage}\n%{url}"), department="Support")
    ticket, _ = new_ticket(desk, graph, body="Paper <jam> again")
    drain_outbound(desk)
    box, mail = _only(graph, "We got it:")
    assert box == AUTO
    assert mail["Subject"] == f"[#{ticket.number}] We got it: Printer on fire"
    assert "You wrote: Paper <jam> again" in body(mail)
    assert "You wrote: Paper &lt;jam&gt; again" in body(mail, "html")
