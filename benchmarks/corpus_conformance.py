"""Conformance run over the real-world corpus ../shared/corpus/sisimai-set-of-emails.

Run from the repository root::

    .venv/bin/python benchmarks/corpus_conformance.py                  # every file of bsd/ err/ not/
    .venv/bin/python benchmarks/corpus_conformance.py --every 10       # every 10th file per folder
    .venv/bin/python benchmarks/corpus_conformance.py --markdown out.md --json out.json

Every file goes through the real inbound path, as in benchmarks/inbound.py: the Graph fake
(a child process) holds the mail, this process runs ``fetch_account`` (a fresh ``Helpdesk`` per
run, account batch size 100) until a run fetches nothing, and a real Azurite stores the result.
Each folder gets its own mailbox; files are delivered in name order.

Reported per folder: counts per outcome (created, threaded, discarded, duplicate, ignored,
quarantined, vanished, and "stuck" for a mail left unread or with an unfinished ledger row),
the histogram of the auto-reply rules that discarded mail, and the misclassified files:

* bsd/ files that became a ticket (they should all be discarded or quarantined), and those that
  caused an auto-response;
* not/ files that did not become a ticket;
* any mail whose processing raised (quarantined or retried), any exception escaping
  ``fetch_account``, any account-level fetch error, and whether a mailbox got stuck.

The corpus is not part of the project (see its README): this script only reads it.
The folder is absent on users' machines; the script then says so and exits with status 2.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.harness import (  # noqa: E402  (the shared harness of the benchmarks)
    DOMAIN,
    BenchmarkTimeout,
    Stack,
    machine,
    time_budget,
)

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "sisimai-set-of-emails"
FOLDERS = ("bsd", "err", "not")
TICKET = ("created", "threaded")
RULE = re.compile(r"\(rule: ([^)]+)\)")


def corpus_files(corpus: Path, folder: str, every: int = 1) -> list[Path]:
    """The folder's files in name order (every `every`-th one)."""
    files = sorted(p for p in (corpus / folder).iterdir() if p.is_file())
    return files[::every]


def header_summary(raw: bytes) -> str:
    """One line saying what a mail looks like: sender, subject, type, the automation headers."""
    from shared_code.domain.mail import parse_mail

    mail = parse_mail(raw)
    kind = mail.content_type + (f"; report-type={mail.report_type}" if mail.report_type else "")
    signals = [f"{name}: {mail.header(name)[:40]}"
               for name in ("auto-submitted", "x-auto-response-suppress", "precedence",
                            "x-failed-recipients", "list-id")
               if name in mail.headers]
    if (mail.header("return-path") or "").strip().replace(" ", "") == "<>":
        signals.append("return-path: <>")
    signal_text = ", ".join(signals) or "none"
    return (f"From {mail.from_address or mail.header('from') or '(none)'}, "
            f"Subject {mail.subject[:70]!r}, {kind}; automation headers: {signal_text}")


def drain_recording(stack: Stack, address: str, max_runs: int = 60) -> dict:
    """fetch_account until a run fetches nothing; exceptions escaping it are recorded, not
    raised. Returns the runs, escaped exceptions, account errors and per-mail errors."""
    from shared_code.services.fetch import fetch_account

    runs, escaped, account_errors, mail_errors = 0, [], [], []
    drained, failing = False, 0
    for _ in range(max_runs):
        runs += 1
        try:
            summary = fetch_account(stack.desk(), address)
        except Exception as error:  # noqa: BLE001 - that is what we are looking for
            escaped.append(f"{type(error).__name__}: {error}")
            failing += 1
        else:
            run_errors = [e for e in summary.errors if not e.startswith("mail ")]
            mail_errors += [e for e in summary.errors if e.startswith("mail ")]
            account_errors += run_errors
            if summary.skipped:
                account_errors.append(f"skipped: {summary.skipped}")
                break
            if summary.fetched == 0 and not run_errors:
                drained = True
                break
            failing = failing + 1 if run_errors else 0
        if failing >= 5:
            break  # the account keeps failing: report it instead of spinning
    return {"runs": runs, "escaped": escaped, "account_errors": account_errors,
            "mail_errors": mail_errors, "drained": drained}


