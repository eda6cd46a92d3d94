"""Staff actions and the SLA check: ticket changes and the notifications they queue."""
from __future__ import annotations

from datetime import timedelta

import pytest

from shared_code.adapters.names import OUTBOUND_MAIL
from shared_code.services.actions import check_overdue
from shared_code.services.fetch import fetch_all

from tests.fakes.exchange import sent_inside

from .helpers import SUPPORT, make_mail, run_cli

AGENT, MANAGER = "agent@contoso.example", "boss@contoso.example"


@pytest.fixture
def ticket(desk, graph):
    """A ticket from a client mail, with the Support and Billing departments and two staff."""
    for args in (["departments", "add", "Support", "--manager", MANAGER, "--alert-recipients",
                  f"{MANAGER},{AGENT}", "--sla-hours", "4"],
                 ["departments", "add", "Billing", "--alert-recipients", "billing-lead@contoso.example"],
                 ["staff", "add", "--name", "Andy Agent", "--email", AGENT, "--department", "Support"],
                 ["staff", "add", "--name", "Bea Boss", "--email", MANAGER, "--department", "Support"]):
        assert run_cli(*args)[0] == 0
    raw, message_id = make_mail()
    graph.add_message(SUPPORT, raw)
    fetch_all(desk)
    [created] = desk.tickets.list()
    created.client_message_id = message_id
    return created


def _queued(desk, template):
    return [n for n in desk.queues.peek_notifications(OUTBOUND_MAIL) if n["template"] == template]


def test_reply_adds_a_response_and_queues_the_mail(desk, graph, ticket):
    code, out = run_cli("tickets", "reply", ticket.number, "--staff", AGENT, "--text",
                        "Please switch it off.", "--json")
    assert code == 0
    entries = desk.tickets.entries(ticket.number)
    assert [e.type for e in entries] == ["message", "response"]
    assert entries[1].sender.email == AGENT and entries[1].message_id == out["message_id"]
    [notification] = _queued(desk, "response")
    assert notification["recipient"] == {"role": "client"}
    assert notification["message_id"] == out["message_id"]
    assert notification["in_reply_to"] == ticket.client_message_id
    assert notification["actor"]["email"] == AGENT
    # the client's answer to that mail threads by In-Reply-To alone
    answer, _ = make_mail(subject="Re: something else", in_reply_to=f"<{out['message_id']}>")
    graph.add_message(SUPPORT, answer)
    assert fetch_all(desk)[0].threaded == 1


def test_reply_by_someone_not_staff_is_refused(desk, ticket, capsys):
    assert run_cli("tickets", "reply", ticket.number, "--staff", "who@example.net", "--text", "x")[0] == 1
    assert "not an active staff member" in capsys.readouterr().err


def test_staff_mail_starting_with_note_on_a_ticket_is_an_internal_note(desk, graph, ticket):
    run_cli("tickets", "close", ticket.number)
    graph.add_message(SUPPORT, sent_inside(make_mail(subject=f"[#{ticket.number}] internal detail",
                                                     sender=f"Andy <{AGENT}>",
                                                     body="#note\nInternal detail.")[0]))
    assert fetch_all(desk)[0].threaded == 1
    entries = desk.tickets.entries(ticket.number)
    assert [e.type for e in entries] == ["message", "note"]
    fresh = desk.tickets.get(ticket.number)
    assert (fresh.status.value, fresh.message_count) == ("closed", 1)
    assert AGENT not in fresh.collaborators
    assert _queued(desk, "new_message_alert") == []


def test_assign_transfer_close(desk, ticket):
    assert run_cli("tickets", "assign", ticket.number, "--staff", AGENT, "--by", MANAGER)[0] == 0
    [assignment] = _queued(desk, "assignment_alert")
    assert assignment["recipient"] == {"role": "staff", "email": AGENT, "name": "Andy Agent"}
    assert assignment["actor"]["email"] == MANAGER

    assert run_cli("tickets", "transfer", ticket.number, "--department", "Billing")[0] == 0
    [transfer] = _queued(desk, "transfer_alert")
    assert (transfer["department"], transfer["previous_department"]) == ("Billing", "Support")

    assert run_cli("tickets", "close", ticket.number)[0] == 0
    shown = run_cli("tickets", "show", ticket.number, "--json")[1]
    assert (shown["status"], shown["department"], shown["assignee"]) == ("closed", "Billing", AGENT)
    assert len(_queued(desk, "ticket_closed")) == 1
    assert run_cli("tickets", "close", ticket.number)[0] == 1


def test_overdue_alert_once_per_breach(desk, graph, ticket):
    later = ticket.last_message_at + timedelta(hours=5)  # a controlled `now`, past the 4 h SLA
    assert [t.number for t in check_overdue(desk, now=later)] == [ticket.number]
    assert check_overdue(desk, now=later + timedelta(minutes=5)) == []
    [alert] = _queued(desk, "overdue_alert")
    assert alert["recipient"] == {"role": "assignee_and_manager"}
    # a new client message starts the clock again: a later breach alerts again
    asked_again = _client_writes_again(desk, graph, ticket)
    assert check_overdue(desk, now=asked_again + timedelta(hours=1)) == []
    assert len(check_overdue(desk, now=asked_again + timedelta(hours=4, minutes=10))) == 1
    assert len(_queued(desk, "overdue_alert")) == 2


