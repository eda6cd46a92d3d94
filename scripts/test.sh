#!/usr/bin/env bash
# Runs deskmail's test suite from a fresh clone: installs what it needs, then pytest starts
# Azurite and the TLS fakes of Graph, the identity platform and Key Vault by itself.
# Extra arguments go to pytest (e.g. scripts/test.sh -k threading).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
