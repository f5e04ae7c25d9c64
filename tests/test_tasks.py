"""Tasks in the ModelArts shape: create (validated like the seed's API), run, detail, list, stop,
templates, work-path confinement, dataset versions, a store shared by several processes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from conftest import REPO

import etlcore
from etlcore.cli import default_config
from etlcore.errors import ConfigError
from etlcore.tasks import service
from etlcore.tasks.store import TaskStore

SAMPLE = REPO / "resources/sample/corpus.jsonl"
PARAMS = [
    {"name": "remove_emoji", "params": {}},
    {"name": "filter_check_number_words", "params": {"number_words_min_cutoff": "2.2",
                                                     "number_words_max_cutoff": "10000"}},
    {"name": "deduplication_simhash", "params": {"distance": "5"}},
    {"name": "replace_emails", "params": {}},
]
OPERATIONS = {"clean": [{"name": "remove_emoji"}],
              "filter": [{"name": "filter_check_number_words",
                          "args": {"number_words_min_cutoff": 2.2, "number_words_max_cutoff": 10000}}],
              "deduplication": [{"name": "deduplication_simhash", "args": {"distance": 5}}],
              "desensitization": [{"name": "replace_emails"}]}


def body(template: str = "sys_data_cleaning", params: list | None = None, **fields: object) -> dict:
    """A create body reading `corpus.jsonl` of the allowed root (the `store` fixture puts the sample there)."""
    return {"name": "clean-sample", "description": "", "inputs": [{"type": "OBS", "source": "corpus.jsonl"}],
            "work_path": {"type": "OBS", "path": "out"}, "create_version": False,
            "template": {"id": template, "operator_params": PARAMS if params is None else params}, **fields}


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TaskStore:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "corpus.jsonl").write_bytes(SAMPLE.read_bytes())
    return TaskStore(tmp_path / ".etlcore" / "tasks.sqlite")


def create(store: TaskStore, document: dict) -> str:
    return service.create(store, document, Path.cwd(), default_config())


def test_create_then_run_a_cleaning_task(store: TaskStore, tmp_path: Path) -> None:
    task_id = create(store, body())
    assert re.fullmatch(r"task-[a-z0-9]{16}", task_id)
    before = service.detail(store, task_id)
    assert before["result"]["processStatus"] == 0 and before["result"]["etlTaskId"] == task_id
    response = service.run_task(store, task_id)
    assert before["result"].keys() == response["result"].keys()  # the same shape before the first run
    assert response["result"]["processStatus"] == 2 and response["result"]["etlTaskId"] == task_id
    assert service.detail(store, task_id) == response
    # The same as running the pipeline directly, operator for operator.
    direct = etlcore.run(OPERATIONS, [SAMPLE], tmp_path / "direct" / "out.jsonl")
    output = tmp_path / "out" / task_id / "output.jsonl"
    assert output.read_bytes() == (tmp_path / "direct" / "out.jsonl").read_bytes()
    assert response["result"]["result"] == direct["result"]["result"]
    [listed] = service.listing(store)
    assert (listed["task_id"], listed["status"], listed["input_rows"], listed["output_rows"]) == (
        task_id, 2, 336, direct["etlcore"]["output_rows"])


@pytest.mark.parametrize(("document", "problem"), [
    ({"description": ""}, "name: required, a non-empty string"),
    ({"name": "x", "description": "a<b"}, "description: a string of 0-256 characters without ^!<>=&\"'"),
    ({"name": "x", "data_source": {"source": "corpus.jsonl"}}, "inputs / data_source: give exactly one of them"),
    ({"name": "x", "template": {"id": "sys_data_magic"}}, "template.id: unknown template 'sys_data_magic'"),
    ({"name": "x", "template": {"id": "sys_data_augmentation"}},
     "template.id: sys_data_augmentation augments images; it is not available for text"),
    ({"name": "x", "inputs": [{"source": "no/such.jsonl"}]}, "inputs[0].source: no such file or folder"),
    ({"name": "x", "inputs": [{"type": "TASK", "source": "task-1"}]}, "inputs[0].type: 'TASK' is not supported"),
    ({"name": "x", "work_path": {"path": "../elsewhere"}}, "work_path.path: ../elsewhere is outside the allowed"),
    ({"name": "x", "create_version": "yes"}, "create_version: a boolean, got string"),
    ({"name": "x", "template": {"id": "sys_data_cleaning", "operator_params": [
        {"name": "deduplication_simhash", "params": {"distance": "9"}}]}},
     "template.operator_params: operator 'deduplication_simhash' arg 'distance': value 9 is out of range"),
    ({"name": "x", "template": {"id": "sys_data_selection", "operator_params": [
        {"name": "remove_emoji", "params": {}}]}},
     "template.operator_params: remove_emoji is a clean operator; sys_data_selection takes filter and "
     "deduplication operators only"),
])
def test_create_refuses_what_the_api_would(store: TaskStore, document: dict, problem: str) -> None:
    document = {"inputs": [{"source": "corpus.jsonl"}], **document}
    with pytest.raises(ConfigError) as error:
        create(store, document)
    assert any(p.startswith(problem) for p in error.value.problems), error.value.problems
    assert store.all() == []


def test_a_symlink_cannot_lead_the_work_path_out(store: TaskStore, tmp_path: Path) -> None:
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (tmp_path / "link").symlink_to(outside)
    with pytest.raises(ConfigError) as error:
        create(store, body(work_path={"path": "link/out"}))
    assert error.value.problems == [f"work_path.path: link/out is outside the allowed folder {tmp_path.resolve()}"]


def test_cli_errors_have_the_seed_shape_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "corpus.jsonl").write_bytes(SAMPLE.read_bytes())
    (tmp_path / "body.json").write_bytes(orjson.dumps({"inputs": [{"source": "corpus.jsonl"}]}))
    done = subprocess.run([sys.executable, "-m", "etlcore", "task", "create", "body.json"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert orjson.loads(done.stderr) == {"code": "ParamFieldValueInvalid",
                                         "message": "name: required, a non-empty string"}
    done = subprocess.run([sys.executable, "-m", "etlcore", "task", "detail", "task-nosuchtask00000"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 2 and orjson.loads(done.stderr)["code"] == "TaskNotFound"


# The seed's own example bodies (validation, cleaning, selection, augmentation) are image tasks.
IMAGE = {"task_type": "image_classification", "dataset_type": "manifest"}


@pytest.mark.parametrize(("template", "entry", "problem"), [
    ("sys_data_validation", {"name": "MetaValidation", "params": {**IMAGE, "image_max_width": "1920"}},
     "template.operator_params: operator 'MetaValidation' (task_type image_classification, dataset_type "
     "manifest) works on images: etlcore processes text only; its text counterpart is the template "
     "sys_data_validation without operator_params (every row read and checked)"),
    ("sys_data_cleaning", {"name": "PCC", "params": {**IMAGE, "n_clusters": "auto"}},
     "template.operator_params: operator 'PCC' (task_type image_classification, dataset_type manifest) works "
     "on images: etlcore processes text only; it has no text counterpart"),
    ("sys_data_selection", {"name": "SimDeduplication", "params": {**IMAGE, "simlarity_threshold": "0.9"}},
     "template.operator_params: operator 'SimDeduplication' (task_type image_classification, dataset_type "
     "manifest) works on images: etlcore processes text only; its text counterpart is deduplication_simhash"),
    ("sys_data_augmentation", {"name": "AddNoise", "params": {**IMAGE, "noise_type": "Gauss"}},
     "template.id: sys_data_augmentation augments images; it is not available for text"),
])
def test_the_seeds_image_tasks_are_refused_with_one_message(store: TaskStore, template: str, entry: dict,
                                                             problem: str) -> None:
    with pytest.raises(ConfigError) as error:
        create(store, body(template, params=[entry]))
    assert error.value.problems == [problem]
    assert store.all() == []


def test_task_create_says_what_run_config_says(store: TaskStore, tmp_path: Path) -> None:
    document = body(params=[{"name": "remove_emojj", "params": {}}, {"name": "cut", "params": {"max_length": "-3"}},
                            {"name": "deduplication_simhash", "params": {"distance": "nine"}}])
    (tmp_path / "body.json").write_bytes(orjson.dumps(document))
    messages = [orjson.loads(subprocess.run([sys.executable, "-m", "etlcore", *command], cwd=tmp_path,
                                            capture_output=True, text=True, check=False).stderr)["message"]
                for command in (["run", "--config", "body.json", "--output", "o.jsonl", "corpus.jsonl"],
                                ["task", "create", "body.json"])]
    assert messages[0] == messages[1]
    assert messages[0].count("template.operator_params: ") == 3 and "value -3 is out of range" in messages[0]


def test_validation_reads_everything_and_writes_only_its_report(store: TaskStore, tmp_path: Path) -> None:
    task_id = create(store, body("sys_data_validation", params=[]))
    response = service.run_task(store, task_id)
    assert response["result"]["processStatus"] == 2
    assert (response["etlcore"]["input_rows"], response["etlcore"]["invalid_rows"]) == (336, 6)
    work = tmp_path / "out" / task_id / "work"
    assert not (tmp_path / "out" / task_id / "output.jsonl").exists()
    assert len((work / "invalid.jsonl").read_bytes().splitlines()) == 6
    assert (work / "rejects.jsonl").read_bytes() == b""


def test_selection_runs_only_filters_and_deduplication(store: TaskStore) -> None:
    task_id = create(store, body("sys_data_selection", params=[]))
    stored = orjson.loads(store.get(task_id)["config"])
    filters = [e["name"] for e in stored["filter"] if not e["name"].startswith("save_pipeline_")]
    assert sorted(stored) == ["deduplication", "filter"] and len(filters) == 7
    assert service.run_task(store, task_id)["result"]["processStatus"] == 2


def test_each_successful_run_with_create_version_adds_the_next_version(store: TaskStore, tmp_path: Path) -> None:
    ids = [create(store, body(create_version=True)) for _ in range(2)]
    for task_id in ids:
        service.run_task(store, task_id)
    done = subprocess.run([sys.executable, "-m", "etlcore", "dataset", "versions", "out", "--json"],
                          cwd=tmp_path, capture_output=True, check=True)
    versions = orjson.loads(done.stdout)
    assert [(v["version"], v["task_id"]) for v in versions] == [("V001", ids[0]), ("V002", ids[1])]
    assert versions[0]["config_hash"] == versions[1]["config_hash"]
    assert versions[0]["output_rows"] == store.get(ids[0])["output_rows"]


def test_stop_a_running_task_then_run_it_again(tmp_path: Path) -> None:
    (tmp_path / "big.jsonl").write_bytes(SAMPLE.read_bytes() * 40)
    # A checkpoint after the clean stage (a ModelArts entry naming its stage), so that the re-run resumes.
    params = [PARAMS[0], {"name": "save_pipeline_clean", "params": {}}, *PARAMS[1:]]
    document = body(params=params, inputs=[{"source": str(tmp_path / "big.jsonl")}])
    (tmp_path / "body.json").write_bytes(orjson.dumps(document))
    etl = [sys.executable, "-m", "etlcore", "task"]
    task_id = orjson.loads(subprocess.run([*etl, "create", "body.json"], cwd=tmp_path, capture_output=True,
                                          check=True).stdout)["task_id"]
    running = subprocess.Popen([*etl, "run", task_id, "--workers", "1"], cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store = TaskStore(tmp_path / ".etlcore" / "tasks.sqlite")
    deadline = time.monotonic() + 60
    while store.get(task_id)["status"] != 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    clean_checkpoint = tmp_path / "out" / task_id / "work" / "checkpoints" / "clean" / "state.json"
    while not clean_checkpoint.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    stopped = subprocess.run([*etl, "stop", task_id], cwd=tmp_path, capture_output=True, check=True)
    assert orjson.loads(stopped.stdout) == {"task_id": task_id, "processStatus": 1}
    assert running.wait(timeout=60) == 130
    stopped_detail = service.detail(store, task_id)["result"]
    assert (stopped_detail["processStatus"], stopped_detail["exceptionResult"]) == (3, "stopped by `etlcore task stop`")
    assert not (tmp_path / "out" / task_id / "output.jsonl").exists()
    assert clean_checkpoint.exists()  # stopping keeps the checkpoints
    (listed,) = orjson.loads(subprocess.run([*etl, "list", "--json"], cwd=tmp_path, capture_output=True).stdout)
    assert (listed["status_text"], listed["runs"], listed["stop_reason"], listed["stop_requested_by"]) == (
        "stopped", 1, "SIGINT", "`etlcore task stop`")
    again = subprocess.run([*etl, "run", task_id], cwd=tmp_path, capture_output=True)
    assert again.returncode == 0
    response = orjson.loads(again.stdout)
    assert response["result"]["processStatus"] == 2 and response["etlcore"]["resumed_after"] == "clean"
    task = store.get(task_id)  # the store says the second run went on from the clean checkpoint
    assert (task["runs"], task["resumed_after"], task["stop_requested_by"]) == (2, "clean", None)
    (listed,) = orjson.loads(subprocess.run([*etl, "list", "--json"], cwd=tmp_path, capture_output=True).stdout)
    assert (listed["status_text"], listed["runs"], listed["resumed_after"], listed["stop_reason"]) == (
        "done", 2, "clean", None)


def test_several_processes_share_one_store(tmp_path: Path) -> None:
    script = (
        "import sys; from pathlib import Path; from etlcore.tasks.store import TaskStore\n"
        "store = TaskStore(Path(sys.argv[1]))\n"
        "for i in range(25): store.add_version('ds', f'task-{sys.argv[2]}-{i}', 'out', i, 'h')\n"
    )
    path = str(tmp_path / "tasks.sqlite")
    workers = [subprocess.Popen([sys.executable, "-c", script, path, str(n)], env={**os.environ}) for n in range(3)]
    assert [w.wait(timeout=60) for w in workers] == [0, 0, 0]
    versions = TaskStore(Path(path)).versions("ds")
    assert [v["version"] for v in versions] == [f"V{i:03d}" for i in range(1, 76)]


def test_inputs_as_file_uris_and_a_work_path_given_absolute(store: TaskStore, tmp_path: Path) -> None:
    document = body(inputs=[{"type": "OBS", "source": (tmp_path / "corpus.jsonl").as_uri()}],
                    work_path={"type": "OBS", "path": str(tmp_path / "results")})
    task_id = create(store, document)
    assert orjson.loads(store.get(task_id)["inputs"]) == [str((tmp_path / "corpus.jsonl").resolve())]
    assert service.run_task(store, task_id)["result"]["processStatus"] == 2
    assert (tmp_path / "results" / task_id / "output.jsonl").is_file()


def test_errors_of_the_task_commands(store: TaskStore, tmp_path: Path) -> None:
    etl = [sys.executable, "-m", "etlcore", "task"]
    missing = subprocess.run([*etl, "create", "nope.json"], cwd=tmp_path, capture_output=True, text=True)
    assert missing.returncode == 2 and orjson.loads(missing.stderr)["message"].startswith(
        "cannot read the task body nope.json: ")
    task_id = create(store, body())
    not_running = subprocess.run([*etl, "stop", task_id], cwd=tmp_path, capture_output=True, text=True)
    assert not_running.returncode == 2 and orjson.loads(not_running.stderr) == {
        "code": "TaskNotRunning", "message": f"task {task_id} is not running (processStatus 0)"}
    assert store.claim(task_id, os.getpid())  # as if this process were running it
    with pytest.raises(etlcore.errors.EtlError) as error:
        service.run_task(store, task_id)
    assert error.value.code == "TaskRunning"


def test_a_failed_run_is_a_successful_detail_call(store: TaskStore, tmp_path: Path, toy_operators: None) -> None:
    """`success` says the call worked (the Qianfan SDK needs a `code` otherwise); processStatus 4 and
    exceptionResult say how the run went, in `task detail` as in `etlcore run`'s result."""
    rows = tmp_path / "in.jsonl"
    rows.write_bytes(b'{"text": "fine"}\n{"text": "boom"}\n')
    task_id = create(store, body(params=[{"name": "toy_boom", "params": {}}], inputs=[{"source": "in.jsonl"}]))
    response = service.run_task(store, task_id)
    reason = "operator 'toy_boom' in stage 'filter' failed: ValueError: boom found"
    assert (response["success"], response["status"], response["result"]["processStatus"]) == (True, 200, 4)
    assert response["result"]["exceptionResult"] == reason
    detail = service.detail(store, task_id)
    assert (detail["success"], detail["status"], detail["result"]["processStatus"]) == (True, 200, 4)
    assert detail["result"]["exceptionResult"] == reason
