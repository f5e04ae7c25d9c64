"""Load the pipeline config (Qianfan `operationsV2`, or a document that holds one) and validate it
completely before any data is read. Every problem is collected and reported in one error."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from etlcore.errors import ConfigError, EtlError
from etlcore.operators.base import Operator
from etlcore.registry import CONTRACT, STAGES, operators

SAVE_PREFIX = "save_pipeline_"


@dataclass(frozen=True)
class Step:
    """One configured operator: its class and its checked arg values (defaults filled in)."""

    operator: type[Operator]
    args: dict[str, Any]

    def build(self) -> Operator:
        return self.operator(**self.args)


@dataclass
class PipelineConfig:
    operations: dict[str, list[dict[str, Any]]]  # the operationsV2 as given, echoed in the result
    steps: dict[str, list[Step]] = field(default_factory=dict)
    checkpoints: set[str] = field(default_factory=set)  # stages ending with save_pipeline_<stage>


def load_config(source: str | Path | dict[str, Any]) -> PipelineConfig:
    """Read a config file, or take a parsed document, in any accepted shape, and validate it."""
    document = _read_json(Path(source)) if isinstance(source, (str, Path)) else source
    operations, from_text = find_operations(document)
    return validate(operations, from_text=from_text)


def _read_json(path: Path) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise EtlError(f"config file not found: {path}") from None
    except OSError as exc:  # a folder, no permission, ...
        raise EtlError(f"cannot read config file {path}: {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise EtlError(f"config file {path} is not valid JSON: {exc}") from None


def find_operations(document: Any) -> tuple[dict[str, Any], bool]:
    """The `operationsV2` inside any accepted shape, and whether its args may be written as text.

    Accepted: an operationsV2 object; `{"operationsV2": ...}`; a whole Qianfan detail response
    (`result.operationsV2`, with or without the envelope); a ModelArts create-task body whose
    `template.operator_params` lists `{"name", "params"}` (stage taken from the registry, numbers
    accepted as strings as ModelArts sends them).
    """
    if not isinstance(document, dict):
        raise ConfigError([f"config must be a JSON object, got {type(document).__name__}"])
    result = document.get("result")
    for candidate in (document, result, result.get("result") if isinstance(result, dict) else None):
        if isinstance(candidate, dict) and "operationsV2" in candidate:
            return candidate["operationsV2"], False
    template = document.get("template")
    if isinstance(template, dict) and "operator_params" in template:
        return _from_operator_params(template["operator_params"]), True
    if not document or any(key in document for key in STAGES):
        return document, False
    raise ConfigError([
        "config holds no operationsV2: expected an object with keys clean/filter/deduplication/"
        "desensitization, or one under 'operationsV2' or 'result.operationsV2', "
        "or a ModelArts body with 'template.operator_params'"
    ])


def _from_operator_params(params: Any) -> dict[str, list[dict[str, Any]]]:
    if not isinstance(params, list):
        raise ConfigError([f"template.operator_params must be a list, got {params!r}"])
    known = operators()
    operations: dict[str, list[dict[str, Any]]] = {stage: [] for stage in STAGES}
    problems = []
    for position, entry in enumerate(params, 1):
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str):
            problems.append(_unknown_operator(name, None, position))
            continue
        stage = known[name].stage if name in known else CONTRACT.get(name)
        if name.startswith(SAVE_PREFIX) and name[len(SAVE_PREFIX):] in STAGES:
            stage = name[len(SAVE_PREFIX):]  # a checkpoint marker names its stage
        if stage is None:
            problems.append(_unknown_operator(name, None, position))
            continue
        operations[stage].append({"name": name, "args": entry.get("params", {})})
    if problems:
        raise ConfigError(problems)
    return operations


def validate(operations: Any, from_text: bool = False) -> PipelineConfig:
    if not isinstance(operations, dict):
        raise ConfigError([f"operationsV2 must be an object, got {operations!r}"])
    problems = [
        f"unknown stage '{key}'{_did_you_mean(key, STAGES)}; stages are {', '.join(STAGES)}"
        for key in operations if key not in STAGES
    ]
    config = PipelineConfig(operations=operations)
    for stage in STAGES:
        entries = operations.get(stage) or []
        if not isinstance(entries, list):
            problems.append(f"stage '{stage}' must be a list of operators, got {entries!r}")
            continue
        config.steps[stage] = []
        for position, entry in enumerate(entries, 1):
            where = f"stage '{stage}' entry {position}"
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                problems.append(f"{where} must be an object with a string 'name', got {entry!r}")
                continue
            name, args = entry["name"], entry.get("args", {})
            if args is None:
                args = {}
            if not isinstance(args, dict):
                problems.append(f"operator '{name}': 'args' must be an object, got {args!r}")
                continue
            if name.startswith(SAVE_PREFIX):
                problems += _check_save_marker(stage, name, args, position == len(entries))
                config.checkpoints.add(stage)
                continue
            step, step_problems = _check_step(stage, name, args, position, from_text)
            problems += step_problems
            if step:
                config.steps[stage].append(step)
    if problems:
        raise ConfigError(problems)
    return config


def _check_save_marker(stage: str, name: str, args: dict, is_last: bool) -> list[str]:
    if name != SAVE_PREFIX + stage:
        return [f"'{name}' cannot stand in stage '{stage}'; this stage's marker is '{SAVE_PREFIX}{stage}'"]
    problems = []
    if not is_last:
        problems.append(f"'{name}' must be the last entry of stage '{stage}'")
    if args:
        problems.append(f"'{name}' takes no args, got {sorted(args)}")
    return problems


def _check_step(stage: str, name: str, args: dict, position: int,
                from_text: bool) -> tuple[Step | None, list[str]]:
    cls = operators().get(name)
    if cls is None:
        return None, [_unknown_operator(name, stage, position)]
    if cls.stage != stage:
        return None, [f"operator '{name}' belongs to stage '{cls.stage}', not '{stage}'"]
    declared = {arg.name: arg for arg in cls.args}
    problems = []
    for given in args:
        if given not in declared:
            hint = _did_you_mean(given, declared)
            takes = f"its args: {', '.join(declared)}" if declared else "it takes no args"
            problems.append(f"operator '{name}' has no arg '{given}'{hint}; {takes}")
    values: dict[str, Any] = {}
    for arg in cls.args:
        if arg.name not in args:
            if arg.required:
                problems.append(f"operator '{name}' is missing required arg '{arg.name}' ({arg.allowed()})")
            else:
                values[arg.name] = arg.default
            continue
        value, problem = arg.check(name, args[arg.name], from_text=from_text)
        if problem:
            problems.append(problem)
        else:
            values[arg.name] = value
    if problems:
        return None, problems
    problems = cls.check_together(values)
    return (None, problems) if problems else (Step(cls, values), [])


def _unknown_operator(name: Any, stage: str | None, position: int) -> str:
    if not isinstance(name, str):
        return f"operator entry {position} has no string 'name': {name!r}"
    if name in CONTRACT:
        return (f"operator '{name}' (stage '{CONTRACT[name]}') is part of the Qianfan contract but is not "
                f"implemented in this version of etlcore yet; see `etlcore ops` for what is")
    known = operators()
    valid = sorted(n for n, c in known.items() if stage is None or c.stage == stage)
    where = f" in stage '{stage}'" if stage else ""
    return (f"unknown operator '{name}'{where}{_did_you_mean(name, list(known) + list(CONTRACT))}; "
            f"valid names: {', '.join(valid)}")


def _did_you_mean(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
