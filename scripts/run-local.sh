#!/usr/bin/env bash
# Runs deskmail locally on its embedded defaults: Azurite, a local stand-in for a Microsoft 365
# mailbox and Key Vault (TLS fakes of Graph, the identity platform and Key Vault, with demo
# mail), a demo account, the web app on http://127.0.0.1:8080 (development sign-in: it prints
# how), the fetch every minute and the sending every second, until Ctrl+C. Extra arguments go
# to scripts/run_local.py (--port, --interval, --once; --help).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python scripts/run_local.py "$@"
