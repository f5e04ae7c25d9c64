"""The web console in a real browser: Debian's chromium driven by selenium (no download at run time).
Logs in, creates a task through the form, watches it finish, opens a rejected document's page; the
screenshots are kept in the test's folder (and in ETLCORE_SCREENSHOTS when set) to look at."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from serverkit import AK, SAMPLE, SEED_OPERATIONS, SK, ModelArts, Server, modelarts_body, wait_for

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                reason="needs Debian's chromium and chromium-driver (.ci/run installs them)")


@pytest.fixture
def browser(tmp_path: Path) -> object:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--no-proxy-server",
                     "--window-size=1280,1000", f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


def _shoot(driver: object, folder: Path, name: str) -> None:
    driver.save_screenshot(str(folder / f"{name}.png"))
    if os.environ.get("ETLCORE_SCREENSHOTS"):
        Path(os.environ["ETLCORE_SCREENSHOTS"]).mkdir(parents=True, exist_ok=True)
        shutil.copy(folder / f"{name}.png", Path(os.environ["ETLCORE_SCREENSHOTS"]) / f"{name}.png")


def _wait_text(driver: object, css: str, wanted: str, timeout: float = 120) -> None:
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if driver.find_element("css selector", css).text == wanted:
                return
        except (NoSuchElementException, StaleElementReferenceException):
            pass  # between two refreshes, or the page refreshed between finding the element and reading it
        time.sleep(0.3)
    raise AssertionError(f"{css} never read {wanted!r}: {driver.page_source[:2000]}")


def _wait_for(driver: object, css: str, timeout: float = 20) -> list:
    """The elements matching `css` once the page (loaded after a click) has them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = driver.find_elements("css selector", css)
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no {css} on {driver.current_url}")


