from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from conftest import SEED_DETAIL

from etlcore.config import load_config
from etlcore.errors import ConfigError, EtlError
from etlcore.registry import operators


def problems(config: object) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert caught.value.to_json()["code"] == "ParamFieldValueInvalid"
    assert caught.value.to_json()["message"] == "; ".join(caught.value.problems)
    return caught.value.problems


def test_unknown_operator_names_the_closest_match_and_the_valid_names() -> None:
    clean_names = sorted(name for name, cls in operators().items() if cls.stage == "clean")
    assert {"cut", "replace_upper2lower"} <= set(clean_names)
    assert problems({"clean": [{"name": "replace_upper2lowr", "args": {}}]}) == [
        "unknown operator 'replace_upper2lowr' in stage 'clean' (did you mean 'replace_upper2lower'?); "
        f"valid names: {', '.join(clean_names)}"
    ]


def test_contract_operator_not_implemented_yet_says_so() -> None:
    from etlcore.registry import CONTRACT

    pending = sorted(name for name in CONTRACT if name not in operators())
    if not pending:
        pytest.skip("every contract operator is implemented")
    name = pending[0]
    assert problems({CONTRACT[name]: [{"name": name, "args": {}}]}) == [
        f"operator '{name}' (stage '{CONTRACT[name]}') is part of the Qianfan contract but is not "
        "implemented in this version of etlcore yet; see `etlcore ops` for what is"
    ]


def test_operator_in_the_wrong_stage() -> None:
    assert problems({"desensitization": [{"name": "cut", "args": {"max_length": 5}}]}) == [
        "operator 'cut' belongs to stage 'clean', not 'desensitization'"
    ]


def test_unknown_stage() -> None:
    assert problems({"clen": [], "clean": []}) == [
        "unknown stage 'clen' (did you mean 'clean'?); stages are clean, filter, deduplication, desensitization"
    ]


def test_missing_required_arg() -> None:
    assert problems({"clean": [{"name": "cut", "args": {}}]}) == [
        "operator 'cut' is missing required arg 'max_length' (integer in [1, 100000000])"
    ]


def test_unknown_arg() -> None:
    assert problems({"clean": [{"name": "cut", "args": {"max_lenght": 3, "max_length": 3}}]}) == [
        "operator 'cut' has no arg 'max_lenght' (did you mean 'max_length'?); its args: max_length"
    ]
    assert problems({"clean": [{"name": "replace_upper2lower", "args": {"x": 1}}]}) == [
        "operator 'replace_upper2lower' has no arg 'x'; it takes no args"
    ]


@pytest.mark.parametrize(("value", "message"), [
    ("10", "operator 'cut' arg 'max_length': got '10' (string), allowed: integer in [1, 100000000]"),
    (True, "operator 'cut' arg 'max_length': got True (boolean), allowed: integer in [1, 100000000]"),
    (None, "operator 'cut' arg 'max_length': got None (null), allowed: integer in [1, 100000000]"),
    (2.5, "operator 'cut' arg 'max_length': got 2.5 (number), allowed: integer in [1, 100000000]"),
    ([3], "operator 'cut' arg 'max_length': got [3] (array), allowed: integer in [1, 100000000]"),
    (0, "operator 'cut' arg 'max_length': value 0 is out of range, allowed: integer in [1, 100000000]"),
    (10**9, "operator 'cut' arg 'max_length': value 1000000000 is out of range, "
            "allowed: integer in [1, 100000000]"),
])
def test_wrong_type_or_out_of_range(value: object, message: str) -> None:
    assert problems({"clean": [{"name": "cut", "args": {"max_length": value}}]}) == [message]


def test_min_greater_than_max_and_ranges_of_floats(toy_operators: None) -> None:
    from etlcore.operators.base import Arg, Filter
    from etlcore.registry import _OPERATORS, register

    class Between(Filter):
        """Test filter with a min and a max: min <= max is required."""

        name, stage, statistic = "toy_between", "filter", "x"
        args = (Arg("lo", float, "", required=True, minimum=1, maximum=10),
                Arg("hi", float, "", required=True, minimum=1, maximum=10))

        @classmethod
        def check_together(cls, values: dict) -> list[str]:
            if values["lo"] > values["hi"]:
                return [f"operator '{cls.name}': lo {values['lo']} > hi {values['hi']}"]
            return []

    register(Between)
    try:
        assert problems({"filter": [{"name": "toy_between", "args": {"lo": 5, "hi": 2.2}}]}) == [
            "operator 'toy_between': lo 5.0 > hi 2.2"]
        assert problems({"filter": [{"name": "toy_length", "args": {"min_length": 1000.5}}]}) == [
            "operator 'toy_length' arg 'min_length': value 1000.5 is out of range, allowed: number in [0, 1000]"]
    finally:
        _OPERATORS.pop("toy_between")


