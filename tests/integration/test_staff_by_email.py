"""Staff answer by email (issue 10 §4), end to end: a client's mail → the staff alert sent
through the Graph fake → the staff member's reply to it (stamped as Exchange would,
tests/fakes/exchange.py) fetched → the response mailed to the client (read from the fake's
sent MIME) and shown on the ticket."""
from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid

import pytest

from shared_code.services.fetch import fetch_all
from shared_code.services.outbound_queue import drain_outbound
from tests.fakes.exchange import from_internet, sent_inside
from tests.pipeline import SimulatedCrash, crash_at

from .helpers import SUPPORT, add_support_staff, make_mail, run_cli, sent_mails

AGENT = "agent@contoso.example"
ANN = "ann@example.org"
EVIL = "mallory@evil.example"
SYSTEM = "helpdesk@contoso.example"
BOB = "bob@example.org"
ALERT_TEXT = "wrote on ticket"  # the New Message/New Ticket alerts' own words
NEW_TICKET_TEXT = "A new ticket was opened"


OUTLOOK_HTML = """<html><body><div>Please unplug the printer.</div>
<div><br></div><div id="Signature"><p>Andy</p></div>
<div id="appendonsend"></div><hr style="display:inline-block;width:98%">
<div id="divRplyFwdMsg" dir="ltr"><b>From:</b> Contoso Support &lt;support@contoso.example&gt;<br>
<b>Sent:</b> Tuesday, December 1, 2026 02:00<br><b>Subject:</b> New ticket</div>
<div>A new ticket was opened in Support by Ann Client. Hello, the printer is on fire.</div>
</body></html>"""

GMAIL_HTML = """<div dir="ltr">Please unplug the printer.</div><br>
<div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Tue, Dec 1, 2026 at 2:00 AM
Contoso Support &lt;support@contoso.example&gt; wrote:<br></div>
<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex">A new ticket was opened in
Support by Ann Client. Hello, the printer is on fire.</blockquote></div>"""


def _text(mail) -> str:
    return mail.get_body(("plain",)).get_content()


def _to(mail) -> list[str]:
    return [a.addr_spec for a in mail["To"].addresses]


def _open_ticket(desk, graph, mailbox_app, **client_mail) -> tuple:
    """A client's ticket and the New Ticket Alert mailed to the agent from the (not fetched)
    system account, Reply-To support: (ticket, alert mail). The fake's sent list is cleared."""
    add_support_staff(AGENT)
    graph.add_mailbox(SYSTEM)
    assert run_cli("emails", "add", "--address", SYSTEM, "--name", "Contoso Helpdesk",
                   "--purpose", "system", "--department", "Support", "--no-fetch-enabled",
                   "--tenant-id", mailbox_app["tenant_id"], "--client-id", mailbox_app["client_id"],
                   "--client-secret-name", mailbox_app["client_secret_name"])[0] == 0
    graph.add_message(SUPPORT, make_mail(body="Hello, the printer is on fire.", **client_mail)[0])
    fetch_all(desk)
    drain_outbound(desk, release_after=0)
    [ticket] = desk.tickets.list()
    [mail] = [m for m in sent_mails(graph) if AGENT in _to(m)]
    assert [a.addr_spec for a in mail["Reply-To"].addresses] == [SUPPORT]
    graph.sent.clear()
    return ticket, mail


@pytest.fixture
def alert(desk, graph, mailbox_app):
    return _open_ticket(desk, graph, mailbox_app)


def _quoted_outlook_text(alert_mail) -> str:
    quoted = _text(alert_mail)
    return ("\n\n________________________________\nFrom: Contoso Support <support@contoso.example>\n"
            "Sent: Tuesday, December 1, 2026 02:00\nTo: Andy Agent <agent@contoso.example>\n"
            f"Subject: {alert_mail['Subject']}\n\n{quoted}")