def test_create_watch_and_read_rejects_in_a_browser(tmp_path: Path, browser: object) -> None:
    (tmp_path / "data").mkdir()
    shutil.copy(SAMPLE, tmp_path / "data" / "corpus.jsonl")
    shots = tmp_path / "shots"
    shots.mkdir()
    server = Server(tmp_path).start()
    driver = browser
    try:
        driver.get(server.url + "/")
        assert driver.current_url.startswith(server.url + "/login")
        driver.find_element("id", "ak").send_keys(AK)
        driver.find_element("id", "sk").send_keys("wrong")
        driver.find_element("css selector", "button[type=submit]").click()
        assert "Unknown access key or wrong secret key." in _wait_for(driver, "div.err")[0].text
        driver.find_element("id", "ak").send_keys(AK)
        driver.find_element("id", "sk").send_keys(SK)
        driver.find_element("css selector", "button[type=submit]").click()
        _wait_text(driver, "main p.muted", "No tasks yet.", timeout=20)
        assert driver.current_url == server.url + "/"

        # The form refuses a misspelt operator with the CLI's own message.
        driver.get(server.url + "/new")
        driver.find_element("id", "name").send_keys("console")
        driver.find_element("id", "input").send_keys("data/corpus.jsonl")
        bad = {"clean": [{"name": "remove_emojis", "args": {}}]}
        driver.find_element("id", "config").send_keys(orjson.dumps(bad).decode())
        driver.find_element("id", "create").click()
        problems = [li.text for li in _wait_for(driver, "#problems li")]
        (tmp_path / "bad.json").write_bytes(orjson.dumps(bad))
        cli = subprocess.run([sys.executable, "-m", "etlcore", "run", "--config", "bad.json", "--output", "o.jsonl",
                              "data/corpus.jsonl"], cwd=tmp_path, capture_output=True, text=True)
        assert cli.returncode == 2 and problems == [
            "config: " + orjson.loads(cli.stderr)["message"]]  # "unknown operator 'remove_emojis' in stage ..."
        _shoot(driver, shots, "form-refused")

        config = driver.find_element("id", "config")
        config.clear()
        config.send_keys(orjson.dumps(SEED_OPERATIONS).decode())
        driver.find_element("id", "work_path").send_keys("work/console")
        driver.find_element("id", "create").click()
        _wait_for(driver, "#status")
        task_id = driver.current_url.rsplit("/", 1)[1]
        assert task_id.startswith("task-")
        _wait_text(driver, "#status", "done")  # the page refreshes itself while the task waits or runs
        driver.set_window_size(1280, 1900)
        _shoot(driver, shots, "task")
        driver.set_window_size(1280, 1000)
        funnel = driver.find_element("id", "funnel").text
        result = orjson.loads((tmp_path / "work/console" / task_id / "work/result.json").read_bytes())
        assert f"{result['result']['entityCount']:,}" in funnel and f"{result['result']['remainingEntity']:,}" in funnel
        operators = driver.find_element("id", "operators").text
        assert "filter_check_number_words" in operators and "deduplication_simhash" in operators

        driver.get(server.url + "/")
        row = driver.find_element("id", "tasks").text
        assert task_id in row and "done" in row and "336" in row
        _shoot(driver, shots, "list")

        driver.get(server.url + f"/tasks/{task_id}")
        driver.find_element("link text", "rejected documents").click()
        [first] = _wait_for(driver, "#rejects tr:nth-child(2) a")
        rejects = [orjson.loads(line) for line in (tmp_path / "work/console" / task_id / "work/rejects.jsonl")
                   .read_bytes().splitlines()]
        operator = driver.current_url.split("operator=")[1]
        expected = next(r for r in rejects if r["etl_operator"] == operator)
        assert first.text == expected["id"]
        first.click()
        assert _wait_for(driver, "#text")[0].text == expected["text"].strip()
        assert expected["etl_reason"] in driver.find_element("id", "reject").text
        _shoot(driver, shots, "reject")

        driver.get(server.url + f"/tasks/{task_id}/invalid")
        assert len(driver.find_elements("css selector", "#invalid tr")) == 1 + 6
        driver.get(server.url + f"/tasks/{task_id}")
        driver.find_element("id", "delete").click()
        _wait_text(driver, "main p.muted", "No tasks yet.", timeout=10)
        assert driver.current_url == server.url + "/"
    finally:
        server.stop()


def test_the_console_needs_a_login_and_a_no_auth_server_serves_loopback(tmp_path: Path) -> None:
    import requests

    server = Server(tmp_path).start()
    try:
        answer = requests.get(server.url + "/tasks/x", allow_redirects=False, timeout=10)
        assert answer.status_code == 303 and answer.headers["location"] == "/login?next=%2Ftasks%2Fx"
        forged = requests.get(server.url + "/", cookies={"etlcore_session": f"{AK}%7C9999999999|00"},
                              allow_redirects=False, timeout=10)
        assert forged.status_code == 303
    finally:
        server.stop()
    (tmp_path / "data").mkdir()
    shutil.copy(SAMPLE, tmp_path / "data" / "corpus.jsonl")
    open_server = Server(tmp_path, extra=("--no-auth",)).start()
    try:
        assert requests.get(open_server.url + "/", timeout=10).status_code == 200
        # An analysis task's page links its report, served from the task's folder.
        body = modelarts_body("data/corpus.jsonl", params=[], template={"id": "sys_data_analyse"})
        task_id = ModelArts(open_server).call("POST", "", body)["task_id"]
        page = wait_for(lambda: 'id="report"' in (text := requests.get(f"{open_server.url}/tasks/{task_id}",
                                                                        timeout=10).text) and text, timeout=120)
        assert '<span class="s2" id="status">done</span>' in page
        report = requests.get(f"{open_server.url}/tasks/{task_id}/report", timeout=10)
        assert report.status_code == 200 and report.text == (
            tmp_path / "work/modelarts" / task_id / "report/report.html").read_text()
    finally:
        open_server.stop()
