"""Oversize and degenerate mail end to end (issue 6 §3): Graph fake → fetch → pipeline →
Azurite → outbound queue → send. Each mail ends as a ticket with its alert sent, or is
discarded with a named reason; never a ticket without a client, never a stored ticket whose
mail is reported quarantined, never a claim left at "claimed"."""
from __future__ import annotations

from email.message import EmailMessage

import pytest

from shared_code.domain.limits import utf16_len
from shared_code.services.fetch import fetch_all
from shared_code.services.outbound_queue import drain_outbound
from tests.outbound import CLIENT, SUPPORT, desk, sent_with  # noqa: F401  (desk is a fixture)

from .helpers import make_mail, run_cli


def _fetch_one(desk, graph, raw):
    graph_id = graph.add_message(SUPPORT, raw)
    [summary] = fetch_all(desk)
    row = desk.ledger.get(SUPPORT, graph_id)
    return summary, row


def _assert_ticket_with_alert_sent(desk, graph, summary, row):
    assert summary.errors == [] and summary.quarantined == 0, summary
    assert (summary.created, row["outcome"]) == (1, "created"), row
    [ticket] = desk.tickets.list()
    assert ticket.client.email == CLIENT
    assert ticket.client_first_seen is not None  # the client snapshot is on the ticket
    # stored whole: the marker of its Message-ID is in the ticket's partition
    assert desk.tickets.marker(ticket.number, row["message_id"]) is not None
    results = drain_outbound(desk)
    assert sorted((r.template, r.outcome) for r in results) == [
        ("new_ticket_alert", "sent"), ("new_ticket_auto_response", "sent")]
    assert len(sent_with(desk and graph, "New ticket:")) == 1
    return ticket


def _shown(number):
    code, shown = run_cli("tickets", "show", number, "--json")
    assert code == 0
    return shown


def test_a_10000_character_display_name_is_clipped_and_alerted(desk, graph):
    name = "N" * 10_000
    raw, _ = make_mail(sender=f"{name} <{CLIENT}>")
    summary, row = _fetch_one(desk, graph, raw)
    ticket = _assert_ticket_with_alert_sent(desk, graph, summary, row)
    assert ticket.client.name.startswith("NNNN") and utf16_len(ticket.client.name) < 1000
    [entry] = _shown(ticket.number)["entries"]
    assert "sender.name" in entry["clipped"]
    assert entry["from"]["name"].endswith("[clipped]")


def test_a_40000_character_message_id_is_clipped_and_alerted(desk, graph):
    message_id = "<" + "m" * 40_000 + "@example.org>"
    raw, _ = make_mail(message_id=message_id)
    summary, row = _fetch_one(desk, graph, raw)
    ticket = _assert_ticket_with_alert_sent(desk, graph, summary, row)
    [entry] = _shown(ticket.number)["entries"]
    assert entry["message_id"].startswith("mmmm") and len(entry["message_id"]) < 1000
    assert "message_id" in entry["clipped"]
    # a second delivery of the same mail is a duplicate, not a second ticket
    graph.add_message(SUPPORT, raw)
    assert fetch_all(desk)[0].duplicates == 1
    # a reply quoting the whole id still finds the ticket (the id is clipped the same way)
    answer, _ = make_mail(subject="Re: something")
    answer = answer.replace(b"\nTo:", f"\nIn-Reply-To: {message_id}\nTo:".encode(), 1)
    graph.add_message(SUPPORT, answer)
    assert fetch_all(desk)[0].threaded == 1


def test_a_references_header_of_2000_ids_is_clipped_and_alerted(desk, graph):
    references = " ".join(f"<ref{i:05d}.{'r' * 40}@example.org>" for i in range(2000))
    raw, _ = make_mail(references=references)
    summary, row = _fetch_one(desk, graph, raw)
    ticket = _assert_ticket_with_alert_sent(desk, graph, summary, row)
    [entry] = _shown(ticket.number)["entries"]
    assert "references" in entry["clipped"]


def test_a_100000_character_subject_is_clipped_and_alerted(desk, graph):
    raw, _ = make_mail(subject="S" * 100_000)
    summary, row = _fetch_one(desk, graph, raw)
    ticket = _assert_ticket_with_alert_sent(desk, graph, summary, row)
    assert ticket.subject.startswith("SSSS") and ticket.subject.endswith("[clipped]")
    [entry] = _shown(ticket.number)["entries"]
    assert "subject" in entry["clipped"]


def test_a_mail_with_1000_attachments_is_a_ticket_with_one_log_entry(desk, graph):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = f"Ann Client <{CLIENT}>", SUPPORT, "Many files"
    msg["Message-ID"] = "<many-files@example.org>"
    msg.set_content("See attached.")
    for i in range(1000):
        msg.add_attachment(f"file {i}".encode(), maintype="application", subtype="octet-stream",
                           filename=f"file{i:04d}.bin")
    summary, row = _fetch_one(desk, graph, msg.as_bytes())
    ticket = _assert_ticket_with_alert_sent(desk, graph, summary, row)
    logged = [e for e in desk.syslog.list(limit=2000) if e["title"] == "Attachment not stored"]
    assert len(logged) == 1  # one entry listing them, not one per attachment
    assert logged[0]["message"].startswith("448 attachments of mail many-files@example.org")
    assert "file0050.bin" in logged[0]["message"] and logged[0]["message"].endswith("more")
    [entry] = _shown(ticket.number)["entries"]
    assert len(entry["attachments"]) == 50 and len(entry["rejected_attachments"]) == 100
    assert entry["defects"] == ["more than 500 MIME parts: the rest was ignored"]
    assert "rejected_attachments" in entry["clipped"]


def test_a_0_byte_mail_is_discarded_with_a_reason(desk, graph):
    summary, row = _fetch_one(desk, graph, b"")
    assert (summary.discarded, summary.created, summary.quarantined, summary.errors) == (1, 0, 0, [])
    assert row["outcome"] == "discarded" and "no sender" in row["reason"]
    assert desk.tickets.list() == []
    assert any("no sender" in e["message"] for e in desk.syslog.list() if e["title"] == "Mail discarded")


def test_a_mail_without_from_is_discarded_with_a_reason(desk, graph):
    raw, _ = make_mail()
    raw = b"\n".join(line for line in raw.split(b"\n") if not line.startswith(b"From:"))
    summary, row = _fetch_one(desk, graph, raw)
    assert (summary.discarded, summary.created, summary.quarantined, summary.errors) == (1, 0, 0, [])
    assert row["outcome"] == "discarded" and "no sender" in row["reason"]
    assert desk.tickets.list() == []


def test_an_entry_with_a_thousand_escaped_defects_is_stored_clipped(desk):
    from datetime import datetime, timezone

    from shared_code.domain.model import Entry, Party

    entry = Entry(ticket_number="123456", entry_id="e1", type="message",
                  sender=Party("Ann", CLIENT), message_id="m@example.org",
                  date=datetime.now(timezone.utc), subject="s", body_text="b", body_html="",
                  defects=[f"defect {i} " + "\x01" * 300 for i in range(1000)],
                  rejected_attachments=[f"file{i}.bin was not stored" for i in range(1000)],
                  clipped=["subject"])

    desk.tickets.add_entry(entry)  # JSON-escaped, 100 x 300 control characters would not fit

    [stored] = desk.tickets.entries("123456")
    assert stored.clipped == ["subject"]
    assert stored.defects[0].startswith("defect 0") and stored.defects[-1].endswith("more")
    assert len(stored.rejected_attachments) == 100
    assert stored.rejected_attachments[-1] == "… and 901 more"
