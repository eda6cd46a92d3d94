"""Every mail of the project's own corpus (tests/data) produces the right outcome end to end:
Graph fake → fetch → pipeline → Azurite, read back through the CLI."""
from __future__ import annotations

import pytest

from shared_code.adapters.names import ATTACHMENTS, RAW_MAIL
from shared_code.adapters.names import OUTBOUND_MAIL
from shared_code.services.fetch import fetch_all
from tests.data import big_attachment_mail, load

from .helpers import SUPPORT, run_cli

NEW_TICKET = [
    "plain.eml", "html_only.eml", "alternative.eml", "outlook_related_cid.eml", "forward.eml",
    "apple_reply.eml", "undeclared_charset.eml", "wrong_charset.eml", "no_message_id.eml",
    "bad_mime.eml", "data_uri_image.eml", "html_with_scripts.eml", "attachment_names.eml",
    "subject_rfc2047_cp1252.eml", "subject_rfc2047_gb2312.eml", "subject_rfc2047_iso2022jp.eml",
    "subject_rfc2047_koi8r.eml", "subject_rfc2047_latin1.eml", "subject_rfc2047_malformed.eml",
    "subject_rfc2047_utf8.eml",
]
DISCARDED = {
    "exchange_ooo.eml": "x-auto-response-suppress",
    "vacation_rfc3834.eml": "auto-submitted",
    "bounce_dsn.eml": "delivery-status-report",
    "bounce_exchange_ndr.eml": "mailer-daemon-sender",
    "list_mail.eml": "precedence",
}


def _ingest(graph, desk, *names: str):
    for name in names:
        graph.add_message(SUPPORT, load(name))
    [summary] = fetch_all(desk)
    assert summary.errors == [] and summary.quarantined == 0
    return summary


def _only_ticket():
    code, tickets = run_cli("tickets", "list", "--json")
    assert code == 0 and len(tickets) == 1
    return run_cli("tickets", "show", tickets[0]["number"], "--json")[1]


@pytest.mark.parametrize("name", NEW_TICKET)
def test_becomes_a_new_ticket(desk, graph, name):
    assert _ingest(graph, desk, name).created == 1
    ticket = _only_ticket()
    [entry] = ticket["entries"]
    assert "=?" not in ticket["subject"]
    assert "\ufffd" not in ticket["subject"]
    assert entry["body_text"].strip() or entry["body_html"].strip()
    html = entry["body_html"].lower()
    for forbidden in ("<script", "onclick", "javascript:", "<form", "cid:", "data:image"):
        assert forbidden not in html, f"{forbidden} left in the HTML of {name}"
    templates = sorted(n["template"] for n in desk.queues.peek_notifications(OUTBOUND_MAIL))
    assert templates == ["new_ticket_alert", "new_ticket_auto_response"]


@pytest.mark.parametrize("name", sorted(DISCARDED))
def test_auto_replies_and_bounces_are_discarded(desk, graph, name):
    assert _ingest(graph, desk, name).discarded == 1
    assert run_cli("tickets", "list", "--json")[1] == []
    assert desk.queues.peek_notifications(OUTBOUND_MAIL) == []
    assert len(desk.blobs.names(RAW_MAIL)) == 1
    _, log = run_cli("syslog", "--json")
    [entry] = [e for e in log if e["title"] == "Mail discarded"]
    assert f"rule: {DISCARDED[name]})" in entry["message"]


def test_subjects_are_decoded(desk, graph):
    expected = {
        "subject_rfc2047_latin1.eml": "Brücke über den Fluß (Anfrage)",
        "subject_rfc2047_koi8r.eml": "Привет из Москвы",
        "subject_rfc2047_cp1252.eml": "\u201cSmart quotes\u201d cost \u20ac50",
    }
    _ingest(graph, desk, *expected)
    _, tickets = run_cli("tickets", "list", "--json")
    assert sorted(t["subject"] for t in tickets) == sorted(expected.values())


def test_gmail_reply_threads_by_references_and_keeps_only_new_text(desk, graph):
    _ingest(graph, desk, "plain.eml")
    summary = _ingest(graph, desk, "gmail_reply.eml")
    assert summary.threaded == 1
    ticket = _only_ticket()
    original, reply = ticket["entries"]
    assert reply["from"]["email"] == "alice@example.com"
    assert " wrote:" not in reply["body_text"]
    assert original["body_text"].strip()[:40] not in reply["body_text"]


def test_outlook_inline_images_are_stored_and_linked(desk, graph):
    _ingest(graph, desk, "outlook_related_cid.eml")
    [entry] = _only_ticket()["entries"]
    inline = [a for a in entry["attachments"] if a["inline"]]
    assert len(inline) == 2
    for attachment in inline:
        assert attachment["url"] in entry["body_html"]
        sha = attachment["url"].split("/")[-2]
        assert desk.blobs.get(ATTACHMENTS, sha)[:4] in (b"\x89PNG", b"\xff\xd8\xff\xe0", b"GIF8") \
            or len(desk.blobs.get(ATTACHMENTS, sha)) == attachment["size"]


def test_ten_megabyte_attachment_is_stored_whole(desk, graph):
    graph.add_message(SUPPORT, big_attachment_mail())
    [summary] = fetch_all(desk)
    assert summary.created == 1
    [entry] = _only_ticket()["entries"]
    [attachment] = [a for a in entry["attachments"] if not a["inline"]]
    assert attachment["size"] == 10 * 1024 * 1024
    sha = attachment["url"].split("/")[-2]
    assert len(desk.blobs.get(ATTACHMENTS, sha)) == 10 * 1024 * 1024


def test_attachment_over_the_limit_is_recorded_not_dropped(desk, graph, monkeypatch):
    monkeypatch.setenv("MAX_ATTACHMENT_BYTES", str(1024 * 1024))
    from shared_code.services.helpdesk import Helpdesk

    graph.add_message(SUPPORT, big_attachment_mail(size=2 * 1024 * 1024))
    [summary] = fetch_all(Helpdesk.from_env())
    assert summary.created == 1
    [entry] = _only_ticket()["entries"]
    assert entry["rejected_attachments"] and "big.zip" in entry["rejected_attachments"][0]
    _, log = run_cli("syslog", "--json")
    assert any(e["title"] == "Attachment not stored" and "big.zip" in e["message"] for e in log)
