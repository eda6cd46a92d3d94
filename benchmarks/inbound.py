"""Inbound benchmark: Graph fake -> fetch_account -> pipeline -> counting proxy -> Azurite.

Run from the repository root::

    .venv/bin/python benchmarks/inbound.py              # full run, a few minutes
    .venv/bin/python benchmarks/inbound.py --quick      # smoke run, under two minutes
    .venv/bin/python benchmarks/inbound.py --profile    # also cProfile one 100-mail fetch run

(``benchmarks/targets.py`` runs this and the outbound measures together and prints issue 7's
whole table.) Measured, in one run (the harness and its processes: ``benchmarks/harness.py``):

* storage requests per new-ticket mail, per reply threaded onto a ticket and per discarded
  auto-reply or bounce: one mailbox, one fetch run each of 60 new mails, then 30 replies to
  them, then 30 auto-replies and bounces, counted at the HTTP layer by the proxy; and what a
  fetch run that finds nothing costs;
* inbound end to end: mixed mail (new plain, new HTML with an inline image, a reply, an
  auto-reply or bounce), batch 100, ``fetch_account`` until a run fetches nothing: mails/s,
  CPU per mail of the app, Azurite, the proxy and the fakes;
* the floor in the same run: ``parse_mail`` + one table insert + one blob upload per mail of
  the same mix, through the app's own storage transport (``StorageConnection``) and the proxy;
  the app's CPU per mail as a ratio to it;
* inbound with 10 ms added to every storage request (the proxy) and 100 ms to every Graph
  request with at most 4 concurrent Graph requests per mailbox (the fake answers 429 beyond),
  as a % of 4 / (0.1 s x Graph requests per mail);
* peak RSS growth for one 25 MB mail with 10 inline images, in a fresh child process;
* the import time of ``function_app`` (not a target).

Every mail is checked (marked read in Graph, ledger row done, outcomes as expected); a failed
check is printed as a PROBLEM and the exit status is 1 (2 when the time budget ran out).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.harness import (  # noqa: E402
    DOMAIN, MB, BenchmarkError, Row, Stack, machine, run_main, step,
)
from benchmarks.mails import big_inline_mail, mixed_mails, phase_mails  # noqa: E402

TARGET_NEW_TICKET, TARGET_REPLY, TARGET_AUTO_REPLY = 5.0, 5.0, 3.0
TARGET_CPU_RATIO = 3.0
TARGET_MAILS_PER_SECOND = 60.0
TARGET_BOUND_RATIO = 0.8
TARGET_MEMORY_MB = 150.0
STORAGE_DELAY, GRAPH_LATENCY, GRAPH_LIMIT = 0.010, 0.100, 4


# ============================================================================ fetch runs


def fetch_once(stack: Stack, address: str):
    from shared_code.services.fetch import fetch_account

    return fetch_account(stack.desk(), address)


def drain(stack: Stack, address: str, max_runs: int = 50) -> list:
    """fetch_account until a run fetches nothing (a fresh Helpdesk per run, like the queue
    function); returns the FetchSummary of every run."""
    summaries = []
    for _ in range(max_runs):
        summary = fetch_once(stack, address)
        summaries.append(summary)
        if summary.skipped:
            raise BenchmarkError(f"fetch of {address} skipped: {summary.skipped}")
        if summary.fetched == 0:
            return summaries
    raise BenchmarkError(f"{address}: still fetching after {max_runs} runs (mailbox stuck?)")


def totals(summaries) -> Counter:
    out = Counter()
    for s in summaries:
        for name in ("fetched", "created", "threaded", "discarded", "duplicates", "ignored",
                     "quarantined"):
            out[name] += getattr(s, name)
        out["errors"] += len(s.errors)
    return out


def verify(stack: Stack, address: str, count: int, expected: Counter | None, got: Counter) -> list[str]:
    """Every mail read, every ledger row done, outcomes as expected; returns the problems."""
    problems = []
    unread = stack.fakes.unread(address)
    if unread:
        problems.append(f"{address}: {len(unread)} mails still unread")
    rows = stack.desk().ledger.list(address)
    states = Counter(str(getattr(row.get("state"), "value", row.get("state"))) for row in rows)
    if len(rows) != count or states.get("done", 0) != count:
        problems.append(f"{address}: ledger has {len(rows)} rows, states {dict(states)}, "
                        f"expected {count} done")
    if got["errors"]:
        problems.append(f"{address}: {got['errors']} errors in the fetch summaries")
    for name, value in (expected or {}).items():
        if got[name] != value:
            problems.append(f"{address}: {name} {got[name]}, expected {value}")
    return problems


def warm_up(stack: Stack) -> None:
    """Imports (MSAL, requests, the Azure SDKs), tables, containers, queues, the first token."""
    address = f"bench-warmup@{DOMAIN}"
    stack.add_account(address)
    raws, _ = mixed_mails(4, address)
    stack.fakes.add_messages(address, raws)
    drain(stack, address)


# ============================================================================ measures


def measure_phases(stack: Stack, new: int = 60, replies: int = 30, auto: int = 30) -> dict:
    """Storage requests per mail of each kind: one fetch run per phase in one mailbox (the
    earlier phases' mails stay in the listing's overlap window, as in production), then one
    run that finds nothing."""
    address = f"bench-phases@{DOMAIN}"
    stack.add_account(address, batch_size=100)
    out, problems, seen = {}, [], 0
    for name, (raws, expected) in zip(("new_ticket", "reply", "auto_reply"),
                                      phase_mails(address, new, replies, auto)):
        stack.fakes.add_messages(address, raws)
        seen += len(raws)
        with stack.window() as window:
            summary = fetch_once(stack, address)
        got = totals([summary])
        if got["fetched"] != len(raws):
            problems.append(f"phase {name}: one run fetched {got['fetched']} of {len(raws)}")
        problems += verify(stack, address, seen, expected + Counter(fetched=len(raws)),
                           got + Counter())
        out[name] = {"mails": len(raws), **window.per(len(raws))}
    with stack.window() as window:
        summary = fetch_once(stack, address)
    out["empty_run"] = {"fetched": summary.fetched, **window.per(1)}
    out["problems"] = problems
    return out


def measure_throughput(stack: Stack, mails: int, address: str | None = None) -> dict:
    """Mixed mail end to end, no injected latency: mails/s and CPU per mail."""
    address = address or f"bench-throughput@{DOMAIN}"
    stack.add_account(address, batch_size=100)
    raws, expected = mixed_mails(mails, address)
    stack.fakes.add_messages(address, raws)
    graph_before = stack.fakes.stats(address)
    with stack.window() as window:
        summaries = drain(stack, address)
    graph = stack.fakes.stats(address)
    got = totals(summaries)
    graph_requests = graph["graph_requests"] - graph_before["graph_requests"]
    return {
        "mails": got["fetched"], "runs": len(summaries), **window.per(got["fetched"]),
        "graph_requests_per_mail": round(graph_requests / max(1, got["fetched"]), 3),
        "graph_requests_by_kind": dict(Counter(graph["kinds"]) - Counter(graph_before["kinds"])),
        "graph_statuses": dict(Counter(graph["statuses"]) - Counter(graph_before["statuses"])),
        "graph_max_concurrency": graph["max_concurrency"],
        "outcomes": {k: v for k, v in got.items() if k != "fetched"},
        "problems": verify(stack, address, len(raws), expected, got),
    }


def measure_latency(stack: Stack, mails: int) -> dict:
    """The same mix with STORAGE_DELAY per storage request and GRAPH_LATENCY per Graph request,
    GRAPH_LIMIT concurrent Graph requests per mailbox; against the bound Graph allows."""
    stack.proxy.configure(STORAGE_DELAY)
    stack.fakes.configure(GRAPH_LATENCY, GRAPH_LIMIT)
    try:
        result = measure_throughput(stack, mails, f"bench-latency@{DOMAIN}")
    finally:
        stack.fakes.configure(0.0, None)
        stack.proxy.configure(0.0)
    bound = GRAPH_LIMIT / (GRAPH_LATENCY * result["graph_requests_per_mail"])
    result["bound_mails_per_second"] = round(bound, 1)
    result["ratio_to_bound"] = round((result["per_second"] or 0) / bound, 3)
    return result


def measure_floor(stack: Stack, mails: int) -> dict:
    """The floor: per mail of the mix, parse_mail + one table insert + one blob upload, through
    the app's own storage transport (StorageConnection) and the proxy, in this process."""
    from shared_code.adapters.storage import StorageConnection
    from shared_code.domain.mail import parse_mail

    raws, _ = mixed_mails(mails, f"bench-floor@{DOMAIN}")
    connection = StorageConnection(dict(os.environ))
    table = connection.table_service.create_table_if_not_exists("benchfloor")
    container = connection.blob_service.get_container_client("bench-floor")
    container.create_container()

    def one(i: int, raw: bytes) -> None:
        mail = parse_mail(raw)
        table.create_entity({"PartitionKey": f"{i % 97:05d}", "RowKey": f"{i:08d}",
                             "subject": mail.subject, "sender": mail.from_address or "",
                             "message_id": mail.message_id or "",
                             "body": (mail.text_body or "")[:30000]})
        container.upload_blob(f"{i:08d}.eml", raw)

    one(-1, raws[0])  # the connections and the code paths warm
    with stack.window() as window:
        for i, raw in enumerate(raws):
            one(i, raw)
    return {"mails": len(raws), **window.per(len(raws))}


