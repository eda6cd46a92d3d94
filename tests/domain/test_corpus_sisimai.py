"""Robustness over the real-world sisimai corpus beside the checkout (../shared/corpus).

Opt-in by nature: the folder exists on developer machines and in CI, not in a user's checkout, so
the tests skip with a reason when it is absent. Files under bsd/ that detect_auto_reply does not
flag are reported as a warning, not a failure, until the rule set is settled.
"""
from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import pytest

from shared_code.domain.autoreply import detect_auto_reply
from shared_code.domain.mail import parse_mail

CORPUS = Path(os.environ.get("DESKMAIL_SISIMAI_DIR", Path(__file__).resolve().parents[3] / "shared" / "corpus" / "sisimai-set-of-emails"))

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(not CORPUS.is_dir(), reason=f"sisimai corpus not found at {CORPUS} (only beside the checkout)"),
]


def _files(folder: str = "") -> list[Path]:
    return sorted((CORPUS / folder).rglob("*.eml")) if CORPUS.is_dir() else []


def test_parse_mail_never_raises_on_the_corpus():
    slow = []
    for path in _files():
        started = time.monotonic()
        mail = parse_mail(path.read_bytes())
        elapsed = time.monotonic() - started
        assert isinstance(mail.text_body, str), path
        assert all(isinstance(part.data, bytes) for part in mail.parts), path
        if elapsed > 2:
            slow.append(f"{path.name}: {elapsed:.1f}s")
    assert not slow, slow


def test_detect_auto_reply_flags_bsd_files():
    files = _files("bsd")
    misses = []
    for path in files:
        mail = parse_mail(path.read_bytes())
        if detect_auto_reply(mail) is None:
            misses.append(f"{path.name} (from {mail.from_address or '?'}: {mail.subject[:60]!r})")
    if misses:
        report = f"{len(misses)} of {len(files)} bsd/ files not flagged as automatic:\n  " + "\n  ".join(misses)
        print(report)
        warnings.warn(report, UserWarning, stacklevel=1)
    assert len(files) > 0
