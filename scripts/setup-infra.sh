#!/usr/bin/env bash
# Idempotent: a virtual environment of its own, .venv-infra, with checkov (the static checks of
# infra/*.bicep run by tests/infra/test_checkov.py). Not in .venv: checkov pins many packages
# of its own (boto3, a pycep-parser, ...) that would clash with the app's. Re-installs only
# when the pinned version below changes.
set -euo pipefail
cd "$(dirname "$0")/.."

CHECKOV_VERSION="3.3.30"
python_bin="${PYTHON:-python3.11}"
command -v "$python_bin" >/dev/null 2>&1 || python_bin=python3

if [ ! -x .venv-infra/bin/python ]; then
  echo "setup-infra: creating .venv-infra"
  "$python_bin" -m venv .venv-infra
fi
if [ "$(cat .venv-infra/.deskmail-stamp 2>/dev/null)" != "checkov==$CHECKOV_VERSION" ]; then
  echo "setup-infra: installing checkov $CHECKOV_VERSION"
  .venv-infra/bin/python -m pip install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION"
  echo "checkov==$CHECKOV_VERSION" > .venv-infra/.deskmail-stamp
fi
