"""Unit tests of the matching order in shared_code/domain/thread_match.py (no storage)."""
from shared_code.domain.mail import ParsedMail
from shared_code.domain.thread_match import match_ticket


def _mail(**overrides) -> ParsedMail:
    fields = dict(message_id="new@example.org", in_reply_to=[], references=[], subject="Hello",
                  from_name="Ann", from_address="ann@example.org", to=[], cc=[], date=None,
                  headers={}, content_type="text/plain", report_type=None, text_body="hi",
                  html_body=None)
    fields.update(overrides)
    return ParsedMail(**fields)


INDEX = {"a@x": "111111", "b@x": "222222", "c@x": "333333"}
TICKETS = {"111111": ["ann@example.org"], "444444": ["bob@example.org", "carol@example.org"]}


def _match(mail, staff=()):
    return match_ticket(mail, INDEX.get, TICKETS.get, staff)


def test_in_reply_to_wins_over_references_and_subject():
    mail = _mail(in_reply_to=["b@x"], references=["a@x"], subject="[#444444] x")
    match = _match(mail)
    assert (match.ticket_number, match.matched_by) == ("222222", "in-reply-to")


def test_references_are_tried_newest_first():
    mail = _mail(in_reply_to=["unknown@x"], references=["a@x", "c@x", "nope@x"])
    match = _match(mail)
    assert (match.ticket_number, match.matched_by) == ("333333", "references")


def test_subject_tag_accepted_for_the_client_and_collaborators():
    assert _match(_mail(subject="Re: [#111111] Printer")).ticket_number == "111111"
    carol = _mail(subject="[#444444] more", from_address="carol@example.org")
    assert _match(carol).matched_by == "subject-tag"


def test_subject_tag_from_a_stranger_starts_a_new_ticket():
    stranger = _mail(subject="[#111111] injected", from_address="mallory@example.net")
    assert _match(stranger) is None


def test_subject_tag_accepted_for_staff():
    staff = _mail(subject="[#111111] note", from_address="agent@contoso.example")
    assert _match(staff, staff={"agent@contoso.example"}).ticket_number == "111111"


def test_unknown_ticket_number_and_no_headers_start_a_new_ticket():
    assert _match(_mail(subject="[#999999] hi")) is None
    assert _match(_mail()) is None


def test_the_order_is_headers_then_the_signed_marker_then_the_subject_tag():
    """Issue 10 §5: a valid marker of a participant beats the tag; References beat the marker."""
    from shared_code.domain.thread_marker import ThreadKeys

    keys = ThreadKeys(b"k" * 32)
    body = f"forwarded\n> {keys.marker('111111')}"
    by_marker = match_ticket(_mail(subject="[#444444] x", text_body=body, from_address="bob@example.org"),
                             INDEX.get, {**TICKETS, "111111": ["bob@example.org"]}.get, keys=keys)
    assert (by_marker.ticket_number, by_marker.matched_by) == ("111111", "marker")
    by_refs = match_ticket(_mail(references=["c@x"], text_body=body), INDEX.get, TICKETS.get,
                           keys=keys)
    assert (by_refs.ticket_number, by_refs.matched_by) == ("333333", "references")
    html_only = match_ticket(_mail(text_body="", html_body=f"<div>{keys.marker('111111')}</div>"),
                             INDEX.get, TICKETS.get, keys=keys)
    assert (html_only.ticket_number, html_only.matched_by) == ("111111", "marker")