def test_closed_tickets_are_never_overdue(desk, ticket):
    run_cli("tickets", "close", ticket.number)
    assert check_overdue(desk, now=ticket.last_message_at + timedelta(days=30)) == []


def test_retrying_a_request_does_the_work_once(desk, ticket):
    for _ in range(2):
        code, out = run_cli("tickets", "reply", ticket.number, "--staff", AGENT, "--text", "Done.",
                            "--request-id", "req-1", "--json")
        assert code == 0
        assert run_cli("tickets", "close", ticket.number, "--request-id", "req-2")[0] == 0
    assert [e.type for e in desk.tickets.entries(ticket.number)] == ["message", "response"]
    # a retry queues the same notification again; the sender sends each id once
    assert len({n["id"] for n in _queued(desk, "response")}) == 1
    assert len({n["id"] for n in _queued(desk, "ticket_closed")}) == 1
    rows = desk.tickets.notification_rows(ticket.number)
    assert sorted(r["template"] for r in rows if r["template"] in ("response", "ticket_closed")) == [
        "response", "ticket_closed"]
    # a different request is new work
    run_cli("tickets", "reply", ticket.number, "--staff", AGENT, "--text", "Done.")
    assert len({n["id"] for n in _queued(desk, "response")}) == 2


# --- the SLA clock follows the conversation: a response stops it, a client message restarts it

def _client_writes_again(desk, graph, ticket):
    graph.add_message(SUPPORT, make_mail(subject="Re: x", in_reply_to=f"<{ticket.client_message_id}>")[0])
    assert fetch_all(desk)[0].threaded == 1
    return desk.tickets.get(ticket.number).last_message_at


def test_a_ticket_answered_in_time_gets_no_overdue_alert(desk, ticket):
    assert run_cli("tickets", "reply", ticket.number, "--staff", AGENT, "--text", "On it.")[0] == 0
    for hours in (5, 50):
        assert check_overdue(desk, now=ticket.last_message_at + timedelta(hours=hours)) == []
    assert _queued(desk, "overdue_alert") == []
    shown = run_cli("tickets", "show", ticket.number, "--json")[1]
    assert (shown["sla"]["state"], shown["sla"]["due"]) == ("answered", None)
    assert shown["sla"]["text"] == "answered, waiting on client"
    assert "SLA: answered, waiting on client" in run_cli("tickets", "show", ticket.number)[1]
    [listed] = run_cli("tickets", "list", "--json")[1]
    assert listed["sla"]["state"] == "answered"
    assert " answered " in run_cli("tickets", "list")[1].splitlines()[1]


def test_a_new_client_message_after_the_answer_restarts_the_clock(desk, graph, ticket):
    run_cli("tickets", "reply", ticket.number, "--staff", AGENT, "--text", "On it.")
    asked_again = _client_writes_again(desk, graph, ticket)
    shown = run_cli("tickets", "show", ticket.number, "--json")[1]
    assert shown["sla"]["state"] == "running"
    assert shown["sla"]["due"] == (asked_again + timedelta(hours=4)).isoformat()
    assert f" due {asked_again + timedelta(hours=4):%m-%d %H:%M} " in run_cli("tickets", "list")[1]
    assert check_overdue(desk, now=asked_again + timedelta(hours=3)) == []
    assert [t.number for t in check_overdue(desk, now=asked_again + timedelta(hours=5))] == [ticket.number]
    assert check_overdue(desk, now=asked_again + timedelta(hours=6)) == []
    assert len(_queued(desk, "overdue_alert")) == 1


def test_an_internal_note_does_not_stop_the_clock(desk, graph, ticket):
    graph.add_message(SUPPORT, sent_inside(make_mail(subject=f"[#{ticket.number}] looking into it",
                                                     sender=f"Andy <{AGENT}>",
                                                     body="#note\nLooking into it.")[0]))
    assert fetch_all(desk)[0].threaded == 1
    assert [e.type for e in desk.tickets.entries(ticket.number)] == ["message", "note"]
    later = ticket.last_message_at + timedelta(hours=5)
    assert [t.number for t in check_overdue(desk, now=later)] == [ticket.number]
    assert len(_queued(desk, "overdue_alert")) == 1