def measure_proxy_overhead(stack: Stack, count: int = 200) -> dict:
    """What the instrument adds to one storage request: the same get_entity through the app's
    transport, straight to Azurite and through the proxy (wall and the proxy's CPU)."""
    from shared_code.adapters.storage import StorageConnection

    out = {"requests": count}
    for name, conn in (("direct", stack.direct_connection_string),
                       ("proxy", os.environ["AzureWebJobsStorage"])):
        table = StorageConnection({"AzureWebJobsStorage": conn}).table_service.get_table_client(
            "benchfloor")
        table.upsert_entity({"PartitionKey": "p", "RowKey": "r", "value": "x" * 200})
        with stack.window() as window:
            for _ in range(count):
                table.get_entity("p", "r")
        out[name] = {"wall_ms": round(1000 * window.wall / count, 3),
                     "app_cpu_ms": round(1000 * window.app_cpu / count, 3),
                     "azurite_cpu_ms": round(1000 * window.azurite_cpu / count, 3),
                     "proxy_cpu_ms": round(1000 * window.proxy_cpu / count, 3)}
    return out


# ============================================================================ memory, in a child


def memory_probe(warm: str, big: str) -> dict:
    """In a fresh process: fetch `warm` (one small mail), then `big` (the 25 MB mail)."""
    from shared_code.services.fetch import fetch_account
    from shared_code.services.helpdesk import Helpdesk

    def rss_mb() -> tuple[float, float]:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        current = 0.0
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                current = int(line.split()[1]) / 1024
        return peak, current

    warm_summary = fetch_account(Helpdesk.from_env(), warm)
    idle_peak, idle_rss = rss_mb()
    started = time.perf_counter()
    big_summary = fetch_account(Helpdesk.from_env(), big)
    seconds = time.perf_counter() - started
    peak, rss = rss_mb()
    return {
        "warm_up": {"fetched": warm_summary.fetched, "errors": warm_summary.errors},
        "big": {"fetched": big_summary.fetched, "created": big_summary.created,
                "errors": big_summary.errors, "seconds": round(seconds, 2)},
        "idle_peak_mb": round(idle_peak, 1), "idle_rss_mb": round(idle_rss, 1),
        "peak_mb": round(peak, 1), "rss_after_mb": round(rss, 1),
        "peak_growth_mb": round(peak - idle_peak, 1),
    }


