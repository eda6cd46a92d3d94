"""Rules 0-5 of the inbound pipeline on the in-memory ports (no Azurite, no fakes).

The storage-backed tests of tests/pipeline/ keep covering the same rules against Azurite; the
contract suite (tests/contract/) is what makes these results stand for the real adapters.
Rules 6-7 are in test_store_in_memory.py."""
from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime, timezone

from shared_code.adapters.names import ATTACHMENTS
from shared_code.domain.model import Party, Priority, Status, Ticket
from shared_code.pipeline import RULES, run_pipeline
from shared_code.pipeline.already_seen import already_seen, check_seen, fingerprint
from shared_code.pipeline.auto_reply import auto_reply
from shared_code.pipeline.clipping import NO_SENDER, clipping
from shared_code.pipeline.content import content
from shared_code.pipeline.from_ourselves import from_ourselves
from shared_code.pipeline.sender import HELPDESK_SPOOF, STAFF_SPOOF
from shared_code.pipeline.store import ticket_or_message
from shared_code.pipeline.thread_match import thread_match
from tests.fakes.exchange import sent_inside
from tests.pipeline import compose, inbound

from ..conftest import SALES, SUPPORT

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n" + b"%" * 200
AGENT = "agent@contoso.example"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _through(rule, mail, ctx):
    """The rules before `rule`, as run_pipeline runs them; none may decide."""
    for earlier in RULES[:RULES.index(rule) + 1]:
        earlier(mail, ctx)
        if earlier is not rule:
            assert mail.outcome is None, f"{earlier.__name__}: {mail.reason}"
    return mail


def _ticket(ctx, number: str, client: str = "ann@example.org", collaborators=()) -> None:
    ctx.tickets.add(Ticket(number=number, subject="Printer on fire", status=Status.OPEN,
                           priority=Priority.NORMAL, client=Party("Ann", client),
                           department="Support", collaborators=list(collaborators),
                           created=datetime(2026, 11, 27, tzinfo=timezone.utc)))


# -- rule 0: clipping --------------------------------------------------------------------------
def test_a_mail_without_a_sender_is_discarded_and_nothing_is_written(ctx):
    mail = run_pipeline(inbound(compose(sender=None)), ctx)

    assert (mail.outcome, mail.reason) == ("discarded", NO_SENDER)
    assert ctx.index.rows == {} and ctx.blobs.containers == {} and ctx.syslog.entries == []


def test_an_overlong_subject_is_clipped_and_named(ctx):
    mail = inbound(compose(subject="x" * 5000))

    clipping(mail, ctx)

    assert mail.outcome is None and "subject" in mail.clipped
    assert len(mail.parsed.subject) < 5000


# -- rule 1: already_seen ----------------------------------------------------------------------
def test_a_message_id_processed_before_is_a_duplicate(ctx):
    ctx.index.record("seen@example.org", "482913", "outbound", entry_id="E1")
    mail = inbound(compose(message_id="< seen@example.org >"))

    already_seen(mail, ctx)
    check_seen(mail, ctx)  # a mail that cannot be a reply is checked by its claim, later

    assert mail.outcome == "duplicate" and "#482913" in mail.reason


def test_a_half_done_claim_is_resumed_and_the_rule_only_reads(ctx):
    mail = inbound(compose(message_id="<claimed@example.org>"))
    ctx.index.claim("claimed@example.org", {"ticket": "482913", "entry_id": "E1",
                                            "new_ticket": True, "fingerprint": fingerprint(mail)})
    fresh = inbound(compose(message_id="<fresh@example.org>"))

    for each in (mail, fresh):
        already_seen(each, ctx)
        check_seen(each, ctx)

    assert (mail.outcome, mail.resumed, mail.claim["ticket"]) == (None, True, "482913")
    assert (fresh.key, fresh.claim) == ("fresh@example.org", None)
    assert ctx.index.get("fresh@example.org") is None


def test_a_different_mail_reusing_a_message_id_gets_its_own_key(ctx):
    first = inbound(compose(subject="One", message_id="<reused@scanner.example>"))
    ctx.index.record("reused@scanner.example", "482913", "inbound")
    ctx.index.update("reused@scanner.example", {"fingerprint": fingerprint(first)})
    other = inbound(compose(subject="Another", message_id="<reused@scanner.example>"))

    already_seen(other, ctx)
    check_seen(other, ctx)

    assert other.outcome is None
    assert other.key.startswith("graph-") and other.key.endswith("@" + ctx.settings.system_domain)


# -- rule 2: from_ourselves --------------------------------------------------------------------
def test_proven_own_mail_is_ignored_quietly(ctx):
    mail = inbound(sent_inside(compose(sender=f"Sales <{SALES.upper()}>")))

    _through(from_ourselves, mail, ctx)

    assert mail.outcome == "ignored" and SALES in mail.reason
    assert ctx.syslog.entries == []


def test_a_forged_own_address_is_discarded_and_logged(ctx):
    mail = inbound(compose(sender=f"Support <{SUPPORT}>"))

    _through(from_ourselves, mail, ctx)

    assert mail.outcome == "discarded" and mail.reason.startswith(f"spoofed helpdesk address {SUPPORT}")
    [entry] = ctx.syslog.list()
    assert (entry["title"], entry["level"], entry["account"]) == (HELPDESK_SPOOF, "warning", SUPPORT)


