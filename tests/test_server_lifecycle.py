"""The server's tasks are never stuck "running": SIGTERM pauses them at a chunk boundary with their
checkpoints kept, a restart resumes them (and starts the waiting ones), and after a real kill -9 of the
server and its task processes the next start resumes what they were running. Output byte-identical."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from serverkit import SEED_OPERATIONS, ModelArts, Server, big_corpus, qianfan_data, wait_for

import etlcore
from etlcore.tasks.store import TaskStore

pytest.importorskip("qianfan")
COPIES = 30  # 10,080 documents: two chunks per pass, about 10 s with the seed config


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes, dict]:
    """The corpus and what an uninterrupted `etlcore run` makes of it."""
    folder = tmp_path_factory.mktemp("reference")
    corpus = big_corpus(folder / "big.jsonl", COPIES)
    response = etlcore.run(SEED_OPERATIONS, [corpus], folder / "out.jsonl")
    return corpus, (folder / "out.jsonl").read_bytes(), response


def _cli_detail(root: Path, task_id: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "etlcore", "task", "--store", str(root / ".etlcore/tasks.sqlite"),
                           "detail", task_id], capture_output=True, check=True)
    return orjson.loads(done.stdout)


def _checkpointed(root: Path, task_id: str, stage: str = "clean") -> bool:
    return any((root / "work").glob(f"*/{task_id}/work/checkpoints/{stage}/state.json"))


def _start(tmp_path: Path, reference: tuple[Path, bytes, dict]) -> Server:
    (tmp_path / "data").mkdir()
    os.link(reference[0], tmp_path / "data" / "big.jsonl")
    return Server(tmp_path, max_running=1).start()


def test_sigterm_pauses_running_tasks_and_a_restart_resumes_them(tmp_path: Path, reference: tuple) -> None:
    server = _start(tmp_path, reference)
    data = qianfan_data(server)
    first = data.create_dataset_etl_task("first", "data/big.jsonl", "work/q", SEED_OPERATIONS)["result"]
    second = data.create_dataset_etl_task("second", "data/big.jsonl", "work/q", SEED_OPERATIONS)["result"]
    waiting = data.get_dataset_etl_task_info(second).body["result"]
    assert (waiting["processStatus"], waiting["entityCount"], waiting["remainingEntity"]) == (1, 0, 0)
    assert ModelArts(server).call("GET", "/{task_id}", task_id=second)["status"] == 0  # waiting: not started
    wait_for(lambda: _checkpointed(tmp_path, first), every=0.1)

    # uvicorn re-raises the signal once the app has shut down: the shell sees 143, as for any SIGTERM.
    assert server.stop(signal.SIGTERM) == -signal.SIGTERM
    paused = _cli_detail(tmp_path, first)
    assert paused["success"] is True and paused["result"]["processStatus"] == 5
    assert paused["result"]["result"]["pauseReason"].startswith("the server stopped")
    assert paused["result"]["exceptionResult"] == (
        "stopped by the server stopping (it resumes the task when it starts again)")
    assert _cli_detail(tmp_path, second)["result"]["processStatus"] == 1  # still waiting for its turn
    assert TaskStore(server.store).get(second)["status"] == 0 and TaskStore(server.store).get(second)["queued"]
    assert _checkpointed(tmp_path, first)  # kept for the resume
    assert "pausing 1 running task(s)" in server.log()

    server = Server(tmp_path, port=server.port, max_running=1).start()
    try:
        data = qianfan_data(server)
        details = wait_for(lambda: (ds := [data.get_dataset_etl_task_info(t).body["result"] for t in (first, second)])
                           and all(d["processStatus"] == 2 for d in ds) and ds, timeout=180)
    finally:
        server.stop()
    output, expected = reference[1], reference[2]
    for task_id, detail in zip((first, second), details):
        assert (tmp_path / "work/q" / task_id / "output.jsonl").read_bytes() == output
        assert detail["result"]["pipeline_stage_result"] == expected["result"]["result"]["pipeline_stage_result"]
    resumed = orjson.loads((tmp_path / "work/q" / first / "work/result.json").read_bytes())
    assert resumed["etlcore"]["resumed_after"] in ("clean", "filter", "deduplication")
    store = TaskStore(server.store)  # the store says which runs went on from a checkpoint
    assert (store.get(first)["runs"], store.get(first)["resumed_after"]) == (2, resumed["etlcore"]["resumed_after"])
    assert (store.get(second)["runs"], store.get(second)["resumed_after"]) == (1, None)


def test_after_kill_9_of_the_server_and_its_task_the_next_start_resumes_it(tmp_path: Path, reference: tuple) -> None:
    server = _start(tmp_path, reference)
    task_id = qianfan_data(server).create_dataset_etl_task("killed", "data/big.jsonl", "work/q",
                                                           SEED_OPERATIONS)["result"]
    wait_for(lambda: _checkpointed(tmp_path, task_id), every=0.1)
    store = TaskStore(server.store)
    task_pid = store.get(task_id)["pid"]
    assert task_pid and store.get(task_id)["status"] == 1
    server.stop(signal.SIGKILL)
    os.kill(task_pid, signal.SIGKILL)
    wait_for(lambda: not os.path.exists(f"/proc/{task_pid}") or "zombie" in _state(task_pid), timeout=10)
    gone = store.get(task_id)  # the store settles a running task whose process is gone
    assert (gone["status"], gone["stop_reason"]) == (3, "process gone")

    server = Server(tmp_path, port=server.port, max_running=1).start()
    try:
        data = qianfan_data(server)
        detail = wait_for(lambda: (d := data.get_dataset_etl_task_info(task_id).body["result"])["processStatus"]
                          not in (1, 5) and d, timeout=180)
    finally:
        server.stop()
    assert detail["processStatus"] == 2, detail["exceptionResult"]
    assert (tmp_path / "work/q" / task_id / "output.jsonl").read_bytes() == reference[1]
    resumed = orjson.loads((tmp_path / "work/q" / task_id / "work/result.json").read_bytes())
    assert resumed["etlcore"]["resumed_after"] in ("clean", "filter", "deduplication")
    assert f"task {task_id} was running in a process that is gone: resuming it" in server.log()


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return "zombie"


def test_a_killed_process_not_yet_reaped_is_not_alive() -> None:
    """After kill -9 of a server, its task processes' parent is init, which in a container may never reap them."""
    from etlcore import processes

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    started = processes.start_time(child.pid)
    assert processes.alive(child.pid, started)
    os.kill(child.pid, signal.SIGKILL)
    wait_for(lambda: "zombie" in _state(child.pid), timeout=10, every=0.05)
    assert not processes.alive(child.pid, started) and not processes.alive(child.pid)
    child.wait()