def _staff_reply(alert_mail, body: str, *, threaded: bool = True, subject: str | None = None,
                 html: str | None = None, sender: str = f"Andy <{AGENT}>", headers=None) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = SUPPORT
    msg["Subject"] = subject or f"RE: {alert_mail['Subject']}"
    msg["Message-ID"] = make_msgid(domain="contoso.example")
    if threaded:
        msg["In-Reply-To"] = alert_mail["Message-ID"]
        msg["References"] = alert_mail["Message-ID"]
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


def _shown(number: str) -> dict:
    code, shown = run_cli("tickets", "show", number, "--json")
    assert code == 0
    return shown


def _fetch_and_send(desk, graph, raw: bytes) -> list:
    graph.add_message(SUPPORT, raw)
    [summary] = fetch_all(desk)
    assert summary.threaded == 1
    drain_outbound(desk, release_after=0)
    return sent_mails(graph)


def _assert_one_response_to_ann(mails: list, text: str) -> EmailMessage:
    [mail] = mails
    assert _to(mail) == [ANN]
    assert [a.addr_spec for a in mail["From"].addresses] == [SUPPORT]  # never the staff address
    body = _text(mail)
    assert text in body
    assert "Andy Agent" in body  # the Response/Reply template's %{staff.name}: the staff record
    assert ALERT_TEXT not in body and NEW_TICKET_TEXT not in body and "From: Contoso" not in body
    return mail


def test_a_staff_reply_to_the_alert_is_mailed_to_the_client_as_a_response(desk, graph, alert):
    ticket, alert_mail = alert
    raw = sent_inside(_staff_reply(alert_mail, "Please switch it off at the wall."
                                   + _quoted_outlook_text(alert_mail)))

    mail = _assert_one_response_to_ann(_fetch_and_send(desk, graph, raw),
                                       "Please switch it off at the wall.")

    assert mail["Message-ID"].strip("<>").startswith(f"dm.{ticket.number}.")
    assert f"[#{ticket.number}]" in mail["Subject"]
    shown = _shown(ticket.number)
    assert [e["type"] for e in shown["entries"]] == ["message", "response"]
    response = shown["entries"][1]
    assert response["from"] == {"name": "Andy Agent", "email": AGENT}
    assert "switch it off" in response["body_text"] and ALERT_TEXT not in str(response)
    assert NEW_TICKET_TEXT not in str(response)
    assert shown["status"] == "open" and shown["sla"]["state"] == "answered"
    [logged] = [r for r in run_cli("syslog", "--json")[1] if r["title"] == "Staff replied by email"]
    assert AGENT in logged["message"] and ticket.number in logged["message"]
    assert "switch it off" not in logged["message"]

    # the client's answer to the response threads into the ticket, and the agent hears of it
    graph.sent.clear()
    graph.add_message(SUPPORT, make_mail(subject=f"Re: {mail['Subject']}", body="Done, thanks.",
                                         in_reply_to=mail["Message-ID"])[0])
    assert fetch_all(desk)[0].threaded == 1
    drain_outbound(desk, release_after=0)
    assert [e.type for e in desk.tickets.entries(ticket.number)] == ["message", "response", "message"]
    assert [_to(m) for m in sent_mails(graph)] == [[AGENT]]


def test_a_staff_reply_by_the_subject_tag_alone_is_a_response(desk, graph, alert):
    ticket, alert_mail = alert
    raw = sent_inside(_staff_reply(alert_mail, "We are on our way.\n\n> quoted alert line\n",
                                   threaded=False, subject=f"Re: [#{ticket.number}] Printer on fire"))

    _assert_one_response_to_ann(_fetch_and_send(desk, graph, raw), "We are on our way.")

    assert [e.type for e in desk.tickets.entries(ticket.number)] == ["message", "response"]


