"""Robustness over the real-world sisimai corpus beside the checkout (../shared/corpus).

Opt-in by nature: the folder exists on developer machines and in CI, not in a user's checkout, so
the tests skip with a reason when it is absent. Every file under bsd/ (bounces, feedback
reports, auto-replies) must be flagged by detect_auto_reply, which is what keeps it from becoming
a ticket (inbound rule 3): a file that is not flagged fails the test, naming the file, so a
regression in the rules is visible instead of a warning nobody reads.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from shared_code.domain.autoreply import detect_auto_reply
from shared_code.domain.mail import parse_mail
from tests.work_budget import cpu_seconds

CORPUS = Path(os.environ.get("DESKMAIL_SISIMAI_DIR") or os.environ.get("DESKMAIL_CORPUS")
              or Path(__file__).resolve().parents[4] / "shared" / "corpus" / "sisimai-set-of-emails")

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(not CORPUS.is_dir(), reason=f"sisimai corpus not found at {CORPUS} (only beside the checkout)"),
]


def _files(folder: str = "") -> list[Path]:
    return sorted((CORPUS / folder).rglob("*.eml")) if CORPUS.is_dir() else []


def test_parse_mail_never_raises_on_the_corpus():
    slow = []
    for path in _files():
        mail, used = cpu_seconds(parse_mail, path.read_bytes())  # CPU work, not wall clock
        assert isinstance(mail.text_body, str), path
        assert all(isinstance(part.data, bytes) for part in mail.parts), path
        if used > 2:
            slow.append(f"{path.name}: {used:.1f} CPU seconds")
    assert not slow, slow


def bsd_files_that_would_become_tickets(files: list[Path]) -> list[str]:
    """The bsd/ files detect_auto_reply does not flag: the pipeline would make them tickets."""
    misses = []
    for path in files:
        mail = parse_mail(path.read_bytes())
        if detect_auto_reply(mail) is None:
            misses.append(f"{path.name} (from {mail.from_address or '?'}: {mail.subject[:60]!r})")
    return misses


def test_no_bsd_file_would_become_a_ticket():
    files = _files("bsd")
    assert len(files) > 600, f"only {len(files)} bsd/ files under {CORPUS}: incomplete corpus?"
    misses = bsd_files_that_would_become_tickets(files)
    assert not misses, (f"{len(misses)} of {len(files)} bsd/ files (bounces, reports, "
                        "auto-replies) are not flagged as automatic and would become tickets:\n  "
                        + "\n  ".join(misses))
