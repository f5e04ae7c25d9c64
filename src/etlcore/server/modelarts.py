"""The ModelArts processor-task API (`/v2/{project_id}/processor-tasks…`), signed with SDK-HMAC-SHA256,
answered in the shapes `huaweicloudsdkcore` parses (API.md). A task's "version" is one run of it: the
task's own first run (version id = task id) and each run created with CreateProcessorTaskVersion (a
task of its own in the store, with `parent` = the task)."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from etlcore.errors import EtlError, json_kind
from etlcore.report import DONE, FAILED, NONE, PAUSED, RUNNING, TERMINATED
from etlcore.server.app import BodyTooLarge, caller, create_task, json_response, now, read_body
from etlcore.server.signatures import AuthError, verify_sdk_hmac
from etlcore.tasks import service

BASE = "/v2/{project_id}/processor-tasks"
# processStatus -> ModelArts status (0 init, 1 running, 2 completed, 3 failed, 4 stopped); paused is running.
STATUS = {NONE: 0, RUNNING: 1, DONE: 2, FAILED: 3, TERMINATED: 4, PAUSED: 1}
# The templates a text task can use, with the names ModelArts' console gives them.
TEMPLATE_LABELS = {
    "sys_data_cleaning": ("数据清洗", "Data cleaning"),
    "sys_data_validation": ("数据校验", "Data validation"),
    "sys_data_selection": ("数据选择", "Data selection"),
    "sys_data_analyse": ("数据分析", "Data analysis"),
}


class NotFound(EtlError):
    pass


def _error(status: int, code: str, message: str) -> Response:
    return json_response({"error_code": code, "error_msg": message}, status=status)


def _endpoint(action: Any) -> Any:
    async def endpoint(request: Request) -> Response:
        try:
            raw = await read_body(request)
        except BodyTooLarge:
            return _error(413, "ModelArts.0413", "the request body is over 1 MB")
        keys = request.app.state.settings.keys
        project_id = request.path_params.get("project_id")
        if keys is not None:
            try:
                request.state.access_key = verify_sdk_hmac(
                    keys, request.method, request.scope.get("raw_path", b"").decode("latin-1") or request.url.path,
                    request.url.query, {k.lower(): v for k, v in request.headers.items()}, raw, now(), project_id)
            except AuthError as exc:
                return _error(exc.status, exc.code, exc.message)
        if action is None:
            return _error(404, "ModelArts.0404", f"no such API: {request.method} {request.url.path}")
        try:
            body = orjson.loads(raw) if raw.strip() else None
        except orjson.JSONDecodeError as exc:
            return _error(400, "ModelArts.0400", f"the request body is not JSON: {exc}")
        try:
            result = await run_in_threadpool(action, request.app.state, request, body)
        except NotFound as exc:
            return _error(404, "ModelArts.4352", exc.message)
        except EtlError as exc:
            return _error(400, "ModelArts.0400", exc.message)
        if result is None:
            return Response(status_code=204)
        return json_response(result)
    return endpoint


def _status(task: dict[str, Any], detail: dict[str, Any]) -> int:
    """A task waiting for its turn has not started: 0, where Qianfan's detail says 1 (API.md section 4)."""
    return 0 if task["status"] == NONE else STATUS.get(detail["processStatus"], 0)


def _task(state: Any, task_id: str) -> dict[str, Any]:
    try:
        return state.store.get(task_id)
    except EtlError:
        raise NotFound(f"processor task {task_id} does not exist") from None


def _millis(moment: float | None) -> int:
    return int((moment or 0) * 1000)


def _duration(task: dict[str, Any]) -> int:
    if not task["started"]:
        return 0
    if task["finished"]:
        return int(task["finished"] - task["started"])
    return int(time.time() - task["started"]) if task["status"] == RUNNING else 0


def _version_name(state: Any, task: dict[str, Any]) -> str:
    for version in state.store.versions(task["dataset"]):
        if version["task_id"] == task["id"]:
            return version["version"]
    return ""


def _describe(state: Any, task: dict[str, Any]) -> dict[str, Any]:
    task = service.with_live_counts(task)
    body = orjson.loads(task["body"])
    detail = service.detail(state.store, task["id"], task)["result"]
    versions = _runs(state, task)
    shown = {
        "task_id": task["id"], "name": task["name"], "description": body.get("description", ""),
        "create_time": _millis(task["created"]), "status": _status(task, detail),
        "duration_seconds": _duration(task), "template": body.get("template", {"id": task["template"]}),
        "work_path": body.get("work_path", {"type": "OBS", "path": task["dataset"]}),
        "version_count": len(versions), "version_id": versions[-1]["id"], "version_name": _version_name(state, task),
        "is_current": True, "workspace_id": body.get("workspace_id", "0"),
        "result": {"entity_count": detail["entityCount"], "remaining_entity": detail["remainingEntity"],
                   "output_rows": task["output_rows"], "rejected_rows": task["rejected_rows"],
                   "invalid_rows": task["invalid_rows"]},
    }
    if detail["processStatus"] == FAILED:
        shown["error_msg"] = detail["exceptionResult"]
    for key in ("inputs", "data_source"):
        if key in body:
            shown[key] = body[key]
    return shown


