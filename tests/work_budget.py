"""A work budget for the "never hangs on hostile input" tests: CPU seconds of the calling thread.

A wall-clock bound fails on a loaded machine (two cores shared by several runs) although the
code did nothing wrong. The thread's CPU time counts only the work the code under test did,
not the time it waited for a core, so the budget catches super-linear behaviour (catastrophic
regex backtracking, quadratic loops) without depending on the machine's load.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def cpu_budget(seconds: float, what: str = "the code under test") -> Iterator[None]:
    started = time.thread_time()
    yield
    used = time.thread_time() - started
    assert used < seconds, f"{what} used {used:.1f} CPU seconds (budget {seconds:g})"


def cpu_seconds(function, *args, **kwargs) -> tuple[object, float]:
    """`function(*args, **kwargs)` and the CPU seconds this thread spent on it."""
    started = time.thread_time()
    result = function(*args, **kwargs)
    return result, time.thread_time() - started