def test_save_markers_only_at_the_end_of_their_own_stage() -> None:
    config = load_config({"clean": [{"name": "replace_upper2lower"}, {"name": "save_pipeline_clean", "args": {}}]})
    assert config.checkpoints == {"clean"}
    assert [s.operator.name for s in config.steps["clean"]] == ["replace_upper2lower"]
    assert problems({"clean": [{"name": "save_pipeline_clean"}, {"name": "replace_upper2lower"}]}) == [
        "'save_pipeline_clean' must be the last entry of stage 'clean'"]
    assert problems({"clean": [{"name": "cut", "args": {"max_length": 5}}, {"name": "save_pipeline_clean"},
                               {"name": "save_pipeline_clean"}]}) == [
        "'save_pipeline_clean' stands 2 times in stage 'clean'; give it once, as the stage's last entry"]
    assert problems({"clean": [{"name": "save_pipeline_filter"}]}) == [
        "'save_pipeline_filter' cannot stand in stage 'clean'; this stage's marker is 'save_pipeline_clean'"]


def test_malformed_entries_and_all_problems_reported_together() -> None:
    assert problems({"clean": [{"args": {}}, "cut", {"name": "cut", "args": []}, {"name": "cut"}],
                     "filter": {"name": "x"}}) == [
        "stage 'clean' entry 1 must be an object with a string 'name', got {'args': {}}",
        "stage 'clean' entry 2 must be an object with a string 'name', got 'cut'",
        "operator 'cut': 'args' must be an object, got []",
        "operator 'cut' is missing required arg 'max_length' (integer in [1, 100000000])",
        "stage 'filter' must be a list of operators, got {'name': 'x'}",
    ]


def test_accepts_the_seed_detail_response_whole(tmp_path: Path, toy_operators: None) -> None:
    seed = orjson.loads(SEED_DETAIL.read_bytes())
    # The seed's own config names operators of later issues; with only cut it shows every shape works.
    seed["result"]["operationsV2"] = {"clean": [{"name": "cut", "args": {"max_length": 9}}]}
    for document in (seed, seed["result"], seed["result"]["operationsV2"],
                     {"operationsV2": seed["result"]["operationsV2"]}):
        config = load_config(document)
        assert [(s.operator.name, s.args) for s in config.steps["clean"]] == [("cut", {"max_length": 9})]
    path = tmp_path / "detail.json"
    path.write_bytes(orjson.dumps(seed))
    assert load_config(path).operations == {"clean": [{"name": "cut", "args": {"max_length": 9}}]}


def test_accepts_a_modelarts_body_with_numbers_as_strings(toy_operators: None) -> None:
    body = {"name": "PRE-1", "template": {"id": "sys_data_cleaning", "operator_params": [
        {"name": "toy_length", "params": {"min_length": "2.5"}},
        {"name": "cut", "advanced_params_switch": False, "params": {"max_length": "100"}},
    ]}}
    config = load_config(body)
    assert [(s.operator.name, s.args) for s in config.steps["clean"]] == [("cut", {"max_length": 100})]
    assert [(s.operator.name, s.args) for s in config.steps["filter"]] == [("toy_length", {"min_length": 2.5})]
    assert config.operations["clean"] == [{"name": "cut", "args": {"max_length": "100"}}]
    bad = {"template": {"operator_params": [{"name": "cut", "params": {"max_length": "ten"}}]}}
    assert problems(bad) == [
        "template.operator_params: operator 'cut' arg 'max_length': got 'ten' (string), "
        "allowed: integer in [1, 100000000]"]
    assert problems({"template": {"operator_params": [{"name": "nope", "params": {}}]}}) == [
        f"template.operator_params: unknown operator 'nope'; valid names: {', '.join(sorted(operators()))}"]


