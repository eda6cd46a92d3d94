#!/usr/bin/env bash
# Idempotent setup for tests and the local run: a Python 3.11 virtual environment with the
# pinned packages, and the npm tools (Azurite). Re-installs only when a requirements or lock
# file changed since the last setup.
set -euo pipefail
cd "$(dirname "$0")/.."

python_bin="${PYTHON:-}"
if [ -z "$python_bin" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then python_bin="$candidate"; break; fi
  done
fi
if [ -z "$python_bin" ] || ! "$python_bin" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "setup: Python 3.11 is required (set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "setup: Node.js with npm is required (for the Azurite storage emulator)" >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$python_bin" -m venv .venv
fi
stamp=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-16)
if [ "$(cat .venv/.deskmail-stamp 2>/dev/null)" != "$stamp" ]; then
  echo "setup: installing Python packages"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  echo "$stamp" > .venv/.deskmail-stamp
fi

npm_stamp=$(cat package.json package-lock.json | sha256sum | cut -c1-16)
if [ ! -x node_modules/.bin/azurite ] || [ "$(cat node_modules/.deskmail-stamp 2>/dev/null)" != "$npm_stamp" ]; then
  echo "setup: installing npm packages (Azurite)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$npm_stamp" > node_modules/.deskmail-stamp
fi

# checkov for the infrastructure tests, in its own virtual environment (scripts/setup-infra.sh)
bash scripts/setup-infra.sh
