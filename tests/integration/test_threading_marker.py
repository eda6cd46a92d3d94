"""Threading that survives mail clients (issue 10 §5), end to end: Graph fake → fetch →
Azurite → the outbound queue → sendMail on the Graph fake, whose sent MIME the tests read.

The marker key is the `deskmail-thread-key` secret (tests/conftest.py sets it for every
helpdesk: DESKMAIL_THREAD_KEY locally, and in the Key Vault fake)."""
from __future__ import annotations

import base64
import re
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime

import pytest

from shared_code.domain.model import Status
from shared_code.domain.thread_marker import normalized_subject
from shared_code.services.fetch import fetch_all
from shared_code.services.outbound_queue import drain_outbound

from .helpers import SUPPORT, add_account, add_support_staff, make_mail, run_cli, sent_mails

AGENT = "agent@contoso.example"
SALES = "sales@contoso.example"
ANN = "ann@example.org"
MARKER = re.compile(r"\[ref:dm1-\d{6}-[0-9a-f]{16}\]")


@pytest.fixture
def staffed(desk):
    add_support_staff(AGENT)
    return desk


def _new_ticket(desk, graph, subject="Printer on fire"):
    raw, _ = make_mail(subject=subject)
    graph.add_message(SUPPORT, raw)
    fetch_all(desk)
    [ticket] = desk.tickets.list()
    drain_outbound(desk, release_after=0)
    return ticket


def _stripped_reply(marker_line: str, sender=f"Ann Client <{ANN}>", subject="Fwd: printer",
                    html: bool = False) -> bytes:
    """A reply whose client dropped In-Reply-To and References and the subject tag."""
    raw, _ = make_mail(subject=subject, sender=sender,
                       body=f"It is still burning.\n\n> Our answer\n> {marker_line}\n")
    if not html:
        return raw
    msg = message_from_bytes(raw, policy=policy.default)
    msg.add_alternative(f"<p>It is still burning.</p><blockquote><div style='font-size:9px'>"
                        f"{marker_line}</div></blockquote>", subtype="html")
    msg.get_body(("plain",)).set_content("It is still burning.")  # the marker only in HTML
    return msg.as_bytes()


def test_every_outbound_mail_carries_the_marker_and_outlooks_headers(staffed, graph):
    ticket = _new_ticket(staffed, graph)
    assert run_cli("tickets", "reply", ticket.number, "--staff", AGENT, "--text", "Unplug it")[0] == 0
    assert run_cli("tickets", "close", ticket.number)[0] == 0
    drain_outbound(staffed, release_after=0)

    mails = sent_mails(graph)
    sent = sorted(m["Auto-Submitted"] or "response" for m in mails)
    assert sent == ["auto-generated", "auto-replied", "response"]  # closed notice, auto-response
    markers = set()
    for mail in mails:
        text = mail.get_body(("plain",)).get_content()
        html = mail.get_body(("html",)).get_content()
        [in_text] = MARKER.findall(text)
        [in_html] = MARKER.findall(html)
        assert in_text == in_html and f"-{ticket.number}-" in in_text
        markers.add(in_text)
        assert mail["Thread-Topic"] == "Printer on fire"
        index = base64.b64decode(mail["Thread-Index"])
        assert len(index) == 27 and index[0] == 0x01  # each answers the client's mail
    assert len(markers) == 1  # one marker per ticket
    headers = {base64.b64decode(m["Thread-Index"])[:22] for m in mails}
    assert len(headers) == 1  # one conversation: the same header block on every mail


def test_a_reply_without_its_headers_threads_by_the_marker_text_or_html(staffed, graph):
    ticket = _new_ticket(staffed, graph)
    [marker] = {MARKER.search(m.get_body(("plain",)).get_content()).group(0) for m in sent_mails(graph)}

    graph.add_message(SUPPORT, _stripped_reply(marker))
    graph.add_message(SUPPORT, _stripped_reply(marker, html=True))
    fetch_all(staffed)

    assert [t.number for t in staffed.tickets.list()] == [ticket.number]
    assert staffed.tickets.get(ticket.number).message_count == 3
    code, shown = run_cli("tickets", "show", ticket.number, "--json")
    assert code == 0 and len(shown["entries"]) == 3


def test_a_stranger_with_a_copied_marker_or_a_forged_one_gets_a_new_ticket(staffed, graph):
    ticket = _new_ticket(staffed, graph)
    [marker] = {MARKER.search(m.get_body(("plain",)).get_content()).group(0) for m in sent_mails(graph)}
    signature = marker[-17:-1]
    forged = marker[:-17] + "".join("1" if c == "0" else "0" for c in signature) + "]"
    assert MARKER.fullmatch(forged) and forged != marker

    graph.add_message(SUPPORT, _stripped_reply(marker, sender="Eve <eve@evil.example>"))
    graph.add_message(SUPPORT, _stripped_reply(forged))
    fetch_all(staffed)

    others = [t for t in staffed.tickets.list() if t.number != ticket.number]
    assert len(others) == 2 and staffed.tickets.get(ticket.number).message_count == 1
    logged = [e for e in staffed.syslog.list() if e["title"] == "Thread marker not accepted"]
    messages = " ".join(e["message"] for e in logged)
    assert "eve@evil.example takes no part" in messages and "invalid signature" in messages