def test_a_modelarts_body_reports_every_problem_at_once_with_integers_as_given() -> None:
    # An unknown operator does not hide the bad args of the others; "-3" is echoed as -3, not -3.0.
    body = {"template": {"operator_params": [
        {"name": "remove_emojj", "params": {}},
        {"name": "cut", "params": {"max_length": "-3"}},
        {"name": "deduplication_simhash", "params": {"distance": "nine"}}]}}
    assert problems(body) == [
        "template.operator_params: unknown operator 'remove_emojj' (did you mean 'remove_emoji'?); "
        f"valid names: {', '.join(sorted(operators()))}",
        "template.operator_params: operator 'cut' arg 'max_length': value -3 is out of range, "
        "allowed: integer in [1, 100000000]",
        "template.operator_params: operator 'deduplication_simhash' arg 'distance': got 'nine' (string), "
        "allowed: number in [4, 6]"]


@pytest.mark.parametrize(("entry", "problem"), [
    ({"name": "MetaValidation", "params": {"task_type": "image_classification", "dataset_type": "manifest"}},
     "operator 'MetaValidation' (task_type image_classification, dataset_type manifest) works on images: "
     "etlcore processes text only; its text counterpart is the template sys_data_validation without "
     "operator_params (every row read and checked)"),
    ({"name": "PCC", "params": {"task_type": "image_classification", "n_clusters": "auto"}},
     "operator 'PCC' (task_type image_classification) works on images: etlcore processes text only; "
     "it has no text counterpart"),
    ({"name": "SimDeduplication", "params": {"simlarity_threshold": "0.9"}},
     "operator 'SimDeduplication' works on images: etlcore processes text only; its text counterpart is "
     "deduplication_simhash"),
    ({"name": "AddNoise", "params": {"noise_type": "Gauss"}},
     "operator 'AddNoise' works on images: etlcore processes text only; it has no text counterpart"),
    ({"name": "Crop", "params": {"task_type": "object_detection"}},
     "operator 'Crop' (task_type object_detection) works on images: etlcore processes text only; "
     "it has no text counterpart"),
])
def test_image_operators_of_the_seed_are_refused_with_one_message(entry: dict, problem: str) -> None:
    assert problems({"template": {"operator_params": [entry]}}) == [f"template.operator_params: {problem}"]


def test_an_image_operator_in_an_operations_v2_is_refused_too() -> None:
    assert problems({"deduplication": [{"name": "SimDeduplication", "args": {}}]}) == [
        "operator 'SimDeduplication' works on images: etlcore processes text only; its text counterpart is "
        "deduplication_simhash"]


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(EtlError, match=r"^config file not found: .*nope\.json$"):
        load_config(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(EtlError, match=r"^config file .*bad\.json is not valid JSON: "):
        load_config(tmp_path / "bad.json")
    assert problems([1, 2]) == ["config must be a JSON object, got list"]
    assert problems({"name": "x"}) == [
        "config holds no operationsV2: expected an object with keys clean/filter/deduplication/desensitization, "
        "or one under 'operationsV2' or 'result.operationsV2', or a ModelArts body with "
        "'template.operator_params'"]


def test_a_modelarts_body_can_carry_checkpoint_markers() -> None:
    config = load_config({"template": {"operator_params": [
        {"name": "remove_emoji", "params": {}}, {"name": "save_pipeline_clean", "params": {}},
        {"name": "replace_emails", "params": {}}]}})
    assert config.checkpoints == {"clean"}
    assert config.operations["clean"] == [{"name": "remove_emoji", "args": {}}, {"name": "save_pipeline_clean",
                                                                               "args": {}}]


def test_deduplication_optional_args_are_checked_like_any_other() -> None:
    args = {"distance": 5, "short_text_chars": -1, "frequent_line_share": 2, "tokenization": "bpe"}
    assert problems({"deduplication": [{"name": "deduplication_simhash", "args": args}]}) == [
        "operator 'deduplication_simhash' arg 'short_text_chars': value -1 is out of range, "
        "allowed: integer in [0, 1000000]",
        "operator 'deduplication_simhash' arg 'tokenization': got 'bpe' (string), allowed: one of char, word",
        "operator 'deduplication_simhash' arg 'frequent_line_share': value 2 is out of range, "
        "allowed: number in [0, 1]",
    ]


def test_a_config_loads_the_modules_of_its_own_operators_only() -> None:
    """Starting a run of a light config does not build every other operator's tables (about a second)."""
    code = ("import sys, etlcore.config as c; "
            "c.load_config({'clean': [{'name': 'replace_upper2lower'}, {'name': 'cut', 'args': {'max_length': 9}}]}); "
            "print(sorted(m for m in sys.modules if m.startswith('etlcore.operators.')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["['etlcore.operators.base',", "'etlcore.operators.cut',",
                                   "'etlcore.operators.replace_upper2lower']"]
