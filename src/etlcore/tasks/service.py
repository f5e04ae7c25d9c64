"""Tasks in the ModelArts shape: create one from a create-processor-task body, run it, read its
detail, list, stop; register its output as a dataset version.

A task's files live in `<work_path>/<task id>/`: the output `output.jsonl` (none for validation) and
the run's work dir `work/` (result.json, rejects, invalid rows, logs, checkpoints).

Every path a task names (its inputs, its work path, the files its operators read) must resolve, with
`..` and symlinks followed, inside the folder it was created under (`allowed_root`; relative paths are
taken from there). A body may come from someone else (the HTTP service), so this is checked when the
task is created and again, on the paths as they resolve then, every time it runs.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import signal
import string
import threading
import time
from collections import OrderedDict
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import orjson

from etlcore.config import OPERATOR_PARAMS, check_document, image_problem, load_config
from etlcore.errors import ConfigError, EtlError, json_kind
from etlcore.io.reader import TASK_MARKER
from etlcore.io.writer import write_atomic
from etlcore.pipeline import Counts, OperatorCount
from etlcore.progress import read_live_counts
from etlcore.registry import STAGES, operators
from etlcore.report import (
    DONE,
    FAILED,
    NONE,
    PAUSED,
    RUNNING,
    STATUS_WORDS,
    TERMINATED,
    RunInfo,
    detail_response,
    iso8601,
    stage_results,
)
from etlcore.runner import run
from etlcore.tasks.store import PROCESS_GONE, TaskStore

TEMPLATES = ("sys_data_cleaning", "sys_data_selection", "sys_data_validation", "sys_data_analyse",
             "sys_data_augmentation")
SELECTION_STAGES = ("filter", "deduplication")
DESCRIPTION_FORBIDDEN = set("^!<>=&\"'")
_ALPHABET = string.ascii_lowercase + string.digits


def new_task_id() -> str:
    return "task-" + "".join(secrets.choice(_ALPHABET) for _ in range(16))


def create(store: TaskStore, body: Any, allowed_root: Path, default_config: dict[str, Any]) -> str:
    """Validate a create body as the seed's API would (every problem at once) and store the task."""
    return add(store, validated(body, allowed_root, default_config))


def add(store: TaskStore, task: dict[str, Any]) -> str:
    """Store a task `validated` returned; its id."""
    task_id = new_task_id()
    store.add({"id": task_id, **task, "task_dir": str(Path(task["dataset"]) / task_id)})
    return task_id


def validated(body: Any, allowed_root: Path, default_config: dict[str, Any]) -> dict[str, Any]:
    """The task a create body describes, as stored (less its id and folder); `ConfigError` with every
    problem found when the body is refused."""
    if not isinstance(body, dict):
        raise EtlError(f"the request body must be a JSON object, got {json_kind(body)}")
    root = allowed_root.resolve()
    problems: list[str] = []
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append("name: required, a non-empty string")
    description = body.get("description", "")
    if not isinstance(description, str) or len(description) > 256 or DESCRIPTION_FORBIDDEN & set(description):
        problems.append("description: a string of 0-256 characters without ^!<>=&\"'")
    inputs = _inputs(body, root, problems)
    task_dir_root = _work_path(body.get("work_path"), root, problems)
    template = body.get("template") or {}
    template_id = template.get("id", "sys_data_cleaning") if isinstance(template, dict) else None
    if not isinstance(template_id, str) or template_id not in TEMPLATES:
        problems.append(f"template.id: unknown template {template_id!r}; valid: {', '.join(TEMPLATES)}")
    elif template_id == "sys_data_augmentation":
        problems.append("template.id: sys_data_augmentation augments images; it is not available for text")
    config = _config(body, template_id, default_config, root, problems)
    if "create_version" in body and not isinstance(body["create_version"], bool):
        problems.append(f"create_version: a boolean, got {json_kind(body['create_version'])}")
    for key in ("version_id", "workspace_id"):
        if key in body and not isinstance(body[key], str):
            problems.append(f"{key}: a string, got {json_kind(body[key])}")
    if problems:
        raise ConfigError(problems)
    return {"name": name, "template": template_id, "body": body, "config": config, "inputs": inputs,
            "dataset": str(task_dir_root), "create_version": int(bool(body.get("create_version"))), "status": NONE,
            "created": time.time(), "allowed_root": str(root)}


