"""Import cost of the web framework, against the cold start of the other functions.

Each measurement is a fresh `python -X importtime` process (no Azurite, no fakes needed):

* `function_app`: what every cold start of a timer or queue function pays (the web app is
  mounted lazily, so FastAPI is not in it);
* `shared_code.web.app` alone, and on top of function_app (what the first HTTP request adds
  in a worker that has function_app loaded: the marginal import);
* the first request: function_app imported, then one GET of the development sign-in page
  through the Functions ASGI middleware, as the host calls it (import of the web app, building
  it, the lifespan start-up, the first Jinja2 template compiled), timed with perf_counter.

Prints a table of medians (ms) and the runs as JSON. `python -m benchmarks.import_cost [--runs 7]`
from the repository root.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FIRST_REQUEST = """
import asyncio, time
t0 = time.perf_counter()
import function_app
t1 = time.perf_counter()
import azure.functions as func
web = {f.get_function_name(): f for f in function_app.app.get_functions()}["http_app_func"]
request = func.HttpRequest(method="GET", url="http://localhost/auth/dev-login", headers={}, body=b"")
async def first():
    answer = await web.get_user_function()(request, None)
    assert answer.status_code == 200, answer.status_code
    await function_app.app.middleware.notify_shutdown()
asyncio.run(first())
function_app.app.startup_task_done = False
t2 = time.perf_counter()
print((t1 - t0) * 1000, (t2 - t1) * 1000)
"""


def _env() -> dict:
    env = dict(os.environ)
    env.update({"DESKMAIL_AUTH": "dev", "DESKMAIL_DEV_USERS": "admin@contoso.test:admin",
                "PYTHONPATH": str(ROOT)})
    return env


def import_ms(statement: str, module: str) -> float:
    """The cumulative import time of `module` (ms) as -X importtime reports it."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", statement], cwd=ROOT,
                         env=_env(), capture_output=True, text=True, check=True)
    for line in out.stderr.splitlines():
        parts = [part.strip() for part in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[2] == module:
            return int(parts[1]) / 1000
    raise RuntimeError(f"{module} not in the import times of {statement!r}")


def first_request_ms() -> tuple[float, float]:
    out = subprocess.run([sys.executable, "-c", FIRST_REQUEST], cwd=ROOT, env=_env(),
                         capture_output=True, text=True, check=True)
    imported, first = out.stdout.split()
    return float(imported), float(first)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    runs: dict[str, list[float]] = {name: [] for name in (
        "import function_app", "import shared_code.web.app", "web app on top of function_app",
        "function_app (perf_counter)", "first HTTP request")}
    for _ in range(args.runs):
        runs["import function_app"].append(import_ms("import function_app", "function_app"))
        runs["import shared_code.web.app"].append(
            import_ms("import shared_code.web.app", "shared_code.web.app"))
        runs["web app on top of function_app"].append(
            import_ms("import function_app, shared_code.web.app", "shared_code.web.app"))
        imported, first = first_request_ms()
        runs["function_app (perf_counter)"].append(imported)
        runs["first HTTP request"].append(first)
    print(f"{'measure':34} {'median ms':>10} {'min':>8} {'max':>8}")
    for name, values in runs.items():
        print(f"{name:34} {statistics.median(values):10.1f} {min(values):8.1f} {max(values):8.1f}")
    print(json.dumps({"runs": args.runs, "load_average": os.getloadavg()[0],
                      "ms": {k: [round(v, 1) for v in vals] for k, vals in runs.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