def measure_memory(stack: Stack, timeout: float) -> dict:
    warm, big = f"bench-mem-warm@{DOMAIN}", f"bench-mem-big@{DOMAIN}"
    stack.add_account(warm)
    stack.add_account(big)
    stack.fakes.add_messages(warm, mixed_mails(1, warm)[0])
    raw, per_image = big_inline_mail(big)
    stack.fakes.add_messages(big, [raw])
    raw_mb = len(raw) / MB
    del raw
    result = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--memory-probe", warm, big],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=os.environ.copy())
    if result.returncode != 0:
        raise BenchmarkError(f"memory probe failed ({result.returncode}):\n{result.stderr[-3000:]}")
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    probe.update(raw_mail_mb=round(raw_mb, 1), images=10, image_mb=round(per_image / MB, 2))
    probe["inline_images_stored"] = _inline_images_stored(stack, big)
    return probe


def _inline_images_stored(stack: Stack, address: str) -> int | None:
    """How many inline attachments the big mail's ticket entries hold."""
    desk = stack.desk()
    for row in desk.ledger.list(address):
        if row.get("ticket"):
            entries = desk.tickets.entries(row["ticket"])
            return sum(1 for e in entries for a in e.attachments if a.inline)
    return None


# ============================================================================ the run


def run_inbound(stack: Stack, args, results: dict) -> None:
    """Every inbound measure into `results` (the stack is started and warm)."""
    step(f"request counts: {args.new} new mails, {args.replies} replies, {args.auto} auto-replies")
    results["phases"] = measure_phases(stack, args.new, args.replies, args.auto)
    step(f"end to end: {args.mails} mixed mails, no latency")
    results["throughput"] = measure_throughput(stack, args.mails)
    step(f"floor: {args.mails} x (parse_mail + 1 table insert + 1 blob upload)")
    results["floor"] = measure_floor(stack, args.mails)
    results["proxy_overhead"] = measure_proxy_overhead(stack, 100 if args.quick else 300)
    step(f"{args.latency_mails} mixed mails, storage +{STORAGE_DELAY * 1000:.0f} ms, "
         f"Graph +{GRAPH_LATENCY * 1000:.0f} ms, {GRAPH_LIMIT} at a time")
    results["latency"] = measure_latency(stack, args.latency_mails)
    step("one 25 MB mail with 10 inline images, in a child process")
    results["memory"] = measure_memory(stack, timeout=180)
    if getattr(args, "profile", False):
        from benchmarks.profiling import profile_fetch

        step("profile: one fetch run of 100 mails under cProfile")
        results["profile"] = profile_fetch(stack)
    results["problems"] += (results["phases"]["problems"] + results["throughput"]["problems"]
                            + results["latency"]["problems"])


