#!/usr/bin/env bash
# Set up, then run the main job on the bundled sample corpus with the embedded default config.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/etlcore run resources/sample/corpus.jsonl --output out/sample.jsonl "$@"