def test_a_reply_starting_with_note_is_an_internal_note_and_mails_nobody(desk, graph, alert):
    ticket, alert_mail = alert
    html = OUTLOOK_HTML.replace("<div>Please unplug the printer.</div>",
                                "<div>#Note </div><div>Toner ordered, do not tell the client yet.</div>")
    raw = sent_inside(_staff_reply(alert_mail, "  #NOTE  \nToner ordered, do not tell the client yet."
                                   + _quoted_outlook_text(alert_mail), html=html))

    assert _fetch_and_send(desk, graph, raw) == []

    entries = desk.tickets.entries(ticket.number)
    assert [e.type for e in entries] == ["message", "note"]
    assert entries[1].body_text.strip() == "Toner ordered, do not tell the client yet."
    assert "#note" not in entries[1].body_text.lower()
    assert "#note" not in entries[1].body_html.lower() and "Toner ordered" in entries[1].body_html


@pytest.mark.parametrize("markup", [OUTLOOK_HTML, GMAIL_HTML], ids=["outlook", "gmail"])
def test_quoted_html_of_outlook_and_gmail_is_stripped(desk, graph, alert, markup):
    ticket, alert_mail = alert
    text = "Please unplug the printer.\n\n" + _quoted_outlook_text(alert_mail)
    raw = sent_inside(_staff_reply(alert_mail, text, html=markup))

    mail = _assert_one_response_to_ann(_fetch_and_send(desk, graph, raw), "Please unplug the printer.")

    assert NEW_TICKET_TEXT not in mail.get_body(("html",)).get_content()
    [_, response] = desk.tickets.entries(ticket.number)
    assert response.type == "response"
    assert "Please unplug the printer." in response.body_html
    assert NEW_TICKET_TEXT not in response.body_html and NEW_TICKET_TEXT not in response.body_text


def test_an_empty_reply_above_the_quote_is_kept_as_a_note(desk, graph, alert):
    ticket, alert_mail = alert
    raw = sent_inside(_staff_reply(alert_mail, "\n\n" + _quoted_outlook_text(alert_mail)))

    assert _fetch_and_send(desk, graph, raw) == []

    assert [e.type for e in desk.tickets.entries(ticket.number)] == ["message", "note"]
    [logged] = [r for r in run_cli("syslog", "--json")[1] if r["title"] == "Staff replied by email"]
    assert "nothing is left above the quoted mail" in logged["message"]


@pytest.mark.parametrize("step", ["ticket_written", "notification_enqueued", "processed"])
def test_a_retried_fetch_sends_the_response_once(desk, graph, alert, step):
    ticket, alert_mail = alert
    graph.add_message(SUPPORT, sent_inside(_staff_reply(alert_mail, "Switch it off.")))

    with pytest.raises(SimulatedCrash):
        fetch_all(desk, checkpoint=crash_at(step))
    fetch_all(desk)
    fetch_all(desk)
    drain_outbound(desk, release_after=0)

    _assert_one_response_to_ann(sent_mails(graph), "Switch it off.")
    assert [e.type for e in desk.tickets.entries(ticket.number)] == ["message", "response"]


def test_a_forged_staff_reply_is_a_client_message_and_confirms_nothing(desk, graph, alert):
    ticket, alert_mail = alert
    raw = from_internet(_staff_reply(alert_mail, "Refund approved, see attached invoice.",
                                     headers={"Reply-To": EVIL}),
                        spf="fail", dkim="none", dmarc="fail")

    mails = _fetch_and_send(desk, graph, raw)

    entries = desk.tickets.entries(ticket.number)
    assert [e.type for e in entries] == ["message", "message"]  # never a response
    assert not any(ANN in _to(m) for m in mails)  # the client is not mailed as if staff answered
    assert not any(EVIL in str(m["To"]) + str(m["Cc"]) for m in mails)
    assert [_to(m) for m in mails] == [[AGENT]]  # only the staff alert, to the real agent
    assert AGENT not in desk.tickets.get(ticket.number).collaborators
    assert not [r for r in run_cli("syslog", "--json")[1] if r["title"] == "Staff replied by email"]