def inbound_rows(results: dict) -> list[Row]:
    p, t, floor, lat, mem, o = (results[k] for k in ("phases", "throughput", "floor", "latency",
                                                     "memory", "proxy_overhead"))
    ratio = t["app_cpu_ms"] / floor["app_cpu_ms"] if floor["app_cpu_ms"] else float("inf")

    def per(phase: str) -> float:
        return p[phase]["storage_requests_per_item"]

    return [
        Row(f"storage requests per new-ticket mail (one run of {p['new_ticket']['mails']})",
            f"{per('new_ticket'):.2f}", f"<= {TARGET_NEW_TICKET:g}", per("new_ticket") <= TARGET_NEW_TICKET),
        Row(f"storage requests per reply threaded onto a ticket (one run of {p['reply']['mails']})",
            f"{per('reply'):.2f}", f"<= {TARGET_REPLY:g}", per("reply") <= TARGET_REPLY),
        Row(f"storage requests per discarded auto-reply or bounce (one run of {p['auto_reply']['mails']})",
            f"{per('auto_reply'):.2f}", f"<= {TARGET_AUTO_REPLY:g}", per("auto_reply") <= TARGET_AUTO_REPLY),
        Row("storage requests of a fetch run that finds nothing", f"{p['empty_run']['storage_requests']}"),
        Row("app CPU per inbound mail, ratio to the floor",
            f"{ratio:.1f}x ({t['app_cpu_ms']:.1f} ms / {floor['app_cpu_ms']:.1f} ms)",
            f"<= {TARGET_CPU_RATIO:g}x", ratio <= TARGET_CPU_RATIO),
        Row(f"inbound end to end, mixed mail ({t['mails']} mails, {t['runs']} runs)",
            f"{t['per_second']:.1f} mails/s", f">= {TARGET_MAILS_PER_SECOND:g} mails/s",
            t["per_second"] >= TARGET_MAILS_PER_SECOND),
        Row("  CPU per mail: app / Azurite / proxy / fakes",
            f"{t['app_cpu_ms']:.1f} / {t['azurite_cpu_ms']:.1f} / {t['proxy_cpu_ms']:.1f} / "
            f"{t['fakes_cpu_ms']:.1f} ms"),
        Row("  storage / Graph requests per mail (mixed)",
            f"{t['storage_requests_per_item']:.2f} / {t['graph_requests_per_mail']:.2f}"),
        Row("  the instrument: one get_entity direct / through the proxy (proxy CPU)",
            f"{o['direct']['wall_ms']:.2f} / {o['proxy']['wall_ms']:.2f} ms wall "
            f"({o['proxy']['proxy_cpu_ms']:.2f} ms)"),
        Row(f"inbound, storage +{STORAGE_DELAY * 1000:.0f} ms, Graph +{GRAPH_LATENCY * 1000:.0f} ms, "
            f"{GRAPH_LIMIT} at a time ({lat['mails']} mails)",
            f"{100 * lat['ratio_to_bound']:.0f} % ({lat['per_second']:.1f} of "
            f"{lat['bound_mails_per_second']:.1f} mails/s; {lat['graph_requests_per_mail']:.2f} "
            f"Graph requests per mail, max concurrency {lat['graph_max_concurrency']}, "
            f"429s {lat['graph_statuses'].get('429', 0)})",
            f">= {100 * TARGET_BOUND_RATIO:.0f} %", lat["ratio_to_bound"] >= TARGET_BOUND_RATIO),
        Row("peak memory, one 25 MB mail with 10 inline images",
            f"+{mem['peak_growth_mb']:.1f} MB ({mem['inline_images_stored']} images stored)",
            f"<= +{TARGET_MEMORY_MB:g} MB", mem["peak_growth_mb"] <= TARGET_MEMORY_MB),
    ]


