"""Collaborators from Cc (issue 10 §3), end to end: Graph fake → fetch → Azurite → the
outbound queue → sendMail on the Graph fake, whose sent MIME the tests read."""
from __future__ import annotations

import pytest

from shared_code.services.fetch import fetch_all
from shared_code.services.outbound_queue import drain_outbound

from .helpers import SUPPORT, add_support_staff, make_mail, run_cli, sent_mails

AGENT = "agent@contoso.example"
ANN, BOB, CAROL = "ann@example.org", "bob@example.org", "carol@example.org"


@pytest.fixture
def staffed(desk):
    add_support_staff(AGENT)
    return desk


def _client_mail(desk, graph, **kwargs):
    """A client's mail to support with Bob on To, Carol, a staff member and ourselves on Cc."""
    cc = kwargs.pop("cc", f"Carol <{CAROL}>, {AGENT}, {SUPPORT}, Carol Again <CAROL@example.org>")
    raw, message_id = make_mail(to=f"{SUPPORT}, Bob <{BOB}>", headers={"Cc": cc}, **kwargs)
    graph.add_message(SUPPORT, raw)
    fetch_all(desk)
    return message_id


def _responses(graph, text: str) -> list:
    return [m for m in sent_mails(graph) if text in m.get_body(("plain",)).get_content()]


def _ticket(desk):
    [ticket] = desk.tickets.list()
    return ticket


def _reply(number: str, text: str) -> None:
    assert run_cli("tickets", "reply", number, "--staff", AGENT, "--text", text)[0] == 0


def test_to_and_cc_of_a_client_mail_become_collaborators_but_not_staff_or_ours(staffed, graph):
    _client_mail(staffed, graph)
    ticket = _ticket(staffed)
    assert ticket.collaborators == [BOB, CAROL]  # deduplicated; not the staff member, not ours
    code, shown = run_cli("tickets", "show", ticket.number, "--json")
    assert code == 0 and shown["collaborators"] == [BOB, CAROL]


def test_a_response_has_the_collaborators_on_cc_and_the_auto_response_does_not(staffed, graph):
    _client_mail(staffed, graph)
    ticket = _ticket(staffed)
    drain_outbound(staffed, release_after=0)  # the auto-response and the staff alert
    assert all(m["Cc"] is None for m in sent_mails(graph))
    assert not any(BOB in str(m["To"]) or CAROL in str(m["To"]) for m in sent_mails(graph))
    graph.sent.clear()
    _reply(ticket.number, "Please switch it off.")
    drain_outbound(staffed, release_after=0)
    [mail] = _responses(graph, "Please switch it off.")
    assert ANN in str(mail["To"])
    assert sorted(a.addr_spec for a in mail["Cc"].addresses) == [BOB, CAROL]


def test_separate_delivery_sends_one_mail_to_each_collaborator(staffed, graph):
    assert run_cli("emails", "update", SUPPORT, "--collaborator-delivery", "separate")[0] == 0
    _client_mail(staffed, graph)
    ticket = _ticket(staffed)
    drain_outbound(staffed, release_after=0)
    graph.sent.clear()
    _reply(ticket.number, "Please switch it off.")
    drain_outbound(staffed, release_after=0)
    mails = _responses(graph, "Please switch it off.")
    assert sorted(a.addr_spec for m in mails for a in m["To"].addresses) == [ANN, BOB, CAROL]
    assert len(mails) == 3 and all(m["Cc"] is None for m in mails)
    assert len({m["Message-ID"] for m in mails}) == 3  # each its own, each threads back
    assert all(f"[#{ticket.number}]" in m["Subject"] for m in mails)


def test_a_collaborators_reply_with_only_the_subject_tag_threads_in(staffed, graph):
    _client_mail(staffed, graph)
    ticket = _ticket(staffed)
    raw, _ = make_mail(subject=f"Re: [#{ticket.number}] Printer on fire", sender=f"Bob <{BOB}>",
                       body="Mine is on fire too.")
    graph.add_message(SUPPORT, raw)
    assert fetch_all(staffed)[0].threaded == 1
    assert [e.sender.email for e in staffed.tickets.entries(ticket.number)] == [ANN, BOB]


