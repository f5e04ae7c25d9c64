"""The Qianfan data-cleaning console API (`POST /wenxinworkshop/etl/{create,detail,list,delete}`, also
with `?Action=`), signed with bce-auth-v1, answered in the shapes the `qianfan` SDK parses (API.md)."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from datetime import datetime
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from etlcore.errors import EtlError, json_kind
from etlcore.registry import STAGES
from etlcore.report import NONE, PAUSED, RUNNING
from etlcore.server.app import BodyTooLarge, create_task, json_response, now, read_body, renamed
from etlcore.server.signatures import AuthError, verify_bce
from etlcore.tasks import service

PREFIX = "/wenxinworkshop/etl"
# A create body goes on as a ModelArts one; its problems are told in the Qianfan body's own field names.
QIANFAN_FIELDS = {"inputs[0].source": "sourceDatasetId", "work_path.path": "destDatasetId", "name:": "etlTaskName:",
                  "template.operator_params:": "operationsV2:"}


def _log_id() -> str:
    return secrets.token_hex(8)


def _ok(result: Any) -> Response:
    return json_response({"log_id": _log_id(), "result": result, "status": 200, "success": True})


def _refused(message: str, code: str = "ParamFieldValueInvalid", http_status: int = 400) -> Response:
    # The seed's error shape; never an `error_code` key (the SDK takes any for an API error).
    return json_response({"log_id": _log_id(), "code": code, "message": message, "status": http_status,
                          "success": False}, status=http_status)


def _endpoint(action: Any) -> Any:
    async def endpoint(request: Request) -> Response:
        try:
            raw = await read_body(request)
        except BodyTooLarge:
            return _refused("the request body is over 1 MB", "RequestEntityTooLarge", 413)
        keys = request.app.state.settings.keys
        if keys is not None:
            try:
                verify_bce(keys, request.method, request.scope.get("raw_path", b"").decode("latin-1")
                           or request.url.path, request.url.query,
                           {k.lower(): v for k, v in request.headers.items()}, now())
            except AuthError as exc:
                return json_response({"requestId": _log_id(), "code": exc.code, "message": exc.message},
                                     status=exc.status,
                                     headers={"X-Bce-Error-Code": exc.code, "X-Bce-Error-Message": exc.message})
        if action is None:
            return _refused(f"no such API: {request.method} {request.url.path}", "ResourceNotFound", 404)
        try:
            body = orjson.loads(raw) if raw.strip() else {}
        except orjson.JSONDecodeError as exc:
            return _refused(f"the request body is not JSON: {exc}")
        if not isinstance(body, dict):
            return _refused(f"the request body must be a JSON object, got {json_kind(body)}")
        try:
            return _ok(await run_in_threadpool(action, request.app.state, body))
        except EtlError as exc:
            return _refused(exc.message)
    return endpoint


def _create(state: Any, body: dict[str, Any]) -> str:
    problems = []
    for key in ("etlTaskName", "sourceDatasetId", "destDatasetId"):
        if not isinstance(body.get(key), str) or not body[key].strip():
            problems.append(f"{key}: required, a non-empty string")
    if body.get("entityType", 2) != 2:
        problems.append(f"entityType: only 2 (text) is supported, got {body['entityType']!r}")
    operations = body.get("operationsV2")
    if not isinstance(operations, dict):
        problems.append(f"operationsV2: required, an object of stages, got {json_kind(operations)}")
    if problems:
        raise EtlError("; ".join(problems))
    # As a ModelArts body: the operators in stage order (a save_pipeline_ marker names its stage) with
    # the operationsV2 as given beside them, which is what the task runs and echoes.
    params = [{"name": entry.get("name"), "params": entry.get("args", {})} if isinstance(entry, dict) else entry
              for stage in STAGES for entry in operations.get(stage) or []]
    unknown = sorted(set(operations) - set(STAGES))
    if unknown:
        raise EtlError(f"operationsV2: unknown stage(s) {', '.join(unknown)}; valid: {', '.join(STAGES)}")
    modelarts_body = {
        "name": body["etlTaskName"], "description": "", "inputs": [{"type": "OBS", "source": body["sourceDatasetId"]}],
        "work_path": {"type": "OBS", "path": body["destDatasetId"]},
        "template": {"id": "sys_data_cleaning", "operator_params": params or [{"name": "save_pipeline_clean"}]},
        "operationsV2": operations,
    }
    try:
        return create_task(state, modelarts_body, operations=operations)
    except EtlError as exc:
        raise EtlError("; ".join(renamed(exc, QIANFAN_FIELDS))) from None


def _task_id(body: dict[str, Any], key: str = "etlId") -> str:
    value = body.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value:
        raise EtlError(f"{key}: required, the task id (a string such as task-…)")
    return value


def _find(state: Any, task_id: str) -> dict[str, Any]:
    try:
        return state.store.get(task_id)
    except EtlError:
        for task in state.store.all():  # an old client may send the numeric etlId of the list
            if str(numeric_id(task["id"])) == task_id:
                return task
        raise EtlError(f"no etl task {task_id!r}") from None


def numeric_id(task_id: str) -> int:
    return int.from_bytes(hashlib.sha256(task_id.encode()).digest()[:6], "big")


def _detail(state: Any, body: dict[str, Any]) -> dict[str, Any]:
    task = _find(state, _task_id(body))
    response = service.detail(state.store, task["id"], task)
    response["result"]["etlTaskId"] = task["id"]
    return response["result"]


def _list(state: Any, body: dict[str, Any]) -> dict[str, Any]:
    offset, size = body.get("offset", 0), body.get("pageSize", 10)
    if not isinstance(offset, int) or offset < 0:
        raise EtlError(f"offset: an integer >= 0, got {offset!r}")
    if not isinstance(size, int) or not 1 <= size <= 100:
        raise EtlError(f"pageSize: an integer from 1 to 100, got {size!r}")
    tasks = sorted(state.store.all(), key=lambda t: t["created"], reverse=True)
    items = []
    for task in tasks[offset:offset + size]:
        config = orjson.loads(task["config"])
        inputs = orjson.loads(task["inputs"])
        items.append({
            "etlId": numeric_id(task["id"]), "etlStrId": task["id"],
            "startTime": _plain_time(task["started"] or task["created"]),
            "sourceDatasetName": ", ".join(inputs), "destDatasetName": task["dataset"],
            "operatorNameList": [e["name"] for stage in STAGES for e in config.get(stage, [])],
            "processStatus": service.detail(state.store, task["id"], task)["result"]["processStatus"],
        })
    processing = sum(1 for t in tasks if t["status"] in (RUNNING, PAUSED) or (t["status"] == NONE and t["queued"]))
    return {"processingCount": processing, "total": len(tasks), "items": items}


def _plain_time(moment: float) -> str:
    return datetime.fromtimestamp(moment).strftime("%Y-%m-%d %H:%M:%S")


def _delete(state: Any, body: dict[str, Any]) -> bool:
    ids = body.get("etlIds")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, (str, int)) for i in ids):
        raise EtlError("etlIds: required, a non-empty list of task ids")
    tasks = [_find(state, str(i)) for i in ids]  # every id checked before any is deleted
    for task in tasks:
        if task["status"] in (RUNNING, PAUSED) or task["queued"]:
            with contextlib.suppress(EtlError):  # it ended meanwhile
                state.jobs.stop(task["id"], "its deletion")  # a running task stops at its next chunk boundary
        state.store.delete(task["id"])
    return True


def routes() -> list[BaseRoute]:
    actions = {"create": _create, "detail": _detail, "list": _list, "delete": _delete}
    return [*(Route(f"{PREFIX}/{name}", _endpoint(action), methods=["POST"]) for name, action in actions.items()),
            Route("/wenxinworkshop/{rest:path}", _endpoint(None),
                  methods=["GET", "POST", "PUT", "DELETE", "PATCH"])]
