"""Two diagnostics of the inbound benchmark that are not targets: the import time of
``function_app`` (cold start) and a cProfile of one fetch run (``inbound.py --profile``)."""
from __future__ import annotations

import cProfile
import io
import pstats
import re
import statistics
import subprocess
import sys
import time

from benchmarks.harness import DOMAIN, ROOT, Stack
from benchmarks.mails import mixed_mails


def measure_import(repeats: int) -> dict:
    python = sys.executable

    def timed(code: str) -> float:
        started = time.perf_counter()
        subprocess.run([python, "-c", code], cwd=ROOT, check=True, timeout=60,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - started

    timed("import function_app")  # warm the file cache and the .pyc files
    app = [timed("import function_app") for _ in range(repeats)]
    bare = [timed("pass") for _ in range(repeats)]
    result = subprocess.run([python, "-X", "importtime", "-c", "import function_app"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, check=True)
    rows = []
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if match:
            rows.append((int(match.group(1)), int(match.group(2)), len(match.group(3)) // 2,
                         match.group(4)))
    total = next((cum for _, cum, _, name in rows if name == "function_app"), None)
    by_self = sorted(rows, reverse=True)[:5]
    # cumulative, for what function_app pulls in (nesting level 1: its direct imports and the
    # heavy leaves below them are listed by self time above)
    nested = [r for r in rows if r[2] >= 1 and r[3] != "function_app"]
    by_cumulative = sorted(nested, key=lambda r: r[1], reverse=True)[:5]
    return {
        "repeats": repeats,
        "import_function_app_ms": round(1000 * statistics.median(app), 1),
        "python_pass_ms": round(1000 * statistics.median(bare), 1),
        "import_cost_ms": round(1000 * (statistics.median(app) - statistics.median(bare)), 1),
        "importtime_function_app_cumulative_ms": round(total / 1000, 1) if total else None,
        "top_self": [{"module": n, "self_ms": round(s / 1000, 1), "cumulative_ms": round(c / 1000, 1)}
                     for s, c, _, n in by_self],
        "top_cumulative": [{"module": n, "self_ms": round(s / 1000, 1),
                            "cumulative_ms": round(c / 1000, 1)} for s, c, _, n in by_cumulative],
    }


# ============================================================================ profile


#: (label, file name ending, function name) of the entries whose cumulative time the profile
#: summary reports; built-ins have the file name "~".
PROFILE_ENTRIES = (
    ("fetch_account (the whole run)", "shared_code/services/fetch.py", "fetch_account"),
    ("storage requests: azure-core Pipeline.run, all of them", "azure/core/pipeline/_base.py", "run"),
    ("  socket recv_into (waiting for the answers, the CPU and the GIL)", "~",
     "<method 'recv_into' of '_socket.socket' objects>"),
    ("  socket sendall (also waits for the GIL and the CPU)", "~",
     "<method 'sendall' of '_socket.socket' objects>"),
    ("  requests: per-request environment lookups (proxies)", "requests/sessions.py",
     "merge_environment_settings"),
    ("  requests: per-request ~/.netrc lookups", "requests/utils.py", "get_netrc_auth"),
    ("parse_mail", "shared_code/domain/mail/parse.py", "parse_mail"),
    ("waiting for the download pool (Future.result)", "concurrent/futures/_base.py", "result"),
)


def _profile_summary(stats: pstats.Stats) -> list[dict]:
    rows = []
    for label, file_end, function in PROFILE_ENTRIES:
        calls, cumulative = 0, 0.0
        for (filename, _, name), (_, ncalls, _, cumtime, _) in stats.stats.items():
            if name == function and filename.replace("\\", "/").endswith(file_end):
                calls += ncalls
                cumulative += cumtime
        rows.append({"entry": label, "calls": calls, "cumulative_seconds": round(cumulative, 3)})
    own = sum(tottime for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items()
              if "/shared_code/" in filename.replace("\\", "/"))
    rows.append({"entry": "deskmail's own code (shared_code, self time)", "calls": None,
                 "cumulative_seconds": round(own, 3)})
    return rows


def profile_fetch(stack: Stack, mails: int = 100, top: int = 30) -> dict:
    """cProfile one fetch run of `mails` new mails (main thread only; the download pool's
    threads are not profiled, their time shows as waiting in the main thread)."""
    from shared_code.services.fetch import fetch_account

    address = f"bench-profile@{DOMAIN}"
    stack.add_account(address, batch_size=mails)
    raws, _ = mixed_mails(mails, address)
    stack.fakes.add_messages(address, raws)
    desk = stack.desk()
    profiler = cProfile.Profile()
    with stack.window() as window:
        summary = profiler.runcall(fetch_account, desk, address)
    wall, storage = window.wall, window.storage
    stats = pstats.Stats(profiler)
    out = io.StringIO()
    stats.stream = out
    stats.sort_stats("cumulative").print_stats(top)
    return {
        "mails": summary.fetched, "wall_seconds": round(wall, 3),
        "errors": summary.errors,
        "storage_requests_per_mail": round(sum(storage.values()) / max(1, summary.fetched), 2),
        "storage_requests_by_operation": dict(storage.most_common()),
        "summary": _profile_summary(stats),
        "top_cumulative": out.getvalue(),
    }




def print_diagnostics(results: dict) -> None:
    """The import-time and profile details, after the table."""
    f = results.get("import")
    if f:
        print(f"\nimport function_app: {f['import_cost_ms']:.0f} ms (median "
              f"{f['import_function_app_ms']:.0f} ms - python -c pass {f['python_pass_ms']:.0f} ms, "
              f"n={f['repeats']}); python -X importtime, top 5 by self time:")
        for row in f["top_self"]:
            print(f"     {row['self_ms']:8.1f} ms self {row['cumulative_ms']:8.1f} ms cum.  {row['module']}")
        print("   top 5 by cumulative time (below function_app):")
        for row in f["top_cumulative"]:
            print(f"     {row['cumulative_ms']:8.1f} ms cum.  {row['module']}")
    profile = results.get("profile")
    if profile:
        print(f"\nProfile of one fetch run of {profile['mails']} mails "
              f"({profile['wall_seconds']:.2f} s under cProfile, main thread):")
        for row in profile["summary"]:
            calls = f"{row['calls']:6d} calls" if row["calls"] is not None else " " * 12
            print(f"   {row['cumulative_seconds']:7.3f} s {calls}  {row['entry']}")
        print(profile["top_cumulative"])