def _runs(state: Any, task: dict[str, Any]) -> list[dict[str, Any]]:
    return [task, *(t for t in state.store.all() if t["parent"] == task["id"])]


def _version(state: Any, run: dict[str, Any], task_id: str) -> dict[str, Any]:
    run = service.with_live_counts(run)
    body = orjson.loads(run["body"])
    detail = service.detail(state.store, run["id"], run)["result"]
    output = run["output_rows"] or 0
    deleted = (run["rejected_rows"] or 0) + (run["invalid_rows"] or 0)
    version = {
        "task_version_id": run["id"], "task_id": task_id, "version_name": _version_name(state, run),
        "description": body.get("description", ""), "status": _status(run, detail),
        "create_time": _millis(run["created"]), "update_time": _millis(run["finished"] or run["started"]
                                                                        or run["created"]),
        "duration_seconds": _duration(run), "template": body.get("template", {"id": run["template"]}),
        "work_path": body.get("work_path", {"type": "OBS", "path": run["dataset"]}),
        "origin_sample_count": detail["entityCount"], "add_sample_count": 0, "deleted_sample_count": deleted,
        "modified_sample_count": 0, "unmodified_sample_count": output,
    }
    for key in ("inputs", "data_source"):
        if key in body:
            version[key] = body[key]
    return version


