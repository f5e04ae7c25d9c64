#!/usr/bin/env bash
# Render an analysis report in headless Chromium (Debian package `chromium`) and save a screenshot:
#   bash scripts/screenshot-report.sh REPORT_DIR/report.html OUT.png [HEIGHT]
# The flags keep Chromium off the network (this machine has none) and out of the user's profile.
set -euo pipefail
report=$(realpath "$1"); out=$(realpath -m "$2"); height=${3:-4000}
command -v chromium >/dev/null || { echo "needs chromium: apt-get install -y chromium" >&2; exit 2; }
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --user-data-dir="$profile" --hide-scrollbars \
    --window-size=1200,"$height" --screenshot="$out" "file://$report" 2>/dev/null
echo "$out"
