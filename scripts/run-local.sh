#!/usr/bin/env bash
# Runs deskmail locally on its embedded defaults: Azurite, a local stand-in for a Microsoft 365
# mailbox (TLS fakes of Graph and the identity platform, with demo mail), a demo account, and
# the fetch every minute until Ctrl+C. Extra arguments go to scripts/run_local.py (--help).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python scripts/run_local.py "$@"
