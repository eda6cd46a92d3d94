"""A client's reply to a sent notification comes back into the same ticket: by In-Reply-To
alone, by the subject tag alone when headers are stripped, and cut at the reply separator."""
from __future__ import annotations

from email.message import EmailMessage

from shared_code.services.fetch import fetch_all
from shared_code.services.outbound_queue import drain_outbound

from . import AUTO, CLIENT, SUPPORT, body, desk, new_ticket, sent  # noqa: F401  (desk is a fixture)


def _auto_response(desk, graph):
    ticket, _ = new_ticket(desk, graph)
    drain_outbound(desk)
    [(_, mail)] = [(box, m) for box, m in sent(graph) if box == AUTO]
    return ticket, mail


def _reply(original: EmailMessage, *, subject: str, text: str, threading: bool) -> bytes:
    """What a mail program sends when the client answers `original`."""
    msg = EmailMessage()
    msg["From"] = f"Ann Client <{CLIENT}>"
    msg["To"] = str(original["From"])
    msg["Subject"] = subject
    msg["Message-ID"] = "<reply-1@example.org>"
    if threading:  # only our Message-ID: the client's first mail is not referenced
        msg["In-Reply-To"] = str(original["Message-ID"])
    msg.set_content(text)
    return msg.as_bytes()


def test_reply_to_the_auto_response_threads_by_in_reply_to(desk, graph):
    ticket, mail = _auto_response(desk, graph)
    quoted = body(mail)  # pasted below the answer without quote markers, as some clients do
    graph.add_message(SUPPORT, _reply(mail, subject="a completely new subject",
                                      text=f"Here is the serial number: 4711.\n\n{quoted}",
                                      threading=True))
    [summary] = fetch_all(desk)
    assert (summary.created, summary.threaded) == (0, 1)
    assert len(desk.tickets.list()) == 1
    entries = desk.tickets.entries(ticket.number)
    assert [e.type for e in entries] == ["message", "message"]
    assert entries[-1].body_text == "Here is the serial number: 4711."


def test_reply_with_headers_stripped_threads_by_the_subject_tag(desk, graph):
    ticket, mail = _auto_response(desk, graph)
    graph.add_message(SUPPORT, _reply(mail, subject=f"RE: {mail['Subject']}",
                                      text="Still broken.", threading=False))
    [summary] = fetch_all(desk)
    assert (summary.created, summary.threaded) == (0, 1)
    assert [e.body_text for e in desk.tickets.entries(ticket.number)][-1] == "Still broken."


def test_a_stranger_using_the_tag_gets_a_ticket_of_their_own(desk, graph):
    ticket, mail = _auto_response(desk, graph)
    stranger = _reply(mail, subject=str(mail["Subject"]), text="Me too!", threading=False)
    stranger = stranger.replace(CLIENT.encode(), b"eve@example.net")
    graph.add_message(SUPPORT, stranger)
    [summary] = fetch_all(desk)
    assert (summary.created, summary.threaded) == (1, 0)
    assert len(desk.tickets.entries(ticket.number)) == 1
