"""What `etlcore serve` does around the SDK lifecycles: each family's own field names in its messages,
the console form's checks, sessions across a restart, one server per store, what a delete keeps, who
stopped a task, live counts while a task runs and paging through rejects."""

from __future__ import annotations

import os
import re
import shutil
import signal
from pathlib import Path

import orjson
import pytest
import requests
from serverkit import AK, SAMPLE, SK, ModelArts, Server, big_corpus, qianfan_data, wait_for

from etlcore.tasks.store import TaskStore

pytest.importorskip("qianfan")
pytest.importorskip("huaweicloudsdkmodelarts")

LIGHT = {"clean": [{"name": "remove_emoji", "args": {}}]}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    shutil.copy(SAMPLE, tmp_path / "data" / "corpus.jsonl")
    return tmp_path


@pytest.fixture
def server(root: Path) -> Server:
    running = Server(root).start()
    yield running
    running.stop()


def _login(server: Server) -> requests.Session:
    session = requests.Session()
    answer = session.post(server.url + "/login", data={"access_key": AK, "secret_key": SK}, allow_redirects=False,
                          timeout=10)
    assert answer.status_code == 303
    return session


def _problems(page: str) -> list[str]:
    listed = re.search(r'<div class="err" id="problems"><ul>(.*?)</ul>', page)
    assert listed, page[:2000]
    return [item.replace("&#x27;", "'") for item in re.findall(r"<li>(.*?)</li>", listed.group(1))]


def test_qianfan_errors_name_the_qianfan_fields(server: Server) -> None:
    from qianfan.errors import QianfanError
    from qianfan.resources.console.utils import call_action

    qianfan_data(server)
    body = {"etlTaskName": "fields", "sourceDatasetId": "data/corpus.jsonl", "destDatasetId": "work/q",
            "entityType": 2, "operationsV2": LIGHT}

    def refusal(**changed: object) -> str:
        with pytest.raises(QianfanError) as refused:
            call_action("/wenxinworkshop/etl/create", "", {**body, **changed})
        return str(refused.value).replace("\\'", "'")  # the SDK's message quotes the answer's body

    message = refusal(sourceDatasetId="../outside.jsonl", destDatasetId="/tmp/elsewhere",
                      operationsV2={"clean": [{"name": "remove_emojis", "args": {}}]})
    assert "sourceDatasetId: ../outside.jsonl is outside the allowed folder" in message
    assert "destDatasetId: /tmp/elsewhere is outside the allowed folder" in message
    assert "operationsV2: unknown operator 'remove_emojis'" in message
    missing = refusal(sourceDatasetId="data/missing.jsonl")
    assert "sourceDatasetId: no such file or folder: data/missing.jsonl" in missing
    for modelarts_name in ("inputs[", "work_path", "template.", "operator_params"):
        assert modelarts_name not in message


def test_processor_task_items_have_chinese_and_english_labels(server: Server) -> None:
    items = ModelArts(server).call("GET", "/items")["items"]
    assert items == [
        {"template_id": "sys_data_cleaning", "label_zh": "数据清洗", "label_en": "Data cleaning"},
        {"template_id": "sys_data_validation", "label_zh": "数据校验", "label_en": "Data validation"},
        {"template_id": "sys_data_selection", "label_zh": "数据选择", "label_en": "Data selection"},
        {"template_id": "sys_data_analyse", "label_zh": "数据分析", "label_en": "Data analysis"},
    ]


def test_the_console_form_lists_every_problem_and_refuses_an_empty_name(server: Server) -> None:
    session = _login(server)
    form = {"name": " ", "input": "data/missing.jsonl", "work_path": "../elsewhere", "template": "sys_data_cleaning",
            "config": orjson.dumps({"clean": [{"name": "remove_emojis", "args": {}}]}).decode()}
    refused = session.post(server.url + "/new", data=form, allow_redirects=False, timeout=10)
    assert refused.status_code == 400
    problems = _problems(refused.text)
    assert problems[0] == "name: required, a non-empty string"
    assert "input: no such file or folder: data/missing.jsonl" in problems
    assert f"work path: ../elsewhere is outside the allowed folder {server.root}" in problems
    assert any(p.startswith("config: unknown operator 'remove_emojis'") for p in problems)
    assert len(problems) == 4

    # Not JSON and no input: both said at once, with the empty name.
    refused = session.post(server.url + "/new", data={**form, "name": "", "input": "", "work_path": "",
                                                       "config": "{not json"}, timeout=10)
    problems = _problems(refused.text)
    assert problems[0].startswith("config: not JSON")
    assert problems[1:] == ["input: required, a file or folder", "name: required, a non-empty string"]
    assert ModelArts(server).call("GET", "")["count"] == 0


def test_a_restart_keeps_console_sessions_and_new_credentials_end_them(root: Path) -> None:
    server = Server(root).start()
    try:
        session = _login(server)
        assert session.get(server.url + "/", allow_redirects=False, timeout=10).status_code == 200
    finally:
        server.stop()
    server = Server(root, port=server.port).start()
    try:
        assert session.get(server.url + "/", allow_redirects=False, timeout=10).status_code == 200
    finally:
        server.stop()
    server = Server(root, port=server.port, env={"ETLCORE_SECRET_KEY": "another-sk"}).start()
    try:
        answer = session.get(server.url + "/", allow_redirects=False, timeout=10)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    finally:
        server.stop()


