"""The README's run command works on its embedded defaults (one cycle, then it stops)."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_local_run_fetches_the_demo_mailbox():
    out = subprocess.run([sys.executable, "scripts/run_local.py", "--cycles", "2", "--interval", "1"],
                         cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "3 fetched, 2 new tickets, 0 replies, 1 discarded" in out.stdout
    assert "'Cannot log in' from ann@example.org" in out.stdout
    assert "local-demo-secret" not in out.stdout + out.stderr
    # the second cycle: the client's reply arrived and threads into the first ticket
    assert "1 fetched, 0 new tickets, 1 replies" in out.stdout
    assert "'Cannot log in' from ann@example.org, 2 message(s)" in out.stdout