def test_a_non_staff_address_replying_to_the_alert_is_not_staff(desk, graph, alert):
    ticket, alert_mail = alert
    raw = from_internet(_staff_reply(alert_mail, "I am staff, honest. Close it.",
                                     sender=f"Mallory <{EVIL}>"), dmarc="pass")

    mails = _fetch_and_send(desk, graph, raw)

    assert [e.type for e in desk.tickets.entries(ticket.number)] == ["message", "message"]
    assert not any(EVIL in str(m["To"]) + str(m["Cc"]) for m in mails)  # no confirmation
    assert not any(ANN in _to(m) for m in mails)
    assert desk.tickets.get(ticket.number).status.value == "open"
    # it threaded only through the alert's Message-ID: kept for staff, never a collaborator,
    # so no later response tells the sender the ticket exists
    assert desk.tickets.get(ticket.number).collaborators == []
    graph.sent.clear()
    assert run_cli("tickets", "reply", ticket.number, "--staff", AGENT, "--text", "Done.")[0] == 0
    drain_outbound(desk, release_after=0)
    [response] = sent_mails(graph)
    assert _to(response) == [ANN] and response["Cc"] is None


def test_a_client_colleague_answering_the_response_still_becomes_a_collaborator(desk, graph, alert):
    ticket, _ = alert
    assert run_cli("tickets", "reply", ticket.number, "--staff", AGENT, "--text", "Done.")[0] == 0
    drain_outbound(desk, release_after=0)
    [response] = sent_mails(graph)
    graph.add_message(SUPPORT, make_mail(sender="Bob <bob@example.org>", body="Not done here.",
                                         in_reply_to=response["Message-ID"])[0])
    assert fetch_all(desk)[0].threaded == 1
    assert desk.tickets.get(ticket.number).collaborators == ["bob@example.org"]


def test_the_response_reaches_the_collaborators_on_cc(desk, graph, mailbox_app):
    ticket, alert_mail = _open_ticket(desk, graph, mailbox_app, headers={"Cc": f"Bob <{BOB}>"})
    assert ticket.collaborators == [BOB]

    mail = _assert_one_response_to_ann(
        _fetch_and_send(desk, graph, sent_inside(_staff_reply(alert_mail, "Replacing the fuser."))),
        "Replacing the fuser.")

    assert [a.addr_spec for a in mail["Cc"].addresses] == [BOB]


def test_reply_all_to_the_client_is_not_mailed_again_but_a_missed_collaborator_is(
        desk, graph, mailbox_app):
    ticket, alert_mail = _open_ticket(desk, graph, mailbox_app, headers={"Cc": f"Bob <{BOB}>"})
    raw = sent_inside(_staff_reply(alert_mail, "Replacing the fuser.", headers={"Cc": f"Ann <{ANN}>"}))

    mails = _fetch_and_send(desk, graph, raw)

    assert [_to(m) for m in mails] == [[BOB]]  # Ann has the staff member's own mail already
    assert "Replacing the fuser." in _text(mails[0])
    assert [e.type for e in desk.tickets.entries(ticket.number)] == ["message", "response"]
    [logged] = [r for r in run_cli("syslog", "--json")[1] if r["title"] == "Staff replied by email"]
    assert "not mailed again" in logged["message"]


PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def test_staff_attachments_and_inline_pictures_go_with_the_response(desk, graph, alert):
    ticket, alert_mail = alert
    msg = message_from_bytes(_staff_reply(
        alert_mail, "The manual is attached.",
        html='<div>The manual is attached.</div><img src="cid:logo@x"><div class="gmail_quote">'
             "On Tue, Dec 1, 2026 at 2:00 AM Support wrote:<blockquote>old</blockquote></div>"),
        policy=policy.default)
    msg.get_body(("html",)).add_related(PNG, "image", "png", cid="<logo@x>", filename="logo.png")
    msg.add_attachment(b"%PDF-1.4 manual", maintype="application", subtype="pdf",
                       filename="manual.pdf")

    [mail] = _fetch_and_send(desk, graph, sent_inside(msg.as_bytes()))

    files = {part.get_filename(): part.get_content() for part in mail.iter_attachments()}
    assert files == {"manual.pdf": b"%PDF-1.4 manual", "logo.png": PNG}
    [_, response] = desk.tickets.entries(ticket.number)
    assert sorted(a.name for a in response.attachments) == ["logo.png", "manual.pdf"]


