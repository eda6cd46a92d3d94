"""The ticket thread in the browser: inline images render, mail HTML runs no script, staff reply
from the page and the client's mail leaves through Graph."""
from __future__ import annotations

from email import message_from_bytes, policy

import pytest

from tests.integration.helpers import add_support_staff

from .conftest import AGENT, quiet, screenshots_wanted, sign_in
from .mails import INLINE_IMAGES, hostile_mail, outlook_mail, ticket_from

# what the browser may report while it shows hostile mail: that it blocked something
BLOCKED = ("Blocked script execution in 'about:srcdoc'", "Content Security Policy")


@pytest.fixture
def staffed(live_app):
    """The Support department with Andy Agent, so the agent can answer tickets."""
    add_support_staff(AGENT)
    return live_app


def _frame_images(page) -> list[dict]:
    """Every <img> inside the thread's mail frames, as the browser decoded it."""
    found = []
    frames = page.locator("iframe.mail-frame")
    for index in range(frames.count()):
        found += page.frame_locator("iframe.mail-frame").nth(index).locator("img").evaluate_all(
            "images => images.map(i => ({src: i.getAttribute('src'), complete: i.complete, "
            "width: i.naturalWidth, height: i.naturalHeight, "
            "shown: i.getBoundingClientRect().width > 0 && getComputedStyle(i).visibility !== 'hidden'}))")
    return found


def _plain(mail) -> str:
    body = mail.get_body(("plain",))
    return body.get_content() if body is not None else ""


def _entry_text(page, entry) -> str:
    """What an entry shows: its own text and, for an HTML body, the text inside its mail frame."""
    shown = entry.inner_text()
    if entry.locator("iframe.mail-frame").count():
        shown += "\n" + entry.frame_locator("iframe.mail-frame").locator("body").inner_text()
    return shown


def test_both_inline_images_of_an_outlook_mail_render_in_the_thread(page, staffed):
    number = ticket_from(staffed, outlook_mail())
    sign_in(page, AGENT, next=f"/tickets?number={number}")
    # goto/sign-in waited for `load`, which waits for the frames and their images
    assert page.url.endswith(f"/tickets?number={number}")
    assert page.locator("iframe.mail-frame").count() >= 1
    images = _frame_images(page)
    # in place: in the mail's order, each decoded by the browser at the PNG's size, and laid out
    assert [(i["width"], i["height"]) for i in images] == [(w, h) for _, _, w, h, _ in INLINE_IMAGES], images
    assert all(i["complete"] and i["width"] > 0 and i["shown"] for i in images), images
    assert not any(i["src"].startswith(("cid:", "http://", "https://")) for i in images), \
        "stored HTML keeps attachment ids; the page builds relative URLs"
    assert page.failed == [], page.failed
    if folder := screenshots_wanted():
        page.screenshot(path=str(folder / "ticket-thread.png"), full_page=True)


def test_a_hostile_mail_runs_no_script_in_the_browser(page, staffed):
    probe = f"{staffed.url}/probe"
    number = ticket_from(staffed, hostile_mail(probe))
    sign_in(page, AGENT, next=f"/tickets?number={number}")
    frame = page.frame_locator("iframe.mail-frame").first
    # the mail is shown (so "nothing ran" is not "nothing rendered")
    assert "Please see the invoice." in frame.locator("body").inner_text()
    assert "pwned" not in page.title()
    assert "pwned" not in frame.locator("body").evaluate("body => body.ownerDocument.title")
    assert page.evaluate("() => window.pwned === undefined")
    assert [url for url in page.requests if "/probe" in url] == []
    assert all(report.split(": ", 1)[1].startswith(BLOCKED) for report in quiet(page)), page.reports
    policy_header = page.request.get(f"/tickets?number={number}").headers["content-security-policy"]
    assert "'unsafe-inline'" not in policy_header.split("script-src", 1)[1].split(";", 1)[0]


def test_staff_reply_from_the_page_reaches_the_client_through_graph(page, staffed):
    from shared_code.services.outbound_queue import drain_outbound

    number = ticket_from(staffed, outlook_mail(subject="Printer offline"))
    sign_in(page, AGENT, next=f"/tickets?number={number}")
    text = "Hello Ann, please switch the printer off and on again."
    page.fill("#reply-text", text)
    with page.expect_navigation():
        page.click("#reply-submit")
    response = page.locator("article.entry.response")
    assert response.count() == 1
    assert text in _entry_text(page, response)
    assert quiet(page) == [] and page.failed == [], (page.reports, page.failed)

    staffed.graph.sent.clear()  # the new-ticket acknowledgement, if it went out already
    drain_outbound(staffed.desk, release_after=0)
    mails = [message_from_bytes(raw, policy=policy.default) for _, raw in staffed.graph.sent]
    to_client = [m for m in mails if "ann@example.org" in str(m["To"])
                 and text in _plain(m)]
    assert len(to_client) == 1, [(str(m["To"]), str(m["Subject"])) for m in mails]
    assert number in str(to_client[0]["Subject"])


def test_a_file_chosen_on_the_reply_form_is_mailed_with_the_reply(page, staffed, tmp_path):
    from shared_code.services.outbound_queue import drain_outbound

    number = ticket_from(staffed, outlook_mail(subject="Need the manual"))
    manual = tmp_path / "manual.pdf"
    manual.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 32)
    sign_in(page, AGENT, next=f"/tickets?number={number}")
    page.fill("#reply-text", "The manual is attached.")
    page.set_input_files("#reply-files", str(manual))
    with page.expect_navigation():
        page.click("#reply-submit")
    assert "manual.pdf" in _entry_text(page, page.locator("article.entry.response"))
    staffed.graph.sent.clear()
    drain_outbound(staffed.desk, release_after=0)
    mails = [message_from_bytes(raw, policy=policy.default) for _, raw in staffed.graph.sent]
    [mail] = [m for m in mails if "ann@example.org" in str(m["To"]) and "manual is attached" in _plain(m)]
    assert {p.get_filename(): p.get_payload(decode=True) for p in mail.iter_attachments()} == {
        "manual.pdf": manual.read_bytes()}


def test_staff_note_assign_and_close_from_the_page(page, staffed):
    """The rest of working a ticket: an internal note (never mailed), assign, close."""
    from shared_code.services.outbound_queue import drain_outbound

    number = ticket_from(staffed, outlook_mail(subject="Scanner jammed"))
    sign_in(page, AGENT, next=f"/tickets?number={number}")
    note = "Checked the scanner log: paper sensor fault."
    page.fill("#note-text", note)
    with page.expect_navigation():
        page.click("#note-submit")
    assert note in _entry_text(page, page.locator("article.entry.note"))

    page.select_option("#assign-form select[name=staff]", AGENT)
    with page.expect_navigation():
        page.click("#assign-form button[type=submit]")
    assert page.locator(".flash.ok").count() == 1, page.locator("main").inner_text()
    assert staffed.desk.tickets.get(number).assignee == AGENT

    with page.expect_navigation():
        page.click("#close-form button[type=submit]")
    assert page.locator("#ticket-status").inner_text().strip() == "closed"
    assert quiet(page) == [] and page.failed == [], (page.reports, page.failed)

    drain_outbound(staffed.desk, release_after=0)
    mails = [message_from_bytes(raw, policy=policy.default) for _, raw in staffed.graph.sent]
    assert mails, "the new-ticket, assignment and closing mails went out"
    assert not any(note in _plain(m) for m in mails), "a note is internal"