def _inputs(body: dict[str, Any], root: Path, problems: list[str]) -> list[str]:
    if ("inputs" in body) == ("data_source" in body):
        problems.append("inputs / data_source: give exactly one of them")
        return []
    sources = body["inputs"] if "inputs" in body else [body["data_source"]]
    field = "inputs" if "inputs" in body else "data_source"
    if not isinstance(sources, list) or not sources:
        problems.append(f"{field}: a non-empty list of data sources")
        return []
    paths = []
    for number, source in enumerate(sources):
        where = f"{field}[{number}]" if field == "inputs" else field
        if not isinstance(source, dict) or not isinstance(source.get("source"), str):
            problems.append(f"{where}.source: required, a local path or file:// URI")
            continue
        kind = source.get("type", "OBS")
        if kind not in ("OBS", "DATASET"):
            problems.append(f"{where}.type: {kind!r} is not supported here; use a path (type OBS or DATASET)")
            continue
        path = confined(source["source"], root, f"{where}.source", problems)
        if path is None:
            continue
        if not path.exists():
            problems.append(f"{where}.source: no such file or folder: {source['source']}")
        paths.append(str(path))
    return paths


def _local_path(text: str) -> Path:
    if text.startswith("file://"):
        return Path(unquote(urlparse(text).path))
    return Path(text)


def confined(text: str, root: Path, where: str, problems: list[str]) -> Path | None:
    """`text` (a path or file:// URI, relative to `root`) resolved with `..` and symlinks followed, if it
    lies inside `root` (itself resolved); else None and the problem is added. Whether an outside path
    exists is not said."""
    if "\x00" in text:
        problems.append(f"{where}: contains a NUL character")
        return None
    resolved = (root / _local_path(text)).resolve()
    if resolved != root and root not in resolved.parents:
        problems.append(f"{where}: {text} is outside the allowed folder {root}")
        return None
    return resolved


def _work_path(work_path: Any, root: Path, problems: list[str]) -> Path:
    """The work path, resolved (symlinks and `..` followed), which must lie inside `root`."""
    if work_path is None:
        return root / ".etlcore" / "tasks"
    if not isinstance(work_path, dict) or not isinstance(work_path.get("path"), str):
        problems.append("work_path.path: required when work_path is given, a local folder or file:// URI")
        return root
    if work_path.get("type", "OBS") not in ("OBS", "DATASET"):
        problems.append(f"work_path.type: {work_path.get('type')!r} is not supported; use OBS or DATASET")
    return confined(work_path["path"], root, "work_path.path", problems) or root


def _config(body: dict[str, Any], template_id: Any, default: dict[str, Any], root: Path,
            problems: list[str]) -> dict:
    """The operationsV2 the task runs: the template's operator_params, or the default pipeline."""
    template = body.get("template") or {}
    params = template.get("operator_params") if isinstance(template, dict) else None
    if template_id == "sys_data_augmentation":  # refused as a whole (template.id); its operators need no word
        return {}
    if template_id == "sys_data_validation":  # reads and checks the rows; an image operator is refused
        problems.extend(f"{OPERATOR_PARAMS}: {problem}" for problem in
                        map(image_problem, params if isinstance(params, list) else []) if problem)
        return {}
    if template_id == "sys_data_analyse" and not (isinstance(params, list) and any(
            isinstance(p, dict) and isinstance(p.get("name"), str) and p["name"] in operators() for p in params)):
        params = None  # the seed's analyse body sends {"id": "sys_data_analyse", "params": {"op_list": []}}
    if not params:
        config = default
    else:
        try:
            pipeline = check_document(body, prepare=lambda operations: _rooted_files(operations, root, problems))
            # As operationsV2 with the values converted (ModelArts sends numbers as strings).
            config = {stage: [{"name": step.operator.name, "args": step.args} for step in pipeline.steps[stage]]
                      + ([{"name": f"save_pipeline_{stage}"}] if stage in pipeline.checkpoints else [])
                      for stage in STAGES}
        except ConfigError as exc:  # a body carrying an operationsV2 (Qianfan's create, the console) runs that
            where = "operationsV2: " if "operationsV2" in body else ""
            problems.extend(where + problem for problem in exc.problems)
            return {}
    if template_id == "sys_data_selection" and not params:
        return {stage: default.get(stage, []) for stage in SELECTION_STAGES}
    if template_id == "sys_data_selection":
        known = operators()
        problems.extend(f"{OPERATOR_PARAMS}: {entry['name']} is a {stage} operator; sys_data_selection "
                        "takes filter and deduplication operators only"
                        for stage, entries in config.items() if stage not in SELECTION_STAGES
                        for entry in entries if entry["name"] in known)
    return config