def run_folder(stack: Stack, corpus: Path, folder: str, every: int) -> dict:
    files = corpus_files(corpus, folder, every)
    address = f"corpus-{folder}@{DOMAIN}"
    stack.add_account(address, batch_size=100)
    raws = [path.read_bytes() for path in files]
    ids = stack.fakes.add_messages(address, raws)
    started = time.perf_counter()
    drained = drain_recording(stack, address)
    seconds = time.perf_counter() - started

    desk = stack.desk()
    ledger = {row["graph_id"]: row for row in desk.ledger.list(address)}
    unread = set(stack.fakes.unread(address))
    auto_responses = _auto_response_tickets(desk)
    per_file, outcomes, rules = [], Counter(), Counter()
    for path, raw, graph_id in zip(files, raws, ids):
        row = ledger.get(graph_id) or {}
        outcome = row.get("outcome") or "stuck"
        if row.get("state") != "done" or graph_id in unread:
            outcome = "stuck"
        outcomes[outcome] += 1
        rule = ""
        if outcome == "discarded":
            found = RULE.search(row.get("reason", ""))
            rule = found.group(1) if found else "?"
            rules[rule] += 1
        per_file.append({
            "file": f"{folder}/{path.name}", "outcome": outcome, "rule": rule,
            "reason": row.get("reason", ""), "error": row.get("error", ""),
            "attempts": row.get("attempts", 0), "ticket": row.get("ticket", ""),
            "auto_response": row.get("ticket", "") in auto_responses,
            "unread": graph_id in unread, "ledger_state": row.get("state", "(none)"),
            "headers": header_summary(raw),
        })
    return {"folder": folder, "files": len(files), "seconds": round(seconds, 1),
            "mails_per_second": round(len(files) / seconds, 1) if seconds else None,
            "outcomes": dict(outcomes.most_common()), "rules": dict(rules.most_common()),
            **drained, "per_file": per_file}


def _auto_response_tickets(desk) -> set[str]:
    """Tickets for which an auto-response to the client was queued (its `n-` row in the
    ticket's partition of `tickets`)."""
    from azure.data.tables import TableClient

    with TableClient.from_connection_string(os.environ["AzureWebJobsStorage"], "tickets") as table:
        try:
            return {e.get("ticket", "") for e in table.query_entities(
                "RowKey ge 'n-' and RowKey lt 'n.' and template eq 'new_ticket_auto_response'")}
        except Exception:  # noqa: BLE001 - no tickets table: no notification at all
            return set()


def misclassified(folder_result: dict) -> list[dict]:
    """Files whose fate contradicts the corpus README (or that crashed / got stuck)."""
    out = []
    for item in folder_result["per_file"]:
        folder, outcome = folder_result["folder"], item["outcome"]
        why = None
        if outcome == "stuck":
            why = "stuck: not finished (unread or ledger not done)"
        elif folder == "bsd" and outcome in TICKET:
            why = f"bsd/ mail became a ticket ({outcome} #{item['ticket']})" + (
                ", auto-response enqueued" if item["auto_response"] else "")
        elif folder == "bsd" and outcome == "duplicate" and "ticket #" in item["reason"]:
            why = ("bsd/ mail has the Message-ID of a mail that became a ticket ("
                   + item["reason"].rsplit("(", 1)[-1].rstrip(")") + "): first in, it would be one")
        elif folder == "not" and outcome not in TICKET:
            why = f"not/ mail did not become a ticket ({outcome}" + (
                f", rule {item['rule']})" if item["rule"] else ")")
        elif outcome == "quarantined" or item["error"]:
            why = f"processing raised ({outcome} after {item['attempts']} attempts): {item['error'][:150]}"
        if why:
            out.append({**item, "why": why})
    return out


def auto_responses(folder_result: dict) -> int:
    """How many of the folder's mails caused an auto-response to be enqueued."""
    return sum(1 for item in folder_result["per_file"] if item["auto_response"])


