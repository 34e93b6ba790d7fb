#!/usr/bin/env bash
# Install, lint (ruff, mypy: scripts/lint.sh), then run the test suite: the fast default tests, then the slow
# ones (real datasets from ../shared/data when present; they skip cleanly when it is absent). Lint and both test
# passes always run; a summary names each one's result, and the exit status is non-zero if any of them failed.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh || exit $?
bash scripts/lint.sh
lint=$?
.venv/bin/python -m pytest -q "$@"
fast=$?
.venv/bin/python -m pytest -q -m slow "$@"
slow=$?
[ "$slow" -eq 5 ] && slow=0 # 5: no slow test was collected (e.g. deselected by the arguments), which is fine
verdict() { if [ "$1" -eq 0 ]; then echo "passed"; else echo "FAILED (exit $1)"; fi; }
echo "scripts/test.sh: lint $(verdict $lint); default tests $(verdict $fast); slow tests $(verdict $slow)"
[ "$lint" -eq 0 ] && [ "$fast" -eq 0 ] && [ "$slow" -eq 0 ]