def _no_message_id_mail() -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Ann Client <{ANN}>"
    msg["To"] = f"{SUPPORT}, {SALES}"
    msg["Subject"] = "Printer on fire"
    msg["Date"] = "Fri, 27 Nov 2026 02:03:04 +0000"
    msg.set_content("Hello, the printer is on fire.")
    return msg.as_bytes()


def test_a_mail_without_message_id_in_two_mailboxes_is_one_ticket(desk, graph, mailbox_app):
    graph.add_mailbox(SALES)
    add_account(mailbox_app, SALES)
    raw = _no_message_id_mail()
    ids = {SUPPORT: graph.add_message(SUPPORT, raw), SALES: graph.add_message(SALES, raw)}

    summaries = fetch_all(desk)

    [ticket] = desk.tickets.list()
    assert ticket.source_key.startswith("content-")
    assert sum(s.created for s in summaries) == 1 and sum(s.duplicates for s in summaries) == 1
    outcomes = sorted(desk.ledger.get(a, g)["outcome"] for a, g in ids.items())
    assert outcomes == ["created", "duplicate"]
    for address, graph_id in ids.items():  # both mailboxes' ledgers settled, both marked read
        row = desk.ledger.get(address, graph_id)
        assert row["state"] == "done" and row["ticket"] == ticket.number
        assert row["message_id"] == ticket.source_key
        assert graph.get_message(address, graph_id)["isRead"] is True
    assert run_cli("fetch", "--json")[0] == 0
    assert len(desk.tickets.list()) == 1  # and a second run changes nothing


def test_per_mailbox_safe_links_do_not_split_a_mail_without_message_id(desk, graph, mailbox_app):
    """Defender's Safe Links rewrites each link per recipient mailbox (its `data=` names the
    mailbox): the two copies' bodies differ only there, and are still one mail."""
    graph.add_mailbox(SALES)
    add_account(mailbox_app, SALES)
    def copy_for(mailbox: str) -> bytes:
        wrapped = ("https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fprinters"
                   ".example.org%2Fmanual%3Fid%3D7%26lang%3Den&data=05%7C02%7C"
                   f"{mailbox.replace('@', '%40')}%7C{len(mailbox)}sig&reserved=0")
        return _no_message_id_mail().replace(
            b"on fire.", f"on fire. Manual: {wrapped}".encode())

    graph.add_message(SUPPORT, copy_for(SUPPORT))
    graph.add_message(SALES, copy_for(SALES))

    summaries = fetch_all(desk)

    assert len(desk.tickets.list()) == 1
    assert sum(s.created for s in summaries) == 1 and sum(s.duplicates for s in summaries) == 1


def _backdate_closed(desk, number: str, days: int) -> None:
    """Move the closed ticket's last activity `days` back (the stored clock, not a sleep)."""
    ticket = desk.tickets.get(number)
    assert ticket.status == Status.CLOSED
    ticket.closed_at -= timedelta(days=days)
    ticket.last_message_at -= timedelta(days=days)
    ticket.created -= timedelta(days=days)
    assert desk.tickets.update(ticket)


def _reply_to_auto_response(graph, subject: str) -> bytes:
    [auto] = [m for m in sent_mails(graph) if m["Auto-Submitted"] == "auto-replied"]
    raw, _ = make_mail(subject=subject, in_reply_to=auto["Message-ID"],
                       references=auto["Message-ID"])
    return raw


@pytest.mark.parametrize("days, subject, follows_up", [
    (40, "Re: A new laptop please", True),
    (40, "Re: [#{n}] Printer on fire", False),  # the same subject reopens
    (10, "Re: A new laptop please", False),  # within the 30-day window
])
def test_a_reply_to_an_old_closed_ticket_with_a_new_subject_is_a_new_linked_ticket(
        staffed, graph, days, subject, follows_up):
    ticket = _new_ticket(staffed, graph)
    assert run_cli("tickets", "close", ticket.number)[0] == 0
    _backdate_closed(staffed, ticket.number, days)

    graph.add_message(SUPPORT, _reply_to_auto_response(graph, subject.format(n=ticket.number)))
    fetch_all(staffed)

    old = staffed.tickets.get(ticket.number)
    others = [t for t in staffed.tickets.list() if t.number != ticket.number]
    if not follows_up:
        assert old.status == Status.OPEN and old.message_count == 2 and not others
        return
    [new] = others
    assert old.status == Status.CLOSED and old.message_count == 1
    assert new.related_ticket == ticket.number and new.status == Status.OPEN
    assert normalized_subject(new.subject) == "A new laptop please"
    code, shown = run_cli("tickets", "show", new.number, "--json")
    assert code == 0 and shown["related_ticket"] == ticket.number
    [note] = [e for e in staffed.tickets.entries(ticket.number) if e.type == "note"]
    assert f"ticket #{new.number}" in note.body_text and old.status == Status.CLOSED
    assert any(e["title"] == "Reply to an old closed ticket: new ticket"
               for e in staffed.syslog.list())


