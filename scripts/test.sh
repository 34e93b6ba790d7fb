#!/usr/bin/env bash
# Install, lint (ruff, mypy: scripts/lint.sh), then run the test suite: the fast default tests, then the slow
# ones (real datasets from ../shared/data when present; they skip cleanly when it is absent).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
bash scripts/lint.sh
.venv/bin/python -m pytest -q "$@"
status=0
.venv/bin/python -m pytest -q -m slow "$@" || status=$?
# exit code 5 means no slow test was collected, which is fine
if [ "$status" -ne 0 ] && [ "$status" -ne 5 ]; then exit "$status"; fi
