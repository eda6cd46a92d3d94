"""The ticket pages: the list, the thread view with inline images, and where old links go."""
from __future__ import annotations

import html
import re
from datetime import datetime, timedelta, timezone

from shared_code.adapters.names import ATTACHMENTS
from shared_code.domain.model import Attachment, Entry, Party, Priority, Status, Ticket

from tests.integration.helpers import run_cli

from .ticket_setup import BLUE_PNG, RED_PNG, directory, fetch, no_role_client, outlook_mail, plain_ticket, sha


def _srcdocs(page: str) -> list[str]:
    """The documents of the page's mail frames, unescaped as the browser reads them."""
    return [html.unescape(doc) for doc in re.findall(r'<iframe class="mail-frame"[^>]*srcdoc="([^"]*)"', page)]


def _add_ticket(desk, number: str, subject: str, client: str, status=Status.OPEN, department="Support",
                assignee="", created=None) -> Ticket:
    ticket = Ticket(number=number, subject=subject, status=status, priority=Priority.NORMAL,
                    department=department, client=Party("", client), assignee=assignee,
                    created=created or datetime.now(timezone.utc))
    assert desk.tickets.create(ticket)
    return ticket


# --- the list -----------------------------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in_and_a_user_without_role_gets_403(web, desk):
    assert web.get("/tickets").status_code == 303
    with no_role_client() as client:
        page = client.get("/tickets")
        assert page.status_code == 403 and "Deskmail.Staff" in page.text


def test_the_list_filters_by_status_department_assignee_and_search(as_staff, desk):
    _add_ticket(desk, "100001", "Printer on fire", "ann@example.org")
    _add_ticket(desk, "100002", "Invoice missing", "bob@example.net", department="Billing",
                assignee="agent@contoso.example")
    _add_ticket(desk, "100003", "Old question", "cy@example.com", status=Status.CLOSED)

    def numbers(query: str) -> list[str]:
        page = as_staff.get(f"/tickets{query}")
        assert page.status_code == 200, page.text
        return re.findall(r'href="/tickets\?number=(\d+)"', page.text)

    assert sorted(numbers("")) == ["100001", "100002", "100003"]
    assert sorted(numbers("?status=open")) == ["100001", "100002"]
    assert numbers("?department=billing") == ["100002"]
    assert numbers("?assignee=AGENT@contoso.example") == ["100002"]
    assert numbers("?q=%23100003") == ["100003"]
    assert numbers("?q=printer") == ["100001"]
    assert numbers("?q=bob@example") == ["100002"]


def test_the_list_pages_by_25_newest_first(as_staff, desk):
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for i in range(27):
        _add_ticket(desk, f"2000{i:02d}", f"Question {i}", "ann@example.org", created=start + timedelta(hours=i))
    first = as_staff.get("/tickets")
    assert first.text.count('class="ticket-row"') == 25
    assert "200026" in first.text and "200001" not in first.text
    assert "27 tickets, page 1 of 2" in first.text
    assert 'rel="next" href="/tickets?page=2"' in first.text
    second = as_staff.get("/tickets?page=2")
    assert re.findall(r'href="/tickets\?number=(\d+)"', second.text) == ["200001", "200000"]


def test_bad_list_filters_are_422_not_500(as_staff, desk):
    status = as_staff.get("/tickets?status=pending")
    assert status.status_code == 422 and "unknown status" in status.text
    page = as_staff.get("/tickets?page=0")
    assert page.status_code == 422 and "page" in page.text


# --- the thread -------------------------------------------------------------------------------


def test_the_thread_shows_entries_in_order_with_type_sender_and_sla(as_staff, desk, graph):
    directory()
    ticket = plain_ticket(desk, graph)
    assert run_cli("tickets", "reply", ticket.number, "--staff", "agent@contoso.example", "--text", "On it.")[0] == 0
    page = as_staff.get(f"/tickets?number={ticket.number}")
    assert page.status_code == 200
    articles = re.findall(r'<article class="entry (\w+) card" id="entry-([^"]+)"', page.text)
    assert [kind for kind, _ in articles] == ["message", "response"]
    entries = desk.tickets.entries(ticket.number)
    assert [entry_id for _, entry_id in articles] == [e.entry_id for e in entries]
    assert "ann@example.org" in page.text and "Andy Agent" in page.text
    assert '<pre class="mail-text">Hello, the printer is on fire.' in page.text
    assert "answered, waiting on client" in page.text  # the SLA clock, as `tickets show` says
    assert 'id="reply-form" method="post" action="/tickets/%s/reply"' % ticket.number in page.text


def test_hash_number_form_and_unknown_or_bad_numbers(as_staff, desk, graph):
    ticket = plain_ticket(desk, graph)
    assert as_staff.get(f"/tickets?number=%23{ticket.number}").status_code == 200
    missing = as_staff.get("/tickets?number=999999")
    assert missing.status_code == 404 and "no ticket #999999" in missing.text
    bad = as_staff.get("/tickets?number=abc")
    assert bad.status_code == 422 and "not a ticket number" in bad.text


def test_old_tickets_php_links_redirect(web):
    answer = web.get("/tickets.php?number=108749")
    assert answer.status_code == 301 and answer.headers["location"] == "/tickets?number=108749"


