"""The result JSON: the Qianfan data-cleaning task-detail response, field for field (SPEC section 4)."""

from __future__ import annotations

import getpass
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from etlcore.pipeline import Counts, Pipeline

# processStatus values of the seed.
NONE, RUNNING, DONE, TERMINATED, FAILED, PAUSED = range(6)
STATUS_WORDS = {NONE: "not started", RUNNING: "running", DONE: "done", TERMINATED: "stopped", FAILED: "failed",
                PAUSED: "paused"}

# The seed's order of the stages inside pipeline_stage_result.
RESULT_STAGE_ORDER = ("clean", "deduplication", "desensitization", "filter")
LEGACY_COUNTERS = ("remove_emoji", "remove_url", "trad_to_simp", "remove_id_card", "remove_phone_number",
                   "remove_exception_char", "replace_sim2trad", "replace_trad2sim", "replace_upper2lower")


def stage_results(pipeline: Pipeline, counts: Counts, exported: int, unprocessed: int = 0,
                  failed_stage: str | None = None, fail_reason: str = "") -> dict[str, Any]:
    """The inner `result` object: per-stage results, export counts, legacy counters."""
    stages = {}
    for stage in RESULT_STAGE_ORDER:
        operators = counts.operators[stage]
        stages[stage] = {
            "status": "Failed" if stage == failed_stage else "Success",
            "operator_count": len(operators),
            "entity_match_count": counts.entered[stage],
            "each_operator_result": [{"name": c.name, "remaining_count": c.remaining, "drop_count": c.dropped}
                                     for c in operators],
        }
        if stage == failed_stage:
            stages[stage]["failReason"] = fail_reason
    legacy = dict.fromkeys(LEGACY_COUNTERS, 0)
    cut_remaining = 0
    for stage, operators in pipeline.operators.items():
        for operator, count in zip(operators, counts.operators[stage]):
            if operator.counter in legacy:
                legacy[operator.counter] += count.changed
            if operator.name == "cut":
                cut_remaining += count.remaining
    return {
        "RET_OK": 0 if not fail_reason else 1,
        "pipeline_stage_result": stages,
        "export_entity_num": exported,
        "remaining_entity": exported,
        "unprocessed_entity": unprocessed,
        **{name: {"processed_entity": value} for name, value in legacy.items()},
        "cut": {"remaining_entity": cut_remaining, "unprocessed_entity": 0},
        "failReason": fail_reason,
        "pauseReason": "",
    }


@dataclass
class RunInfo:
    """What the envelope says about a run besides its counts."""

    signature: str  # hash of config and inputs: the stable source of the run's ids
    source_name: str
    dest_name: str
    log_path: str
    started: datetime
    finished: datetime
    entity_count: int = 0
    process_status: int = DONE
    exception: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def short_id(seed: str, prefix: str = "", length: int = 16) -> str:
    """A stable id of lowercase letters and digits, like the seeds' `task-7bynx9aaa1qyex2s`."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    number = int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big")
    chars = []
    for _ in range(length):
        number, digit = divmod(number, len(alphabet))
        chars.append(alphabet[digit])
    return prefix + "".join(chars)


def _small_int(seed: str) -> int:
    return int.from_bytes(hashlib.sha256(seed.encode()).digest()[:3], "big")


def iso8601(moment: float) -> str:
    """A Unix time as the seed writes times: local, to the second, with the offset (`2023-11-06T14:31:03+08:00`)."""
    return datetime.fromtimestamp(moment).astimezone().isoformat(timespec="seconds")


def detail_response(info: RunInfo, operations: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """The whole detail response: envelope, task fields, `result`, and the `etlcore` extras."""
    iso = "%Y-%m-%dT%H:%M:%S%z"
    plain = "%Y-%m-%d %H:%M:%S"
    started, finished = info.started.astimezone(), info.finished.astimezone()

    def iso_time(moment: datetime) -> str:
        text = moment.strftime(iso)
        return text[:-2] + ":" + text[-2:]  # +0800 -> +08:00, as the seed writes it

    response = {
        "log_id": short_id(info.signature + "log"),
        "result": {
            "id": _small_int(info.signature + "id"),
            "etlTaskId": short_id(info.signature, "task-"),
            "userId": 0,
            "sourceDatasetId": _small_int(info.source_name),
            "destDatasetId": _small_int(info.dest_name),
            "taskId": _small_int(info.signature + "task"),
            "entityCount": info.entity_count,
            "entityType": 2,
            "operationsV2": operations,
            "result": result,
            "processStatus": info.process_status,
            "status": 0,
            "createTime": iso_time(started),
            "finishTime": iso_time(finished),
            "creatorName": _user(),
            "sourceDatasetName": info.source_name,
            "sourceDatasetStrId": short_id(info.source_name, "ds-"),
            "destDatasetName": info.dest_name,
            "destDatasetStrId": short_id(info.dest_name, "ds-"),
            "etlResult": "",
            "remainingEntity": result["remaining_entity"],
            "exceptionResult": info.exception,
            "startTime": started.strftime(plain),
            "endTime": finished.strftime(plain),
            "modifyTime": finished.strftime(plain),
            "logPath": info.log_path,
        },
        "status": 200,
        "success": True,  # the call worked; processStatus says how the run went (the SDK needs `code` otherwise)
    }
    if info.extra:
        response["etlcore"] = info.extra
    return response


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""