def test_a_strangers_subject_tag_is_still_refused(staffed, graph):
    _client_mail(staffed, graph)
    ticket = _ticket(staffed)
    raw, _ = make_mail(subject=f"Re: [#{ticket.number}] Printer on fire",
                       sender="Mallory <mallory@example.net>", body="Let me in.")
    graph.add_message(SUPPORT, raw)
    fetch_all(staffed)
    assert len(staffed.tickets.list()) == 2  # a new ticket, not a message on Ann's
    assert [e.sender.email for e in staffed.tickets.entries(ticket.number)] == [ANN]


def test_a_clients_reply_adds_its_new_cc_and_a_staff_mail_adds_none(staffed, graph):
    _client_mail(staffed, graph, cc=f"Carol <{CAROL}>")
    ticket = _ticket(staffed)
    raw, _ = make_mail(subject=f"Re: [#{ticket.number}] Printer on fire",
                       headers={"Cc": "Dave <dave@example.org>"})
    graph.add_message(SUPPORT, raw)
    assert fetch_all(staffed)[0].threaded == 1
    assert staffed.tickets.get(ticket.number).collaborators == [BOB, CAROL, "dave@example.org"]


def test_with_the_setting_off_nobody_becomes_a_collaborator(staffed, graph):
    assert run_cli("emails", "update", SUPPORT, "--no-collaborators-from-cc")[0] == 0
    code, shown = run_cli("emails", "show", SUPPORT, "--json")
    assert code == 0 and shown["collaborators_from_cc"] is False
    _client_mail(staffed, graph)
    ticket = _ticket(staffed)
    assert ticket.collaborators == []
    graph.sent.clear()
    _reply(ticket.number, "Only for you.")
    drain_outbound(staffed, release_after=0)
    [mail] = _responses(graph, "Only for you.")
    assert mail["Cc"] is None


@pytest.mark.parametrize("delivery", ["cc", "separate"])
def test_a_removed_collaborator_is_not_mailed_nor_added_again(staffed, graph, delivery):
    assert run_cli("emails", "update", SUPPORT, "--collaborator-delivery", delivery)[0] == 0
    first_id = _client_mail(staffed, graph)
    ticket = _ticket(staffed)
    drain_outbound(staffed, release_after=0)
    _reply(ticket.number, "Queued before the removal.")  # resolved when it is sent
    code, shown = run_cli("tickets", "remove-collaborator", ticket.number, BOB, "--json")
    assert code == 0 and shown["collaborators"] == [CAROL]
    graph.sent.clear()
    drain_outbound(staffed, release_after=0)
    mails = _responses(graph, "Queued before the removal.")
    mailed = {a.addr_spec for m in mails for h in ("To", "Cc") if m[h] for a in m[h].addresses}
    assert mailed == {ANN, CAROL}
    # the client answers all, Bob still on Cc: he stays removed
    raw, _ = make_mail(subject=f"Re: [#{ticket.number}] Printer on fire", headers={"Cc": BOB})
    graph.add_message(SUPPORT, raw)
    assert fetch_all(staffed)[0].threaded == 1
    assert staffed.tickets.get(ticket.number).collaborators == [CAROL]
    # nor when he answers the thread himself: his mail is on it, he is not added back
    raw, _ = make_mail(subject="Re: Printer on fire", sender=BOB, in_reply_to=f"<{first_id}>")
    graph.add_message(SUPPORT, raw)
    assert fetch_all(staffed)[0].threaded == 1
    assert staffed.tickets.get(ticket.number).collaborators == [CAROL]


def test_removing_someone_who_is_no_collaborator_is_an_error(staffed, graph, capsys):
    _client_mail(staffed, graph)
    ticket = _ticket(staffed)
    assert run_cli("tickets", "remove-collaborator", ticket.number, "nobody@example.org")[0] == 1
    assert "not a collaborator" in capsys.readouterr().err
    assert run_cli("tickets", "remove-collaborator", ticket.number, "not an address")[0] == 1
    assert "invalid email address" in capsys.readouterr().err
