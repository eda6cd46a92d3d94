"""Conformance over real-world mail: ../shared/corpus/sisimai-set-of-emails (marker `corpus`).

The corpus sits beside the checkout in CI and on developer machines, not on users' machines,
and is not copied into the project: this test runs when the folder exists and is skipped,
saying where it looked, when it does not (``DESKMAIL_CORPUS`` may point elsewhere). Deselect
it with ``-m "not corpus"``.

A representative subset — every file of not/ and err/, every 10th file of bsd/ (bounces,
feedback reports, auto-replies) — goes through the real inbound path: Graph fake →
fetch_account (batch size 100, run until a run fetches nothing) → pipeline → Azurite. The whole
corpus runs with ``benchmarks/corpus_conformance.py``; its results are in
docs/corpus-conformance.md.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("DESKMAIL_CORPUS")
              or REPO_ROOT.parent / "shared" / "corpus" / "sisimai-set-of-emails")

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(not (CORPUS / "bsd").is_dir(),
                       reason=f"real-world corpus not found at {CORPUS} (it is beside the "
                              "checkout as ../shared/corpus/ in CI and on developer machines "
                              "only; set DESKMAIL_CORPUS to use another copy)"),
]

BSD_EVERY = 10
MAX_RUNS = 20
# not/ files a helpdesk rightly discards although the corpus lists them as "not a bounce"
# (sisimai cannot decode them as bounces; they are still automatic mail):
NOT_BOUNCES_DISCARDED = {
    # From postmaster@, Return-Path <>, Auto-Submitted: auto-replied, "email bounce notification"
    "rb-issue-368-bug.eml",
}


def _subset() -> list[Path]:
    def files(folder: str) -> list[Path]:
        return sorted(p for p in (CORPUS / folder).iterdir() if p.is_file())

    return files("not") + files("err") + files("bsd")[::BSD_EVERY]


def _looks(path: Path) -> str:
    """One line on what a mail looks like, for the failure messages."""
    from shared_code.domain.mail import parse_mail

    mail = parse_mail(path.read_bytes())
    return f"From {mail.from_address or '?'}, Subject {mail.subject[:60]!r}, {mail.content_type}"


def test_corpus_subset_through_the_inbound_path(app_env, mailbox_app, graph):
    from shared_code.services.fetch import fetch_account
    from shared_code.services.helpdesk import Helpdesk
    from tests.integration.helpers import SUPPORT, add_account

    graph.add_mailbox(SUPPORT)
    add_account(mailbox_app, SUPPORT, "--batch-size", "100")
    files = _subset()
    by_id = {graph.add_message(SUPPORT, path.read_bytes()): path for path in files}

    escaped, account_errors = [], []
    for _ in range(MAX_RUNS):
        try:
            summary = fetch_account(Helpdesk.from_env(), SUPPORT)
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            escaped.append(f"{type(error).__name__}: {error}")
            break
        account_errors += [e for e in summary.errors if not e.startswith("mail ")]
        if summary.fetched == 0 or account_errors:
            break
    assert not escaped, f"exceptions escaped fetch_account: {escaped}"
    assert not account_errors, f"the account's fetch failed: {account_errors}"
    assert summary.fetched == 0, f"mailbox still fetching after {MAX_RUNS} runs (stuck?)"

    ledger = {row["graph_id"]: row for row in Helpdesk.from_env().ledger.list(SUPPORT)}
    unfinished = [f"{path.parent.name}/{path.name} (ledger "
                  f"{(ledger.get(gid) or {}).get('state', 'missing')}, "
                  f"read {graph.get_message(SUPPORT, gid)['isRead']})"
                  for gid, path in by_id.items()
                  if (ledger.get(gid) or {}).get("state") != "done"
                  or not graph.get_message(SUPPORT, gid)["isRead"]]
    assert not unfinished, f"{len(unfinished)} mails not finished and marked read: {unfinished}"

    def outcome(gid: str) -> str:
        return ledger[gid].get("outcome", "")

    bsd_tickets = [f"bsd/{path.name} -> {outcome(gid)} #{ledger[gid].get('ticket')}: {_looks(path)}"
                   for gid, path in by_id.items()
                   if path.parent.name == "bsd" and outcome(gid) in ("created", "threaded")]
    # a duplicate Message-ID is fine, unless the first copy became a ticket
    bsd_tickets += [f"bsd/{path.name} -> duplicate of a ticket ({ledger[gid].get('reason')})"
                    for gid, path in by_id.items()
                    if path.parent.name == "bsd" and outcome(gid) == "duplicate"
                    and re.search(r"ticket #\d+", ledger[gid].get("reason", ""))]
    not_tickets = [f"not/{path.name} -> {outcome(gid)} ({ledger[gid].get('reason', '')}): {_looks(path)}"
                   for gid, path in by_id.items()
                   if path.parent.name == "not" and path.name not in NOT_BOUNCES_DISCARDED
                   and outcome(gid) not in ("created", "threaded")]
    bsd_count = sum(1 for p in files if p.parent.name == "bsd")
    assert not bsd_tickets, (
        f"{len(bsd_tickets)} of {bsd_count} bsd/ mails (bounces, reports, auto-replies) became "
        "tickets (detection gaps, see docs/corpus-conformance.md):\n  " + "\n  ".join(bsd_tickets))
    assert not not_tickets, "ordinary mails of not/ did not become tickets:\n  " + "\n  ".join(not_tickets)
