#!/usr/bin/env bash
# Set up, then run the linter and the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check src tests benchmarks resources
.venv/bin/python -m pytest -q "$@"