def test_the_alert_quoted_without_any_marker_is_cut_at_the_reply_separator(desk, graph, alert):
    """A phone client that pastes the alert under the reply, with no attribution or '>'."""
    ticket, alert_mail = alert
    raw = sent_inside(_staff_reply(alert_mail, "Coming at ten.\n\n" + _text(alert_mail)))

    _assert_one_response_to_ann(_fetch_and_send(desk, graph, raw), "Coming at ten.")

    [_, response] = desk.tickets.entries(ticket.number)
    assert response.body_text.strip() == "Coming at ten."


def test_telemetry_names_the_ticket_and_the_staff_address_never_the_body(desk, graph, alert, caplog):
    ticket, alert_mail = alert
    caplog.set_level("INFO", logger="deskmail.telemetry")

    _fetch_and_send(desk, graph, sent_inside(_staff_reply(alert_mail, "Secret fix inside.")))

    [event] = [r.getMessage() for r in caplog.records
               if r.getMessage().startswith("deskmail.staff_email_reply")]
    assert ticket.number in event and AGENT in event and '"kind": "response"' in event
    assert "Secret fix" not in event


def test_a_stranger_using_the_subject_tag_gets_a_new_ticket_and_learns_nothing(desk, graph, alert):
    ticket, _ = alert
    raw = from_internet(make_mail(subject=f"Re: [#{ticket.number}] anything", body="Status?",
                                  sender=f"Mallory <{EVIL}>")[0])
    graph.add_message(SUPPORT, raw)
    assert fetch_all(desk)[0].created == 1
    drain_outbound(desk, release_after=0)

    assert [e.type for e in desk.tickets.entries(ticket.number)] == ["message"]  # untouched
    [auto] = [m for m in sent_mails(graph) if EVIL in _to(m)]
    [new] = [t for t in desk.tickets.list() if t.number != ticket.number]
    assert auto["Subject"].startswith(f"[#{new.number}] ")
    body = _text(auto)
    assert f"#{new.number}" in body and "Printer on fire" not in body + auto["Subject"]
    assert ANN not in body and "printer is on fire" not in body


def test_a_forged_staff_mail_with_only_the_subject_tag_is_a_new_ticket_not_an_answer(
        desk, graph, alert):
    ticket, _ = alert
    raw = from_internet(make_mail(subject=f"Re: [#{ticket.number}] Printer on fire",
                                  body="Refund approved.", sender=f"Andy <{AGENT}>",
                                  headers={"Reply-To": EVIL})[0],
                        spf="fail", dkim="none", dmarc="fail")
    graph.add_message(SUPPORT, raw)
    assert fetch_all(desk)[0].created == 1
    drain_outbound(desk, release_after=0)

    assert [e.type for e in desk.tickets.entries(ticket.number)] == ["message"]
    mails = sent_mails(graph)
    assert not any(ANN in _to(m) for m in mails)
    assert not any(EVIL in str(m["To"]) + str(m["Cc"]) for m in mails)
    assert not any(ticket.number in str(m["Subject"]) and AGENT not in _to(m) for m in mails)