def print_operations(results: dict) -> None:
    """Storage requests per mail by label, for each phase, after the table."""
    for phase in ("new_ticket", "reply", "auto_reply", "empty_run"):
        data = results["phases"][phase]
        print(f"\nstorage requests per mail by operation, phase {phase} "
              f"({data['storage_requests_per_item']:.2f}):")
        for op, count in data["storage_by_operation"].items():
            print(f"   {count:6.2f}  {op}")
        if data["non_2xx"]:
            print("   answered other than 2xx: " + ", ".join(f"{k}: {v}" for k, v in data["non_2xx"].items()))
    from benchmarks.profiling import print_diagnostics

    print_diagnostics(results)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="smoke run: fewer mails, under ~2 minutes")
    parser.add_argument("--mails", type=int, help="mixed mails end to end and for the floor "
                        "(default 300, quick 60)")
    parser.add_argument("--latency-mails", type=int, help="mixed mails with injected latency "
                        "(default 120, quick 40)")
    parser.add_argument("--json", metavar="FILE", help="write the JSON results here (else printed)")
    parser.add_argument("--budget", type=int, help="abort after this many seconds")


def inbound_defaults(args) -> None:
    args.new, args.replies, args.auto = 60, 30, 30
    args.mails = args.mails or (60 if args.quick else 300)
    args.latency_mails = args.latency_mails or (40 if args.quick else 120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("--profile", action="store_true", help="also cProfile one fetch run of 100 mails")
    parser.add_argument("--memory-probe", nargs=2, metavar=("WARM", "BIG"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_probe:
        print(json.dumps(memory_probe(*args.memory_probe)))
        return 0
    inbound_defaults(args)

    def run(args) -> dict:
        from benchmarks.profiling import measure_import

        results = {"machine": machine(), "args": vars(args), "problems": []}
        with Stack() as stack:
            step("warm-up")
            warm_up(stack)
            run_inbound(stack, args, results)
            results["problems"] += stack.proxy_problems()
        step("import time of function_app")
        results["import"] = measure_import(3 if args.quick else 7)
        return results

    return run_main(run, args, args.budget or (150 if args.quick else 900), inbound_rows,
                    print_operations)


if __name__ == "__main__":
    sys.exit(main())