def test_a_late_answer_keeps_the_sent_alert_and_stops_further_ones(desk, graph, ticket):
    due = ticket.last_message_at + timedelta(hours=4)
    assert len(check_overdue(desk, now=due + timedelta(hours=1))) == 1
    run_cli("tickets", "reply", ticket.number, "--staff", AGENT, "--text", "Sorry for the wait.")
    assert check_overdue(desk, now=due + timedelta(days=3)) == []
    assert len(_queued(desk, "overdue_alert")) == 1  # the alert already queued stays
    assert run_cli("tickets", "show", ticket.number, "--json")[1]["sla"]["state"] == "answered"
    asked_again = _client_writes_again(desk, graph, ticket)
    assert len(check_overdue(desk, now=asked_again + timedelta(hours=5))) == 1
    assert len(_queued(desk, "overdue_alert")) == 2


def _long_id_thread(desk, ticket, count=20):
    """Client messages whose Message-IDs are 1,000 characters (Table Storage takes them)."""
    from dataclasses import replace

    [first] = desk.tickets.entries(ticket.number)
    for i in range(count):
        desk.tickets.add_entry(replace(first, entry_id=f"{first.entry_id}-{i:03d}",
                                       message_id=f"{i:03d}" + "x" * 990 + "@example.org"))


def test_a_reply_on_a_thread_of_long_message_ids_is_stored_with_its_mail(desk, ticket):
    _long_id_thread(desk, ticket)

    code, out = run_cli("tickets", "reply", ticket.number, "--staff", AGENT, "--text", "On it.",
                        "--json")

    assert code == 0
    responses = [e for e in desk.tickets.entries(ticket.number) if e.type == "response"]
    [notification] = _queued(desk, "response")  # never a response entry without its mail
    assert [e.message_id for e in responses] == [out["message_id"]] == [notification["message_id"]]
    assert notification["references"][-1].startswith("019xxx")  # the newest are kept
    assert all(len(ref) < 300 for ref in notification["references"])


def test_an_oversize_reply_is_refused_before_anything_is_written(desk, ticket, capsys):
    from shared_code.domain.limits import MAX_REPLY_CHARS

    code, _ = run_cli("tickets", "reply", ticket.number, "--staff", AGENT,
                      "--text", "y" * (MAX_REPLY_CHARS + 1))

    assert code == 1
    assert f"at most {MAX_REPLY_CHARS} characters" in capsys.readouterr().err
    assert [e.type for e in desk.tickets.entries(ticket.number)] == ["message"]
    assert _queued(desk, "response") == []


def test_a_staff_name_that_could_not_fit_a_notification_is_refused(desk, ticket, capsys):
    code, _ = run_cli("staff", "add", "--name", "Z" * 10_000, "--email", "zed@contoso.example",
                      "--department", "Support")

    assert code == 1
    assert "staff name may be at most" in capsys.readouterr().err


# --- each action is one unit of work in the ticket's partition (issue 7 §1)

class _RacingStore:
    """Wraps the real store: another writer changes the ticket right before the first write."""

    def __init__(self, store, other_writer):
        self._store, self._other, self.results = store, other_writer, []

    def __getattr__(self, name):
        return getattr(self._store, name)

    def write(self, unit):
        other, self._other = self._other, None
        if other:
            other()
        result = self._store.write(unit)
        self.results.append(result)
        return result


def test_an_action_racing_another_writer_rereads_and_keeps_both_changes(desk, ticket):
    from shared_code.adapters.ticket_store import UnitResult
    from shared_code.services import actions

    def transfer_meanwhile():
        other = desk.tickets.get(ticket.number)
        other.department = "Billing"
        assert desk.tickets.update(other)

    racing = _RacingStore(desk.tickets, transfer_meanwhile)
    desk.__dict__["tickets"] = racing

    assigned = actions.assign(desk, ticket.number, AGENT)

    assert racing.results == [UnitResult.CONFLICT, UnitResult.STORED]
    stored = desk.tickets.get(ticket.number)
    assert (stored.assignee, stored.department) == (AGENT, "Billing") == (
        assigned.assignee, assigned.department)
    [row] = [r for r in desk.tickets.notification_rows(ticket.number)
             if r["template"] == "assignment_alert"]
    assert row["state"] == "queued"
    assert len(_queued(desk, "assignment_alert")) == 1


def test_a_reply_stores_its_entry_mail_and_stopped_clock_together(desk, ticket):
    from shared_code.domain.notifications import parse_outbound_id
    from shared_code.services import actions

    entry = actions.reply(desk, ticket.number, AGENT, "Switch it off.", request_id="r-1")
    again = actions.reply(desk, ticket.number, AGENT, "Switch it off.", request_id="r-1")

    stored = desk.tickets.get(ticket.number)
    assert again.entry_id == entry.entry_id  # the retry returns the stored entry
    assert stored.answered_for == ticket.last_message_entry  # the client message is answered
    assert stored.answered_at == entry.date
    assert parse_outbound_id(entry.message_id) == (ticket.number, stored.thread_token)
    assert [e.type for e in desk.tickets.entries(ticket.number)] == ["message", "response"]
    [row] = [r for r in desk.tickets.notification_rows(ticket.number) if r["template"] == "response"]
    assert f'"response_entry_id": "{entry.entry_id}"' in row["notification"]
    assert desk.index.get(entry.message_id) is None  # outbound ids are not indexed
