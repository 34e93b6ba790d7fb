#!/usr/bin/env bash
# Lint and type-check (settings in pyproject.toml): ruff on src/, tests/ and bench/, mypy on src/sentilstm.
# Any of them failing fails the run; `ruff format .` fixes what the format check reports.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m ruff check .
.venv/bin/python -m ruff format --check .
.venv/bin/python -m mypy