def test_two_inline_images_of_an_outlook_mail_display_in_place(as_staff, desk, graph):
    ticket = fetch(desk, graph, outlook_mail())
    page = as_staff.get(f"/tickets?number={ticket.number}")
    [doc] = _srcdocs(page.text)
    sources = re.findall(r'<img[^>]* src="([^"]+)"', doc)
    assert sources == [f"/attachments/{sha(RED_PNG)}/image001.png", f"/attachments/{sha(BLUE_PNG)}/image002.png"]
    for source in sources:
        image = as_staff.get(source)
        assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert "attachment:" not in page.text and "cid:" not in doc
    # inline images are in the mail, not repeated as downloads
    assert 'class="attachments"' not in page.text


def test_mail_html_is_sanitized_and_framed_without_scripts(as_staff, desk, graph):
    markup = ('<p>Hi<script>window.parent.document.title="owned"</script></p>'
              '<img src="cid:image001.png@01DA0A0A.12345670" onerror="alert(1)">'
              '<img src="x" onerror="parent.document.body.innerHTML=1">'
              '<a href="javascript:alert(2)" onclick="alert(3)">link</a>'
              '<div style="position:fixed;top:0;left:0;width:100%;height:100%">cover</div>')
    ticket = fetch(desk, graph, outlook_mail(subject="evil", html=markup))
    page = as_staff.get(f"/tickets?number={ticket.number}").text
    frame = re.search(r'<iframe class="mail-frame"[^>]*>', page).group(0)
    assert 'sandbox="allow-same-origin allow-popups allow-popups-to-escape-sandbox"' in frame
    assert "allow-scripts" not in page
    [doc] = _srcdocs(page)
    lowered = doc.lower()
    for bad in ("<script", "onerror", "onclick", "javascript:", "position:fixed", "owned"):
        assert bad not in lowered, bad
    assert '<base target="_blank">' in doc
    assert "<script" not in page.split("</head>", 1)[1].replace('<script src="/static/deskmail.js"', "")


def test_links_and_sizes_of_attachments_and_what_ingestion_left_out(as_staff, desk, graph):
    ticket = plain_ticket(desk, graph)
    desk.tickets.add_entry(Entry(
        ticket_number=ticket.number, entry_id="29990101T000000000000Z-x", type="message",
        sender=Party("Ann", "ann@example.org"), message_id="m@x", date=datetime.now(timezone.utc),
        subject="more", body_text="See the file.", body_html="",
        attachments=[Attachment("report.pdf", "application/pdf", 2048, False, "c" * 64, "attachment:" + "c" * 64 + "/report.pdf")],
        rejected_attachments=["huge.zip (30 MB) exceeds the 25 MB attachment limit"],
        defects=["header Date: unreadable"], clipped=["subject"]))
    page = as_staff.get(f"/tickets?number={ticket.number}").text
    assert f'<a href="/attachments/{"c" * 64}/report.pdf">report.pdf</a> <span class="muted">(2 KB)</span>' in page
    assert "Not stored: huge.zip (30 MB) exceeds the 25 MB attachment limit" in page
    assert "Could not read: header Date: unreadable" in page
    assert "Clipped to fit: subject" in page


def test_an_entry_stored_with_absolute_urls_by_the_earlier_code_still_shows_its_image(as_staff, desk, graph):
    ticket = plain_ticket(desk, graph)
    digest = sha(RED_PNG)
    desk.blobs.put_once(ATTACHMENTS, digest, RED_PNG, "image/png")
    old = f"https://files.contoso.example/api/attachments/{digest}/logo%201.png"
    desk.tickets.add_entry(Entry(
        ticket_number=ticket.number, entry_id="29990101T000000000000Z-old", type="message",
        sender=Party("Ann", "ann@example.org"), message_id="old@x", date=datetime.now(timezone.utc),
        subject="old", body_text="logo", body_html=f'<p>Logo: <img src="{old}" alt="logo"></p>',
        attachments=[Attachment("logo 1.png", "image/png", len(RED_PNG), True, digest, old)]))
    page = as_staff.get(f"/tickets?number={ticket.number}").text
    assert "files.contoso.example" not in page
    src = f"/attachments/{digest}/logo%201.png"
    assert f'src="{src}"' in _srcdocs(page)[-1]
    assert as_staff.get(src).content == RED_PNG
    # the CLI shows the same, through the same function
    code, shown = run_cli("tickets", "show", ticket.number, "--json")
    assert code == 0
    assert f'src="{src}"' in shown["entries"][-1]["body_html"]
    assert shown["entries"][-1]["attachments"][0]["url"] == src


def test_the_cli_prints_app_urls_for_new_tickets_too(desk, graph):
    ticket = fetch(desk, graph, outlook_mail())
    code, shown = run_cli("tickets", "show", ticket.number, "--json")
    [entry] = shown["entries"]
    assert [a["url"] for a in entry["attachments"]] == [
        f"/attachments/{sha(RED_PNG)}/image001.png", f"/attachments/{sha(BLUE_PNG)}/image002.png"]
    assert all(a["url"] in entry["body_html"] for a in entry["attachments"])
    assert desk.tickets.entries(ticket.number)[0].attachments[0].url == f"attachment:{sha(RED_PNG)}/image001.png"


def test_admin_sees_the_thread_too(as_admin, desk, graph):
    ticket = plain_ticket(desk, graph)
    assert as_admin.get(f"/tickets?number={ticket.number}").status_code == 200
