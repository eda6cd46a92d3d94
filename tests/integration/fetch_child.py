"""One fetch run in a child process that ends itself with `os._exit` when a given mail
reaches a given step: no `finally`, no lease release, no ledger write afterwards, as when
the host kills the process (out of memory, the function time-out).

    python -m tests.integration.fetch_child GRAPH_ID STEP

Settings come from the environment (the parent test's Azurite and fakes). Exit status
KILLED when the mail reached the step, 0 when the run finished.
"""
from __future__ import annotations

import os
import sys

KILLED = 86


def main(graph_id: str, step: str) -> int:
    from shared_code.services.fetch import fetch_all
    from shared_code.services.helpdesk import Helpdesk

    def checkpoint(name: str, mail: str) -> None:
        if name == step and mail == graph_id:
            sys.stdout.flush()
            os._exit(KILLED)

    fetch_all(Helpdesk.from_env(), checkpoint=checkpoint)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