def test_a_second_server_on_the_same_store_is_refused(server: Server, root: Path) -> None:
    second = Server(root)
    with pytest.raises(RuntimeError, match="the server exited"):
        second.start()
    assert second.process.returncode == 2
    last = orjson.loads(second.log().strip().splitlines()[-1])
    assert last == {"code": "StoreBusy", "message": f"{server.store} is in use by another etlcore serve (process "
                    f"{server.process.pid}); stop that server first, or give this one another --store"}
    assert ModelArts(server).call("GET", "")["count"] == 0  # the first one still answers
    server.stop()
    Server(root).start().stop()  # and once it is gone, the store is free


def test_deleting_a_task_keeps_its_files(server: Server, root: Path) -> None:
    data = qianfan_data(server)
    task_id = data.create_dataset_etl_task("kept", "data/corpus.jsonl", "work/q", LIGHT)["result"]
    wait_for(lambda: data.get_dataset_etl_task_info(task_id).body["result"]["processStatus"] == 2)
    folder = root / "work/q" / task_id
    output = (folder / "output.jsonl").read_bytes()
    assert data.delete_dataset_etl_task([task_id]).body["result"] is True
    assert (folder / "output.jsonl").read_bytes() == output and (folder / "work/result.json").exists()
    assert data.get_dataset_etl_task_list().body["result"]["total"] == 0


def test_behind_a_tls_proxy_the_forwarded_scheme_makes_the_origin_the_servers_own(server: Server) -> None:
    login = {"access_key": AK, "secret_key": SK}
    origin = {"Origin": f"https://127.0.0.1:{server.port}"}
    refused = requests.post(server.url + "/login", data=login, headers=origin, allow_redirects=False, timeout=10)
    assert refused.status_code == 403
    proxied = requests.post(server.url + "/login", data=login, headers={**origin, "X-Forwarded-Proto": "https"},
                            allow_redirects=False, timeout=10)
    assert proxied.status_code == 303 and "etlcore_session" in proxied.headers["set-cookie"]


def test_a_running_task_shows_its_counts_so_far_and_who_stopped_it(server: Server, root: Path) -> None:
    big_corpus(root / "data" / "big.jsonl", 90)  # 30,240 rows: several chunks
    data = qianfan_data(server)
    task_id = data.create_dataset_etl_task("live", "data/big.jsonl", "work/q", LIGHT)["result"]

    def running_with_counts() -> dict | None:
        detail = data.get_dataset_etl_task_info(task_id).body["result"]
        assert detail["processStatus"] in (1, 0), "the task ended before it showed any count"
        return detail if detail["processStatus"] == 1 and detail["entityCount"] else None

    wait_for(running_with_counts, every=0.02)
    store = TaskStore(server.store)
    runner = store.get(task_id)["pid"]
    os.kill(runner, signal.SIGSTOP)  # held still while the three views are read
    client = ModelArts(server)
    try:
        detail = data.get_dataset_etl_task_info(task_id).body["result"]
        read, kept = detail["entityCount"], detail["remainingEntity"]
        assert detail["processStatus"] == 1 and 0 < read < 30240 and 0 < kept <= read
        shown = client.call("GET", "/{task_id}", task_id=task_id)
        counts = shown["result"]
        assert (shown["status"], counts["entity_count"], counts["remaining_entity"]) == (1, read, kept)
        assert counts["rejected_rows"] + counts["invalid_rows"] == read - kept
        page = _login(server).get(f"{server.url}/tasks/{task_id}", timeout=10).text
        assert f"<th>input rows</th><td>{read:,}</td>" in page and f'<span id="kept">{kept:,}</span>' in page
        # Stopped through the API: it stops at its next chunk boundary once it goes on.
        client.call("POST", "/{task_id}/versions/{version_id}/stop", task_id=task_id, version_id=task_id)
    finally:
        os.kill(runner, signal.SIGCONT)
    stopped = wait_for(lambda: (d := data.get_dataset_etl_task_info(task_id).body["result"])["processStatus"] != 1
                       and d)
    assert (stopped["processStatus"], stopped["exceptionResult"]) == (
        3, f"stopped by access key {AK} through the ModelArts API")
    assert not (root / "work/q" / task_id / "work/progress.json").exists()
    task = store.get(task_id)
    assert (task["runs"], task["resumed_after"], task["stop_reason"]) == (1, None, "SIGINT")


def test_a_task_stopped_in_the_console_names_the_access_key(server: Server, root: Path) -> None:
    big_corpus(root / "data" / "big.jsonl", 90)
    data = qianfan_data(server)
    task_id = data.create_dataset_etl_task("console-stop", "data/big.jsonl", "work/q", LIGHT)["result"]
    store = TaskStore(server.store)
    # Once the run writes its counts it is past the point where it handles Ctrl-C (the stop button's signal).
    wait_for(lambda: (root / "work/q" / task_id / "work/progress.json").exists(), every=0.02)
    runner = store.get(task_id)["pid"]
    os.kill(runner, signal.SIGSTOP)  # still running when the button is pressed
    try:
        answer = _login(server).post(f"{server.url}/tasks/{task_id}/stop", allow_redirects=False, timeout=10)
        assert answer.status_code == 303
    finally:
        os.kill(runner, signal.SIGCONT)
    stopped = wait_for(lambda: (d := data.get_dataset_etl_task_info(task_id).body["result"])["processStatus"] != 1
                       and d)
    assert (stopped["processStatus"], stopped["exceptionResult"]) == (3, f"stopped by access key {AK} in the console")