def test_the_window_is_a_setting(staffed, graph, monkeypatch):
    monkeypatch.setenv("REOPEN_WINDOW_DAYS", "60")
    from shared_code.services.helpdesk import Helpdesk

    desk = Helpdesk.from_env()
    ticket = _new_ticket(desk, graph)
    assert run_cli("tickets", "close", ticket.number)[0] == 0
    _backdate_closed(desk, ticket.number, 40)
    graph.add_message(SUPPORT, _reply_to_auto_response(graph, "Re: A new laptop please"))
    fetch_all(desk)

    assert [t.number for t in desk.tickets.list()] == [ticket.number]
    assert desk.tickets.get(ticket.number).status == Status.OPEN


def test_in_azure_a_missing_key_is_an_error_naming_the_secret(desk, graph, monkeypatch, caplog):
    from shared_code.services.helpdesk import ThreadKeyMissing, reset_process_caches

    monkeypatch.delenv("DESKMAIL_THREAD_KEY")
    monkeypatch.setenv("WEBSITE_INSTANCE_ID", "instance-1")  # what Azure sets on every instance
    reset_process_caches()
    with pytest.raises(ThreadKeyMissing, match="'deskmail-thread-key'"):
        desk.thread_keys()

    raw, _ = make_mail()
    graph.add_message(SUPPORT, raw)
    fetch_all(desk)  # mail still becomes a ticket: the fetch only logs the missing key
    [ticket] = desk.tickets.list()
    assert "deskmail-thread-key" in caplog.text
    [result] = [r for r in drain_outbound(desk, release_after=0)
                if r.template == "new_ticket_auto_response"]
    assert (result.outcome, result.error_code) == ("failed", "ThreadKeyMissing")
    assert "deskmail-thread-key" in result.reason
    assert graph.sent == []
    [row] = [row for row in desk.tickets.notification_rows(ticket.number)
             if row.get("template") == "new_ticket_auto_response"]
    assert row.get("error_code") == "ThreadKeyMissing"


def test_locally_without_a_key_mail_goes_out_without_a_marker(desk, graph, monkeypatch):
    from shared_code.services.helpdesk import reset_process_caches

    monkeypatch.delenv("DESKMAIL_THREAD_KEY")
    reset_process_caches()
    _new_ticket(desk, graph)

    [mail] = sent_mails(graph)
    assert not MARKER.search(mail.get_body(("plain",)).get_content())
    assert mail["Thread-Index"] and mail["Thread-Topic"] == "Printer on fire"


def test_after_rotation_a_marker_of_the_previous_key_still_threads(desk, graph, vault):
    """Rotation: the current key moves to deskmail-thread-key-previous, a new one is written."""
    from shared_code.services.helpdesk import Helpdesk, reset_process_caches
    from tests.conftest import THREAD_KEY

    ticket = _new_ticket(desk, graph)
    [marker] = {MARKER.search(m.get_body(("plain",)).get_content()).group(0) for m in sent_mails(graph)}
    vault.set_secret("deskmail-thread-key-previous", THREAD_KEY)
    vault.set_secret("deskmail-thread-key", "a-brand-new-thread-key-0123456789abcdef")
    reset_process_caches()
    rotated = Helpdesk.from_env()  # KEY_VAULT_URL set: the keys come from the vault fake
    assert rotated.thread_keys().marker(ticket.number) != marker  # new mail: the new key

    graph.add_message(SUPPORT, _stripped_reply(marker))
    fetch_all(rotated)

    assert [t.number for t in rotated.tickets.list()] == [ticket.number]
    assert rotated.tickets.get(ticket.number).message_count == 2


def test_the_missing_previous_key_is_asked_of_key_vault_once_per_current_key(desk, vault):
    """Outside a rotation there is no previous key, and the secret store caches no miss: the
    keys are kept per process, so sends and fetches do not ask Key Vault for it each run."""
    from shared_code.services.helpdesk import Helpdesk, reset_process_caches

    reset_process_caches()
    in_vault = Helpdesk.from_env()
    asked = lambda: [r for r in vault.requests if "deskmail-thread-key-previous" in r.path]
    first = in_vault.thread_keys()
    assert first.previous is None and len(asked()) == 1
    assert Helpdesk.from_env().thread_keys() is first and len(asked()) == 1

    vault.set_secret("deskmail-thread-key-previous", "old")
    vault.set_secret("deskmail-thread-key", "a-brand-new-thread-key-0123456789abcdef")
    in_vault.secrets.invalidate("deskmail-thread-key")  # the current key's cache ran out
    assert in_vault.thread_keys().previous == b"old" and len(asked()) == 2
