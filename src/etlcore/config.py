"""Load the pipeline config (Qianfan `operationsV2`, or a document that holds one) and validate it
completely before any data is read. Every problem is collected and reported in one error."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from etlcore.errors import ConfigError, EtlError
from etlcore.operators.base import Operator
from etlcore.registry import CONTRACT, STAGES, operator, operators

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

    @property
    def light(self) -> bool:
        """Whether every operator is light (`Operator.light`): reading and writing cost more than they do."""
        return all(step.operator.light for steps in self.steps.values() for step in steps)


OPERATOR_PARAMS = "template.operator_params"

# The image operators of the ModelArts seed, with what etlcore offers for text instead (None: nothing).
IMAGE_OPERATORS: dict[str, str | None] = {
    "MetaValidation": "the template sys_data_validation without operator_params (every row read and checked)",
    "PCC": None,
    "SimDeduplication": "deduplication_simhash",
    "AddNoise": None,
}
IMAGE_TASK_TYPES = ("image_classification", "object_detection")


def load_config(source: str | Path | dict[str, Any]) -> PipelineConfig:
    """Read a config file, or take a parsed document, in any accepted shape, and validate it."""
    document = _read_json(Path(source)) if isinstance(source, (str, Path)) else source
    return check_document(document)


def check_document(document: Any, prepare: Callable[[Any], Any] | None = None) -> PipelineConfig:
    """Find the operationsV2 in `document` and validate it, every problem at once. The one validator of
    `run --config`, `task create` (CLI and HTTP) and `task run`, so that each says the same: problems in a
    ModelArts body are prefixed with where they are (`template.operator_params: ...`). `prepare`, if
    given, rewrites the operations before they are checked (a task roots the files they name)."""
    operations, from_text, problems = _find_operations(document)
    if prepare is not None:
        operations = prepare(operations)
    try:
        config = validate(operations, from_text=from_text)
    except ConfigError as exc:
        problems += exc.problems
    if problems:
        raise ConfigError([f"{OPERATOR_PARAMS}: {p}" for p in problems] if from_text else problems)
    return config


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
    """The `operationsV2` inside any accepted shape, and whether its args may be written as text; an
    entry of a ModelArts body that names no operator of etlcore's is a `ConfigError`."""
    operations, from_text, problems = _find_operations(document)
    if problems:
        raise ConfigError(problems)
    return operations, from_text


def _find_operations(document: Any) -> tuple[dict[str, Any], bool, list[str]]:
    """The `operationsV2` inside any accepted shape, whether its args may be written as text, and the
    entries of a ModelArts body left out of it because they name no operator of etlcore's.

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
            return candidate["operationsV2"], False, []
    template = document.get("template")
    if isinstance(template, dict) and "operator_params" in template:
        operations, problems = _from_operator_params(template["operator_params"])
        return operations, True, problems
    if not document or any(key in document for key in STAGES):
        return document, False, []
    raise ConfigError([
        "config holds no operationsV2: expected an object with keys clean/filter/deduplication/"
        "desensitization, or one under 'operationsV2' or 'result.operationsV2', "
        "or a ModelArts body with 'template.operator_params'"
    ])


def _from_operator_params(params: Any) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """The operationsV2 of a ModelArts `operator_params` list, and the problems of the entries left out
    (no such operator, an image operator); the others are all kept so that their args are checked too."""
    if not isinstance(params, list):
        raise ConfigError([f"{OPERATOR_PARAMS} must be a list, got {params!r}"])
    known = operators()
    operations: dict[str, list[dict[str, Any]]] = {stage: [] for stage in STAGES}
    problems = []
    for position, entry in enumerate(params, 1):
        name = entry.get("name") if isinstance(entry, dict) else None
        image = image_problem(entry)
        if image:
            problems.append(image)
            continue
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
    return operations, problems


def image_problem(entry: Any) -> str | None:
    """Why an `operator_params` entry (or an operationsV2 entry) is refused as an image operator: one of
    the seed's image operators, or params for an image task (`task_type` image_classification or
    object_detection, `dataset_type` manifest). None for anything else."""
    if not isinstance(entry, dict):
        return None
    name = entry.get("name")
    params = entry.get("params", entry.get("args"))
    params = params if isinstance(params, dict) else {}
    task_type, dataset_type = params.get("task_type"), params.get("dataset_type")
    image_params = [f"{key} {value}" for key, value in (("task_type", task_type), ("dataset_type", dataset_type))
                    if isinstance(value, str) and (value in IMAGE_TASK_TYPES or value == "manifest")]
    if not (isinstance(name, str) and name in IMAGE_OPERATORS) and not image_params:
        return None
    what = f"operator '{name}'" if isinstance(name, str) else "an operator"
    if image_params:
        what += f" ({', '.join(image_params)})"
    counterpart = IMAGE_OPERATORS.get(name) if isinstance(name, str) else None
    instead = f"its text counterpart is {counterpart}" if counterpart else "it has no text counterpart"
    return f"{what} works on images: etlcore processes text only; {instead}"


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
        markers = [position for position, entry in enumerate(entries, 1)
                   if isinstance(entry, dict) and entry.get("name") == SAVE_PREFIX + stage]
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
                if name == SAVE_PREFIX + stage and len(markers) > 1:
                    if position == markers[0]:  # said once
                        problems.append(f"'{name}' stands {len(markers)} times in stage '{stage}'; give it once, "
                                        "as the stage's last entry")
                    continue
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
    cls = operator(name)
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
    if isinstance(name, str) and name in IMAGE_OPERATORS:
        return image_problem({"name": name}) or ""
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
