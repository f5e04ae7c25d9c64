#!/usr/bin/env bash
# Render an analysis report (or any page) in headless Chromium and save a screenshot of the whole page,
# as tall as the page is:
#   bash scripts/screenshot-report.sh REPORT_DIR/report.html OUT.png [WIDTH]
# Needs Debian's `chromium` and `chromium-driver` (apt-get install -y chromium chromium-driver
# fonts-noto-cjk) and selenium (installed with the dev extras). Chromium is kept off the network and out
# of the user's profile.
set -euo pipefail
report=$(realpath "$1"); out=$(realpath -m "$2"); width=${3:-1200}
command -v chromium >/dev/null && command -v chromedriver >/dev/null || {
    echo "needs chromium and chromedriver: apt-get install -y chromium chromium-driver fonts-noto-cjk" >&2; exit 2; }
here=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-$here/.venv/bin/python}
[ -x "$python" ] || python=python3
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
"$python" - "$report" "$out" "$width" "$profile" <<'EOF'
import base64
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

report, out, width, profile = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--hide-scrollbars", f"--window-size={width},800", f"--user-data-dir={profile}"):
    options.add_argument(flag)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
try:
    driver.get("file://" + report)
    height = driver.execute_script("return Math.ceil(document.documentElement.scrollHeight)")
    # The viewport becomes the page's size, so the capture holds the whole page and nothing below it.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
    with open(out, "wb") as file:
        file.write(base64.b64decode(shot["data"]))
finally:
    driver.quit()
print(out, f"{width}x{height}")
EOF
