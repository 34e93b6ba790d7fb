#!/usr/bin/env bash
# Lint and type-check (settings in pyproject.toml): ruff on src/, tests/ and bench/, mypy on src/sentilstm.
# Either failing fails the run. `ruff format` is not checked yet: the tree is reformatted in one commit first.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m ruff check .
.venv/bin/python -m mypy