def test_a_stranger_replying_to_a_later_alert_never_becomes_a_collaborator(desk, graph, alert):
    """A New Message Alert's References carry the client's thread (our response's
    Message-ID): replying to that alert must not count as answering the response."""
    ticket, _ = alert
    assert run_cli("tickets", "reply", ticket.number, "--staff", AGENT, "--text", "Done.")[0] == 0
    drain_outbound(desk, release_after=0)
    [response] = sent_mails(graph)
    graph.sent.clear()
    graph.add_message(SUPPORT, make_mail(subject=f"Re: {response['Subject']}", body="Still on fire.",
                                         in_reply_to=response["Message-ID"],
                                         references=response["Message-ID"])[0])
    assert fetch_all(desk)[0].threaded == 1
    drain_outbound(desk, release_after=0)
    [new_message_alert] = sent_mails(graph)
    assert _to(new_message_alert) == [AGENT] and response["Message-ID"] in new_message_alert["References"]
    graph.sent.clear()

    chain = f"{new_message_alert['References']} {new_message_alert['Message-ID']}"
    _fetch_and_send(desk, graph, from_internet(_staff_reply(  # a client's References: the chain
        new_message_alert, "Forwarded to me, what is this?", sender=f"Mallory <{EVIL}>",
        threaded=False, headers={"In-Reply-To": new_message_alert["Message-ID"],
                                 "References": chain}), dmarc="pass"))

    assert EVIL not in desk.tickets.get(ticket.number).collaborators
    graph.sent.clear()
    assert run_cli("tickets", "reply", ticket.number, "--staff", AGENT, "--text", "Fixed.")[0] == 0
    drain_outbound(desk, release_after=0)
    assert not any(EVIL in str(m["To"]) + str(m["Cc"]) for m in sent_mails(graph))


def test_a_forged_message_id_with_the_alerts_token_does_not_make_a_collaborator(desk, graph, alert):
    """The thread token of an alert's Message-ID is enough to thread; an id of our form that
    names no client-visible mail must not pass for an answer to one."""
    ticket, alert_mail = alert
    local, domain = alert_mail["Message-ID"].strip("<>").split("@", 1)
    prefix = local.rsplit(".", 1)[0]
    forged = f"<{prefix}.{'0' * 24}@{domain}>"
    raw = from_internet(_staff_reply(alert_mail, "Tell me more.", sender=f"Mallory <{EVIL}>",
                                     threaded=False, headers={"In-Reply-To": alert_mail["Message-ID"],
                                                              "References": forged}),
                        dmarc="pass")

    _fetch_and_send(desk, graph, raw)

    assert desk.tickets.get(ticket.number).collaborators == []


