#!/usr/bin/env bash
# Create .venv (if missing) and install etlcore with its dev tools, the Ray engine and the server from this checkout.
# Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if ! .venv/bin/python -c "import etlcore, pytest" 2>/dev/null || [ pyproject.toml -nt .venv/.installed ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[dev,ray,server]'
  # numba compiles etlcore's kernels on their first run (tens of seconds) and caches them: do it now.
  .venv/bin/python -m etlcore.kernels
  touch .venv/.installed
fi