def _file_args(name: Any, args: Any) -> list[str]:
    """The args of operator `name` that name a file (a word list, a model) and are set in `args`."""
    cls = operators().get(name) if isinstance(name, str) else None
    if cls is None or not isinstance(args, dict):
        return []
    return [arg.name for arg in cls.args if arg.is_path and isinstance(args.get(arg.name), str) and args[arg.name]]


def _rooted_files(operations: Any, root: Path, problems: list[str]) -> Any:
    """`operations` with every file an operator arg names resolved inside `root`; one outside it is a
    problem, and is left out so that validation does not say whether it exists."""
    if not isinstance(operations, dict):
        return operations
    rooted: dict[str, Any] = {}
    for stage, entries in operations.items():
        rooted[stage] = entries
        if not isinstance(entries, list):
            continue
        rooted[stage] = []
        for entry in entries:
            files = _file_args(entry.get("name"), entry.get("args")) if isinstance(entry, dict) else []
            if files:
                args = dict(entry["args"])
                for key in files:
                    path = confined(args[key], root, f"operator '{entry['name']}' arg '{key}'", problems)
                    args[key] = str(path) if path else ""
                entry = {**entry, "args": args}
            rooted[stage].append(entry)
    return rooted


def check_paths(task: dict[str, Any], root: Path | None = None) -> None:
    """Refuse to run a task whose paths no longer resolve inside its allowed folder (or `root`): a folder
    replaced by a symlink since it was created, say."""
    root = (root or Path(task["allowed_root"] or task["dataset"])).resolve()
    problems: list[str] = []
    for path in orjson.loads(task["inputs"]):
        confined(path, root, "input", problems)
    task_dir = confined(task["task_dir"], root, "work path", problems)
    if task_dir is not None and task_dir != Path(task["task_dir"]):
        problems.append(f"work path: {task['task_dir']} now leads to {task_dir}, not where the task was created")
    for stage, entries in orjson.loads(task["config"]).items():
        for entry in entries:
            for key in _file_args(entry["name"], entry.get("args")):
                confined(entry["args"][key], root, f"stage '{stage}' operator '{entry['name']}' arg '{key}'",
                         problems)
    if problems:
        raise EtlError(f"task {task['id']} cannot run: " + "; ".join(problems), code="PathOutsideRoot")


def run_task(store: TaskStore, task_id: str, workers: int | None = None, engine: str = "local",
             ray_address: str | None = None, allowed_root: Path | None = None,
             keep_checkpoints: bool = False) -> dict[str, Any]:
    """Run (or resume, after `stop`) a task from this process, on the local engine or on Ray (see
    `etlcore.run`); returns its detail response. Its paths must still lie inside the folder it was
    created under, or inside `allowed_root` when given."""
    task = store.get(task_id)
    if task["status"] == DONE:  # its output, and the dataset version naming it, must not change
        raise EtlError(f"task {task_id} has finished; a finished task does not run again, so that what it wrote "
                       f"(and any dataset version naming it) stays as it is: to run it again, create a new task "
                       "from the same body (etlcore task create BODY.json)", code="TaskFinished")
    if task["template"] == "sys_data_analyse" and engine != "local":
        raise EtlError(f"task {task_id} is an analysis ({task['template']}), which runs on the local engine only")
    check_paths(task, allowed_root)
    if not store.claim(task_id, os.getpid()):
        raise EtlError(f"task {task_id} is already running (process {task['pid']})", code="TaskRunning")
    task_dir = Path(task["task_dir"])
    output = None if task["template"] == "sys_data_validation" else task_dir / "output.jsonl"
    config = orjson.loads(task["config"])
    task_dir.mkdir(parents=True, exist_ok=True)
    (task_dir / TASK_MARKER).touch()  # so that no folder walk, another task's say, reads what this one writes
    if task["template"] == "sys_data_analyse":
        return _run_analysis(store, task, config)
    try:
        response = run(config, orjson.loads(task["inputs"]), output, work_dir=task_dir / "work",
                       workers=workers, engine=engine, ray_address=ray_address, keep_checkpoints=keep_checkpoints)
    except EtlError:
        store.update(task_id, status=NONE, pid=None)
        raise
    response["result"]["etlTaskId"] = task_id
    extra = response["etlcore"]
    status = response["result"]["processStatus"]
    asked = store.get(task_id)["stop_requested_by"] if status == TERMINATED else None
    if asked:  # who, rather than how (the signal)
        response["result"]["exceptionResult"] = f"stopped by {asked}"
    write_atomic(task_dir / "work" / "result.json", orjson.dumps(response, option=orjson.OPT_INDENT_2))
    store.update(task_id, status=status, pid=None, finished=time.time(), result=response,
                 stop_reason=extra["stopped_by"] if status == TERMINATED else None,
                 resumed_after=extra.get("resumed_after"),
                 input_rows=extra["input_rows"], output_rows=extra["output_rows"],
                 rejected_rows=extra["rejected_rows"], invalid_rows=extra["invalid_rows"])
    if status == DONE and task["create_version"] and output is not None:
        config_hash = hashlib.sha256(orjson.dumps(config, option=orjson.OPT_SORT_KEYS)).hexdigest()
        version = store.add_version(task["dataset"], task_id, str(output), extra["output_rows"], config_hash)
        response["etlcore"]["version"] = version
        store.update(task_id, result=response)
        write_atomic(task_dir / "work" / "result.json", orjson.dumps(response, option=orjson.OPT_INDENT_2))
    return response