def markdown(results: dict) -> str:
    """The results as Markdown (tables of counts and rules, misclassified files)."""
    folders = results["folders"]
    run = results["machine"]
    changed = (f", uncommitted: {', '.join(run['uncommitted_app_files'])}"
               if run["uncommitted_app_files"] else "")
    sample = "every file" if results["every"] == 1 else f"every {results['every']}th file"
    head = [f"Run {run['date']}, commit `{run['commit']}`{changed}; {sample} of each folder.", ""]
    outcome_names = ["created", "threaded", "discarded", "duplicate", "ignored", "quarantined",
                     "vanished", "stuck"]
    lines = head + ["| Folder | Files | " + " | ".join(outcome_names) + " | Runs | Seconds |",
                    "|---|---:|" + "---:|" * len(outcome_names) + "---:|---:|"]
    for f in folders:
        lines.append(f"| {f['folder']}/ | {f['files']} | "
                     + " | ".join(str(f["outcomes"].get(n, 0)) for n in outcome_names)
                     + f" | {f['runs']} | {f['seconds']} |")
    lines += ["", "Rules that discarded mail (first matching rule of `domain/autoreply.py`):", "",
              "| Rule | " + " | ".join(f"{f['folder']}/" for f in folders) + " |",
              "|---|" + "---:|" * len(folders)]
    all_rules = Counter()
    for f in folders:
        all_rules.update(f["rules"])
    for rule, _ in all_rules.most_common():
        lines.append(f"| `{rule}` | " + " | ".join(str(f["rules"].get(rule, 0)) for f in folders) + " |")
    lines += ["", "Robustness:", ""]
    for f in folders:
        lines.append(f"- {f['folder']}/: {len(f['escaped'])} exceptions escaped `fetch_account`, "
                     f"{len(f['account_errors'])} account-level errors, {len(f['mail_errors'])} "
                     f"per-mail processing errors, {auto_responses(f)} auto-responses enqueued, "
                     f"mailbox {'drained (a final run fetched nothing)' if f['drained'] else 'STUCK'}.")
    lines += ["", "Misclassified files:", ""]
    wrong = [m for f in folders for m in misclassified(f)]
    if not wrong:
        lines.append("None.")
    else:
        lines += ["| File | What happened | What the mail looks like |", "|---|---|---|"]
        for m in wrong:
            lines.append(f"| `{m['file']}` | {m['why']} | {m['headers'].replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def run(args) -> dict:
    corpus = Path(args.corpus)
    results = {"machine": machine(), "corpus": str(corpus), "every": args.every, "folders": []}
    with Stack() as stack:
        for folder in args.folders:
            print(f"[{time.strftime('%H:%M:%S')}] {folder}/", file=sys.stderr, flush=True)
            results["folders"].append(run_folder(stack, corpus, folder, args.every))
    return results


def print_report(results: dict) -> None:
    for f in results["folders"]:
        print(f"{f['folder']}/: {f['files']} files in {f['seconds']} s, {f['runs']} runs: "
              + ", ".join(f"{k} {v}" for k, v in f["outcomes"].items()))
        if f["rules"]:
            print("   rules: " + ", ".join(f"{k} {v}" for k, v in f["rules"].items()))
        print(f"   escaped exceptions {len(f['escaped'])}, account errors "
              f"{len(f['account_errors'])}, per-mail errors {len(f['mail_errors'])}, "
              f"auto-responses {auto_responses(f)}, {'drained' if f['drained'] else 'STUCK'}")
        for m in misclassified(f):
            print(f"   MISCLASSIFIED {m['file']}: {m['why']}\n      {m['headers']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS), help="the sisimai-set-of-emails folder")
    parser.add_argument("--folders", nargs="+", default=list(FOLDERS), choices=FOLDERS)
    parser.add_argument("--every", type=int, default=1, help="take every N-th file of each folder")
    parser.add_argument("--markdown", metavar="FILE", help="write the results as Markdown here")
    parser.add_argument("--json", metavar="FILE", help="write the full results as JSON here")
    parser.add_argument("--budget", type=int, default=900, help="abort after this many seconds")
    args = parser.parse_args(argv)
    if not Path(args.corpus, "bsd").is_dir():
        print(f"corpus not found at {args.corpus} (it exists in CI and on developer machines, "
              "beside the checkout as ../shared/corpus/)", file=sys.stderr)
        return 2
    try:
        with time_budget(args.budget):
            results = run(args)
    except BenchmarkTimeout as stop:
        print(f"conformance run aborted: {stop}", file=sys.stderr)
        return 2
    results["finished"] = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print_report(results)
    if args.markdown:
        Path(args.markdown).write_text(markdown(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")
    broken = any(f["escaped"] or f["account_errors"] or not f["drained"] for f in results["folders"])
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