def _int_query(request: Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    if not text.lstrip("-").isdigit() or not low <= int(text) <= high:
        raise EtlError(f"{name}: an integer from {low} to {high}, got {text!r}")
    return int(text)


def _page(request: Request, default_limit: int = 10) -> tuple[int, int]:
    return (_int_query(request, "offset", 0, 0, 10**9), _int_query(request, "limit", default_limit, 1, 100))


def _create(state: Any, request: Request, body: Any) -> dict[str, Any]:
    return {"task_id": create_task(state, body)}


def _list(state: Any, request: Request, body: Any) -> dict[str, Any]:
    offset, limit = _page(request)
    query = request.query_params
    order, sort_by = query.get("order", "desc"), query.get("sort_by", "create_time")
    if order not in ("asc", "desc"):
        raise EtlError(f"order: asc or desc, got {order!r}")
    keys = {"create_time": lambda t: t["created"], "name": lambda t: t["name"], "duration_seconds": _duration}
    if sort_by not in keys:
        raise EtlError(f"sort_by: one of {', '.join(keys)}, got {sort_by!r}")
    tasks = [t for t in state.store.all() if not t["parent"]]
    if query.get("task_type"):
        tasks = [t for t in tasks if t["template"] == query["task_type"]]
    if query.get("task_name"):
        tasks = [t for t in tasks if query["task_name"] in t["name"]]
    described = [_describe(state, t) for t in tasks]
    if query.get("status"):
        described = [d for d in described if str(d["status"]) == query["status"]]
    order_of = {t["id"]: keys[sort_by](t) for t in tasks}
    described.sort(key=lambda d: order_of[d["task_id"]], reverse=order == "desc")
    return {"count": len(described), "tasks": described[offset:offset + limit]}


def _items(state: Any, request: Request, body: Any) -> dict[str, Any]:
    offset, limit = _page(request)
    items = [{"template_id": template, "label_zh": chinese, "label_en": english}
             for template, (chinese, english) in TEMPLATE_LABELS.items()]
    return {"total": len(items), "items": items[offset:offset + limit]}


def _show(state: Any, request: Request, body: Any) -> dict[str, Any]:
    task = _task(state, request.path_params["task_id"])
    if task["parent"]:
        raise NotFound(f"processor task {task['id']} does not exist (it is a version of {task['parent']})")
    return _describe(state, task)


def _update(state: Any, request: Request, body: Any) -> dict[str, Any]:
    task = _task(state, request.path_params["task_id"])
    if not isinstance(body, dict) or not isinstance(body.get("description"), str):
        raise EtlError(f"description: required, a string, got {json_kind((body or {}).get('description'))}")
    description = body["description"]
    if len(description) > 256 or service.DESCRIPTION_FORBIDDEN & set(description):
        raise EtlError("description: a string of 0-256 characters without ^!<>=&\"'")
    state.store.update(task["id"], body={**orjson.loads(task["body"]), "description": description})
    return {}


def _delete(state: Any, request: Request, body: Any) -> dict[str, Any]:
    task = _task(state, request.path_params["task_id"])
    for run in _runs(state, task):
        _stop_quietly(state, run)
        state.store.delete(run["id"])
    return {}


def _stop_quietly(state: Any, run: dict[str, Any]) -> None:
    if run["status"] in (RUNNING, PAUSED) or (run["status"] == NONE and run["queued"]):
        with contextlib.suppress(EtlError):  # it ended meanwhile
            state.jobs.stop(run["id"], "its deletion")


def _create_version(state: Any, request: Request, body: Any) -> dict[str, Any]:
    task = _task(state, request.path_params["task_id"])
    if not isinstance(body, dict):
        raise EtlError(f"the request body must be a JSON object, got {json_kind(body)}")
    # Unless given, a version runs like the task: same inputs, operators and work path.
    given = orjson.loads(task["body"])
    merged = {**{k: v for k, v in given.items() if k not in ("inputs", "data_source")}, **body}
    if "inputs" not in body and "data_source" not in body:
        merged.update({k: given[k] for k in ("inputs", "data_source") if k in given})
    merged.setdefault("name", task["name"])
    version_id = create_task(state, merged, parent=task["id"])
    return {"version_id": version_id}


def _run_of(state: Any, request: Request) -> tuple[dict[str, Any], dict[str, Any]]:
    task = _task(state, request.path_params["task_id"])
    version_id = request.path_params["version_id"]
    for run in _runs(state, task):
        if run["id"] == version_id:
            return task, run
    raise NotFound(f"processor task {task['id']} has no version {version_id}")


def _list_versions(state: Any, request: Request, body: Any) -> dict[str, Any]:
    offset, limit = _page(request)
    task = _task(state, request.path_params["task_id"])
    versions = [_version(state, run, task["id"]) for run in _runs(state, task)]
    if request.query_params.get("order", "desc") == "desc":
        versions.reverse()
    return {"count": len(versions), "versions": versions[offset:offset + limit]}


def _show_version(state: Any, request: Request, body: Any) -> dict[str, Any]:
    task, run = _run_of(state, request)
    return _version(state, run, task["id"])


def _stop_version(state: Any, request: Request, body: Any) -> dict[str, Any]:
    _, run = _run_of(state, request)
    state.jobs.stop(run["id"], caller(request, "the ModelArts API"))
    return {}


def _delete_version(state: Any, request: Request, body: Any) -> None:
    task, run = _run_of(state, request)
    if run["id"] == task["id"]:
        raise EtlError(f"version {run['id']} is the task's own run; delete the task instead")
    _stop_quietly(state, run)
    state.store.delete(run["id"])
    return None


def _results(state: Any, request: Request, body: Any) -> dict[str, Any]:
    """The rows the run took out: rejected ones with the operator and reason, then the unreadable ones."""
    offset, limit = _page(request)
    _, run = _run_of(state, request)
    work = Path(run["task_dir"]) / "work"
    wanted = request.query_params.get("result_property")
    page: list[dict[str, Any]] = []
    for kind, path in (("rejected", work / "rejects.jsonl"), ("invalid", work / "invalid.jsonl")):
        if wanted not in (None, kind):
            continue
        in_file = state.row_indexes.count(path)
        if offset >= in_file:  # the page starts past this file
            offset -= in_file
            continue
        rows = state.row_indexes.page(path, offset, limit + 1 - len(page))
        page.extend(_result(kind, row, run["id"]) for _, row in rows)
        offset = 0
        if len(page) > limit:
            break
    counts = {"rejected": run["rejected_rows"] or 0, "invalid": run["invalid_rows"] or 0}
    return {"count": sum(counts.values()) if wanted is None else counts.get(wanted, 0),
            "has_more": len(page) > limit, "results": page[:limit]}


def _result(kind: str, row: dict[str, Any], version_id: str) -> dict[str, Any]:
    if kind == "rejected":
        return {"sample_id": str(row.get("id", "")), "origin_source": row.get("text"), "new_source": None,
                "result_property": "rejected",
                "result_description": [f"{row.get('etl_operator')}: {row.get('etl_reason')}"],
                "signed_origin_source": None, "signed_new_source": None, "version_id": version_id}
    return {"sample_id": f"{row.get('source')}:{row.get('line')}", "origin_source": row.get("raw"),
            "new_source": None, "result_property": "invalid", "result_description": [row.get("reason")],
            "signed_origin_source": None, "signed_new_source": None, "version_id": version_id}


def routes() -> list[BaseRoute]:
    version = BASE + "/{task_id}/versions/{version_id}"
    return [
        Route(BASE, _endpoint(_create), methods=["POST"]),
        Route(BASE, _endpoint(_list), methods=["GET"]),
        Route(BASE + "/items", _endpoint(_items), methods=["GET"]),  # before /{task_id}
        Route(BASE + "/{task_id}", _endpoint(_show), methods=["GET"]),
        Route(BASE + "/{task_id}", _endpoint(_update), methods=["PUT"]),
        Route(BASE + "/{task_id}", _endpoint(_delete), methods=["DELETE"]),
        Route(BASE + "/{task_id}/versions", _endpoint(_create_version), methods=["POST"]),
        Route(BASE + "/{task_id}/versions", _endpoint(_list_versions), methods=["GET"]),
        Route(version, _endpoint(_show_version), methods=["GET"]),
        Route(version, _endpoint(_delete_version), methods=["DELETE"]),
        Route(version + "/stop", _endpoint(_stop_version), methods=["POST"]),
        Route(version + "/results", _endpoint(_results), methods=["GET"]),
        Route("/v2/{project_id}/{rest:path}", _endpoint(None), methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
    ]