def _run_analysis(store: TaskStore, task: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    from etlcore.analysis import analyse  # matplotlib is imported only for reports

    report = Path(task["task_dir"]) / "report"
    try:
        summary = analyse(config, orjson.loads(task["inputs"]), report)
        status, reason = DONE, ""
    except Exception as exc:  # recorded as the task's failure, like a failed run
        summary, status, reason = {"documents": 0, "invalid_rows": 0}, FAILED, f"{type(exc).__name__}: {exc}"
    response = {**detail(store, task["id"]), "success": True,
                "etlcore": {"report": str(report / "report.html"), "summary": str(report / "summary.json"),
                            "statistics": str(report / "statistics.parquet"), "input_rows": summary["documents"],
                            "invalid_rows": summary["invalid_rows"]}}
    response["result"].update(processStatus=status, exceptionResult=reason, entityCount=summary["documents"])
    store.update(task["id"], status=status, pid=None, finished=time.time(), result=response,
                 input_rows=summary["documents"], invalid_rows=summary["invalid_rows"])
    return response


# The detail of a task with no result yet (waiting, running) as last built, by task: a server answers
# many polls of one running task, and the answer changes only when the task's row or counts do.
_BUILT: OrderedDict[tuple[str, str], tuple[tuple, bytes]] = OrderedDict()
_BUILT_KEPT = 256
_BUILT_LOCK = threading.Lock()


def detail(store: TaskStore, task_id: str, task: dict[str, Any] | None = None) -> dict[str, Any]:
    """The task's detail response: its last run's; for a task not run yet (or running, or waiting for
    its turn on a server), the same shape with processStatus 0 (1) and zero counts (a running task's
    counts so far, once it has some); a task the server paused shows its last run with processStatus 5.
    `task`: the task as just read from `store`, if it was."""
    task = task if task is not None else store.get(task_id)
    if task["result"] and task["status"] != RUNNING:
        response = orjson.loads(task["result"])
        if task["status"] == PAUSED:  # the run recorded its stop (3); the server paused it to resume later
            response["result"]["processStatus"] = PAUSED
            response["result"]["result"]["pauseReason"] = "the server stopped; the task resumes when it starts again"
        return response
    live = live_counts(task)
    state = (*(task[k] for k in ("status", "pid", "started", "finished", "queued", "stop_reason", "stop_requested_by",
                                 "config", "inputs")), live and live["updated"])
    key = (str(store.path), task_id)
    with _BUILT_LOCK:
        built = _BUILT.get(key)
    if built is not None and built[0] == state:
        return orjson.loads(built[1])  # a fresh copy: callers change theirs
    response = _built_detail(task, live)
    with _BUILT_LOCK:
        _BUILT[key] = (state, orjson.dumps(response))
        _BUILT.move_to_end(key)
        while len(_BUILT) > _BUILT_KEPT:
            _BUILT.popitem(last=False)
    return response


def _built_detail(task: dict[str, Any], live: dict[str, Any] | None) -> dict[str, Any]:
    task_id = task["id"]
    config = orjson.loads(task["config"])
    outline = _Outline(config)
    created = datetime.fromtimestamp(task["created"])
    gone = task["stop_reason"] == PROCESS_GONE
    info = RunInfo(signature=task_id, source_name=", ".join(orjson.loads(task["inputs"])), dest_name=task["dataset"],
                   log_path="", started=created, finished=created,
                   process_status=RUNNING if task["queued"] and task["status"] == NONE else task["status"],
                   exception=f"the process running it ended without reporting (killed?); `etlcore task run "
                             f"{task_id}` resumes it from its checkpoints" if gone else
                   f"stopped by {task['stop_requested_by']} before it started"
                   if task["status"] == TERMINATED and task["stop_requested_by"] else "")
    response = detail_response(info, config, stage_results(outline, outline.new_counts(), exported=0))  # type: ignore[arg-type]
    response["result"]["etlTaskId"] = task_id
    if live is not None:  # read so far, and not (yet) rejected or invalid
        response["result"].update(entityCount=live["rows_read"], remainingEntity=live["kept"])
        response["etlcore"] = {"progress": live}
    return response


def with_live_counts(task: dict[str, Any]) -> dict[str, Any]:
    """The task with its row counts so far while it runs (the store has them once a run ends)."""
    live = live_counts(task)
    if live is None:
        return task
    return {**task, "input_rows": live["rows_read"], "rejected_rows": live["rejected"], "invalid_rows": live["invalid"],
            "kept_rows": live["kept"]}


def live_counts(task: dict[str, Any]) -> dict[str, Any] | None:
    """The counts so far of the task's run, while it runs: rows read, rejected, invalid, kept."""
    if task["status"] != RUNNING or not task["started"]:
        return None
    return read_live_counts(Path(task["task_dir"]) / "work", since=task["started"])


class _Outline:
    """The configured operator classes by stage: all a detail with zero counts needs. Building the
    operators (a Pipeline) would load their models: seconds, and memory, in a server answering polls."""

    def __init__(self, config: dict[str, Any]) -> None:
        steps = load_config(config).steps
        self.operators = {stage: [step.operator for step in steps.get(stage, [])] for stage in STAGES}

    def new_counts(self) -> Counts:
        return Counts(operators={stage: [OperatorCount(cls.name) for cls in classes]
                                 for stage, classes in self.operators.items()})


WRITES_NO_OUTPUT = ("sys_data_validation", "sys_data_analyse")


def listing(store: TaskStore) -> list[dict[str, Any]]:
    """Every task: `status` the processStatus and `status_text` it in words, `created` in ISO 8601,
    `output_rows` None for a template that writes no output (validation, analysis), how many `runs` it
    has had, the stage its last run `resumed_after` (None: from the start), and for a stopped task why
    (`stop_reason`: SIGINT, SIGTERM, process gone) and who asked (`stop_requested_by`)."""
    return [{"task_id": t["id"], "name": t["name"], "template": t["template"], "status": t["status"],
             "status_text": STATUS_WORDS.get(t["status"], str(t["status"])), "created": iso8601(t["created"]),
             "input_rows": t["input_rows"],
             "output_rows": None if t["template"] in WRITES_NO_OUTPUT else t["output_rows"],
             "rejected_rows": t["rejected_rows"], "invalid_rows": t["invalid_rows"], "runs": t["runs"] or 0,
             "resumed_after": t["resumed_after"], "stop_reason": t["stop_reason"],
             "stop_requested_by": t["stop_requested_by"]} for t in store.all()]


def stop(store: TaskStore, task_id: str, by: str = "`etlcore task stop`") -> int:
    """Ask the process running the task to stop (as Ctrl-C does): it finishes the chunk in hand, keeps
    its checkpoints and records status 3, its exceptionResult saying who asked (`by`). Returns the
    status the task has now."""
    task = store.get(task_id)  # a task whose process is gone reads as terminated
    if task["status"] != RUNNING:
        raise EtlError(f"task {task_id} is not running (processStatus {task['status']})", code="TaskNotRunning")
    store.update(task_id, stop_requested_by=by)
    os.kill(task["pid"], signal.SIGINT)
    return RUNNING