# -- rule 3: auto_reply ------------------------------------------------------------------------
def test_an_auto_reply_is_discarded_naming_the_rule(ctx):
    mail = _through(auto_reply, inbound(compose(subject="Out of office",
                                                headers={"Auto-Submitted": "auto-replied"})), ctx)

    assert mail.outcome == "discarded" and mail.reason.startswith("auto-reply or bounce")


def test_an_allowed_sender_skips_the_auto_reply_rules(ctx):
    ctx.settings = replace(ctx.settings, auto_reply_allowed_senders=("@example.org",))
    mail = _through(auto_reply, inbound(compose(headers={"Auto-Submitted": "auto-generated"})), ctx)

    assert mail.outcome is None


# -- rule 4: threading -------------------------------------------------------------------------
def test_in_reply_to_a_known_message_threads(ctx):
    ctx.index.record("auto-response-1@deskmail.local", "482913", "outbound")
    mail = inbound(compose(subject="Re: received", in_reply_to="<auto-response-1@deskmail.local>"))

    _through(thread_match, mail, ctx)

    assert mail.thread is not None and mail.thread.ticket_number == "482913"


def test_the_subject_tag_threads_a_participant_and_not_a_stranger(ctx):
    _ticket(ctx, "482913", collaborators=["bob@example.org"])
    bob = inbound(compose(subject="Re: [#482913] Printer", sender="Bob <bob@example.org>"))
    stranger = inbound(compose(subject="[#482913] hijack", sender="Mallory <mallory@example.net>"))
    missing = inbound(compose(subject="Re: [#999999] Printer"))

    for mail in (bob, stranger, missing):
        _through(thread_match, mail, ctx)

    assert (bob.thread.ticket_number, bob.thread.matched_by) == ("482913", "subject-tag")
    assert stranger.thread is None and missing.thread is None


def test_a_forged_staff_address_gets_no_subject_tag_and_is_logged(ctx):
    _ticket(ctx, "482913")
    ctx.staff_addresses.add(AGENT)
    mail = inbound(compose(subject="Re: [#482913] Printer", sender=f"Agent <{AGENT}>"))

    _through(ticket_or_message, mail, ctx)  # logged with its claim (rule 6), once

    assert mail.thread is None and mail.outcome == "created"
    assert [e["title"] for e in ctx.syslog.list()] == [STAFF_SPOOF]


# -- rule 5: content ---------------------------------------------------------------------------
def test_files_are_stored_once_by_content_hash_and_linked(ctx):
    raw = compose(html='<p>Hi <img src="cid:logo@x"></p>',
                  related=[("logo.png", "image/png", PNG, "logo@x")],
                  attachments=[("report.pdf", "application/pdf", PDF),
                               ("again.pdf", "application/pdf", PDF)])
    mail = _through(content, inbound(raw), ctx)
    _through(content, inbound(raw), ctx)  # a second mail with the same files

    assert ctx.blobs.names(ATTACHMENTS) == sorted([_sha(PNG), _sha(PDF)])
    assert ctx.blobs.get(ATTACHMENTS, _sha(PNG)) == PNG
    assert f"attachment:{_sha(PNG)}/logo.png" in mail.content.body_html
    assert [(a.name, a.inline) for a in mail.attachments] == [
        ("logo.png", True), ("report.pdf", False), ("again.pdf", False)]


def test_an_attachment_over_the_limit_is_refused_and_logged_once(ctx):
    ctx.settings = replace(ctx.settings, max_attachment_bytes=len(PDF) - 1)
    mail = _through(content, inbound(compose(attachments=[("a.pdf", "application/pdf", PDF),
                                                          ("b.pdf", "application/pdf", PDF)])), ctx)

    assert mail.attachments == [] and ctx.blobs.names(ATTACHMENTS) == []
    [entry] = ctx.syslog.list()
    assert entry["title"] == "Attachment not stored" and "2 attachments" in entry["message"]


def test_a_plain_mail_writes_nothing_through_rule_5(ctx):
    mail = _through(content, inbound(compose()), ctx)

    assert mail.outcome is None and "printer is on fire" in mail.content.body_text
    assert ctx.blobs.containers == {} and ctx.index.rows == {} and ctx.queues.queues == {}


# -- a replay: a claim made by an earlier run ----------------------------------------------------
def test_a_replay_of_a_claimed_reply_skips_rules_2_to_4_and_keeps_its_thread(ctx):
    raw = compose(subject="Out of office", sender=f"Support <{SUPPORT}>",
                  headers={"Auto-Submitted": "auto-replied"}, message_id="<replayed@example.org>")
    mail = inbound(raw)
    ctx.index.claim("replayed@example.org", {"ticket": "482913", "entry_id": "E7",
                                             "new_ticket": False, "matched_by": "references",
                                             "fingerprint": fingerprint(mail)})

    mail = _through(content, mail, ctx)

    assert (mail.outcome, mail.resumed) == (None, True)  # neither spoof nor auto-reply again
    assert (mail.thread.ticket_number, mail.thread.matched_by) == ("482913", "references")
    assert ctx.syslog.entries == []