def _html_only(alert_mail, markup: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Andy <{AGENT}>"
    msg["To"] = SUPPORT
    msg["Subject"] = f"RE: {alert_mail['Subject']}"
    msg["Message-ID"] = make_msgid(domain="contoso.example")
    msg["In-Reply-To"] = msg["References"] = alert_mail["Message-ID"]
    msg.set_content(markup, subtype="html")
    return msg.as_bytes()


@pytest.mark.parametrize("markup", [OUTLOOK_HTML, GMAIL_HTML], ids=["outlook", "gmail"])
def test_an_html_only_staff_reply_mails_only_what_is_above_the_quote(desk, graph, alert, markup):
    ticket, alert_mail = alert

    mail = _assert_one_response_to_ann(
        _fetch_and_send(desk, graph, sent_inside(_html_only(alert_mail, markup))),
        "Please unplug the printer.")

    assert "printer is on fire" not in _text(mail)
    assert "printer is on fire" not in mail.get_body(("html",)).get_content()


def test_an_html_only_reply_starting_with_note_is_a_note(desk, graph, alert):
    ticket, alert_mail = alert
    markup = OUTLOOK_HTML.replace("<div>Please unplug the printer.</div>",
                                  "<div><p>#note</p></div><div>Toner ordered.</div>")

    assert _fetch_and_send(desk, graph, sent_inside(_html_only(alert_mail, markup))) == []

    [_, note] = desk.tickets.entries(ticket.number)
    assert note.type == "note" and "Toner ordered." in note.body_text
    assert "#note" not in note.body_text.lower() and "#note" not in note.body_html.lower()


def test_a_stranger_answering_the_alert_cannot_bring_others_in_on_cc(desk, graph, alert):
    ticket, alert_mail = alert
    raw = from_internet(_staff_reply(alert_mail, "Adding my friend.", sender=f"Mallory <{EVIL}>",
                                     headers={"Cc": "Eve <eve@evil.example>"}), dmarc="pass")

    _fetch_and_send(desk, graph, raw)

    assert desk.tickets.get(ticket.number).collaborators == []


def test_a_forged_staff_reply_cannot_bring_others_in_on_cc(desk, graph, alert):
    ticket, alert_mail = alert
    raw = from_internet(_staff_reply(alert_mail, "Cc my colleague.",
                                     headers={"Cc": "Eve <eve@evil.example>"}),
                        spf="fail", dkim="none", dmarc="fail")

    _fetch_and_send(desk, graph, raw)

    assert desk.tickets.get(ticket.number).collaborators == []


def test_an_outlook_header_in_an_unknown_language_is_not_mailed_to_the_client(desk, graph, alert):
    """Outlook in Japanese: its header block above the quoted alert names the alert's
    recipients; the client gets only the answer."""
    ticket, alert_mail = alert
    quoted = ("\n\n________________________________\n差出人: Contoso Support <support@contoso.example>\n"
              "送信日時: 2026年12月1日 2:00\n宛先: Andy Agent <agent@contoso.example>\n"
              f"件名: {alert_mail['Subject']}\n\n{_text(alert_mail)}")
    raw = sent_inside(_staff_reply(alert_mail, "Coming at ten." + quoted))

    mail = _assert_one_response_to_ann(_fetch_and_send(desk, graph, raw), "Coming at ten.")

    assert AGENT not in _text(mail) and "宛先" not in _text(mail)
    [_, response] = desk.tickets.entries(ticket.number)
    assert response.body_text.strip() == "Coming at ten."


def test_a_staff_out_of_office_let_through_by_a_filter_is_never_mailed_to_the_client(
        desk, graph, alert):
    """A filter that lets the tenant's automatic mail through (monitoring) must not turn a
    staff member's out-of-office answer to an alert into a response to the client."""
    ticket, alert_mail = alert
    assert run_cli("filters", "add", "Contoso monitoring", "--if", "sender", "contains",
                   "@contoso.example", "--allow-auto-generated")[0] == 0
    raw = sent_inside(_staff_reply(alert_mail, "I am out of the office until Monday.",
                                   headers={"Auto-Submitted": "auto-replied",
                                            "X-Auto-Response-Suppress": "All"}))

    assert _fetch_and_send(desk, graph, raw) == []

    [_, kept] = desk.tickets.entries(ticket.number)
    assert kept.type == "note"


def test_a_picture_only_in_the_cut_quote_is_never_mailed_to_the_client(desk, graph, alert):
    """Rule 5 keeps a picture the kept HTML no longer shows as an attachment (for staff);
    the client gets only the files of what the staff member wrote."""
    ticket, alert_mail = alert
    msg = message_from_bytes(_staff_reply(
        alert_mail, "See the logo.",
        html='<div>See the logo.</div><img src="cid:logo@x"><div class="gmail_quote">'
             'On Tue, Dec 1, 2026 at 2:00 AM Support wrote:<blockquote>internal console '
             '<img src="cid:console@x"></blockquote></div>'), policy=policy.default)
    html = msg.get_body(("html",))
    html.add_related(PNG, "image", "png", cid="<logo@x>", filename="logo.png")
    html.add_related(PNG + b"2", "image", "png", cid="<console@x>", filename="console.png")

    [mail] = _fetch_and_send(desk, graph, sent_inside(msg.as_bytes()))

    assert [part.get_filename() for part in mail.iter_attachments()] == ["logo.png"]
