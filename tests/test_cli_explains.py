"""The CLI explains itself: --version, help for every option, every command listed, `task` options
after the action, read commands that create nothing, `task list` in words, `etlcore ops`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from conftest import REPO

import etlcore
from etlcore.cli import build_parser, main, summary
from etlcore.registry import operators

SAMPLE = REPO / "resources/sample/corpus.jsonl"
ETLCORE = [sys.executable, "-m", "etlcore"]


def run_cli(args: list[str], capfd: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capfd.readouterr()
    return code, out, err


def test_version(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capfd.readouterr().out == f"etlcore {etlcore.__version__}\n"


def test_top_level_help_names_every_command(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capfd.readouterr().out
    description = " ".join(out.split("options:")[0].split("\n\n", 1)[1].split())
    for command in ("run", "analyse", "task", "dataset", "serve", "ops"):
        assert f"`{command}`" in description
        assert re.search(rf"^    {command} +\S", out, re.MULTILINE), command


def _options_without_help(parser: object, path: str = "etlcore") -> list[str]:
    import argparse

    missing = []
    for action in parser._actions:  # type: ignore[attr-defined]
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                missing += _options_without_help(sub, f"{path} {name}")
        elif action.option_strings and not action.help:
            missing.append(f"{path} {action.option_strings[0]}")
    return missing


def test_every_option_of_every_command_has_help() -> None:
    assert _options_without_help(build_parser()) == []


def test_store_and_allow_root_work_after_the_action_too(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "corpus.jsonl").write_bytes(SAMPLE.read_bytes())
    body = tmp_path / "body.json"
    body.write_bytes(orjson.dumps({"name": "v", "inputs": [{"source": str(tmp_path / "corpus.jsonl")}],
                                   "work_path": {"path": str(tmp_path / "out")},
                                   "template": {"id": "sys_data_validation"}}))
    store = tmp_path / "elsewhere.sqlite"
    code, out, _ = run_cli(["task", "create", body, "--store", store, "--allow-root", tmp_path], capfd)
    assert code == 0
    task_id = orjson.loads(out)["task_id"]
    assert run_cli(["task", "run", task_id, "--store", store], capfd)[0] == 0
    code, out, _ = run_cli(["task", "list", "--json", "--store", store], capfd)
    assert [t["task_id"] for t in orjson.loads(out)] == [task_id]
    code, out, _ = run_cli(["task", "--store", store, "list", "--json"], capfd)  # before the action, as before
    assert [t["task_id"] for t in orjson.loads(out)] == [task_id]


def test_read_commands_never_create_a_store(tmp_path: Path) -> None:
    def etlcore_(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*ETLCORE, *args], cwd=tmp_path, capture_output=True, text=True)

    listed = etlcore_("task", "list")
    assert (listed.returncode, listed.stdout) == (0, "")
    assert listed.stderr == ("etlcore: no tasks: no task store at .etlcore/tasks.sqlite (`etlcore task create` "
                             "makes one; `--store` names another)\n")
    assert etlcore_("task", "list", "--json").stdout == "[]\n"
    detail = etlcore_("task", "detail", "task-x")
    assert detail.returncode == 2 and orjson.loads(detail.stderr) == {
        "code": "TaskNotFound", "message": "no task with id 'task-x': no task store at .etlcore/tasks.sqlite "
                                           "(`etlcore task create` makes one; `--store` names another)"}
    for action in ("run", "stop"):
        assert orjson.loads(etlcore_("task", action, "task-x").stderr)["code"] == "TaskNotFound"
    versions = etlcore_("dataset", "versions", ".")
    assert (versions.returncode, versions.stdout) == (0, "")
    assert versions.stderr == (f"etlcore: no versions of {tmp_path.resolve()}: no task store at .etlcore/tasks.sqlite "
                               "(`etlcore task create` makes one; `--store` names another)\n")
    assert etlcore_("dataset", "versions", ".", "--json").stdout == "[]\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == []


def test_dataset_versions_says_when_a_store_has_none_for_the_path(tmp_path: Path,
                                                                   capfd: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "body.json").write_bytes(orjson.dumps({"name": "n", "inputs": [{"source": str(SAMPLE)}],
                                                       "template": {"id": "sys_data_validation"}}))
    store = tmp_path / "tasks.sqlite"
    assert run_cli(["task", "create", str(tmp_path / "body.json"), "--store", str(store)], capfd)[0] == 0
    code, out, err = run_cli(["dataset", "versions", str(tmp_path / "out"), "--store", str(store)], capfd)
    dataset = (tmp_path / "out").resolve()
    assert (code, out, err) == (0, "", f"etlcore: no versions of {dataset}: no task has registered one\n")


def test_task_list_says_status_in_words_and_creation_time_in_iso_8601(
        tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "corpus.jsonl").write_bytes(SAMPLE.read_bytes())
    ids = {}
    for template in ("sys_data_validation", "sys_data_cleaning"):
        (tmp_path / "body.json").write_bytes(orjson.dumps({
            "name": template[9:], "inputs": [{"source": "corpus.jsonl"}],
            "template": {"id": template, "operator_params": [] if template.endswith("validation") else [
                {"name": "cut", "params": {"max_length": "50"}}]}}))
        _, out, _ = run_cli(["task", "create", "body.json"], capfd)
        ids[template] = orjson.loads(out)["task_id"]
    assert run_cli(["task", "run", ids["sys_data_validation"]], capfd)[0] == 0
    _, out, _ = run_cli(["task", "list", "--json"], capfd)
    listed = {t["task_id"]: t for t in orjson.loads(out)}
    validation, cleaning = listed[ids["sys_data_validation"]], listed[ids["sys_data_cleaning"]]
    assert (validation["status"], validation["status_text"], validation["input_rows"],
            validation["output_rows"]) == (2, "done", 336, None)  # a validation writes no output
    assert (cleaning["status"], cleaning["status_text"], cleaning["output_rows"]) == (0, "not started", None)
    assert [(t["runs"], t["resumed_after"], t["stop_reason"], t["stop_requested_by"])
            for t in (validation, cleaning)] == [(1, None, None, None), (0, None, None, None)]
    iso = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d"
    assert re.fullmatch(iso, validation["created"]) and re.fullmatch(iso, cleaning["created"])
    _, out, _ = run_cli(["task", "list"], capfd)
    lines = out.splitlines()
    assert lines[0].split() == ["task_id", "template", "status", "created", "input", "output", "runs", "name"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert rows[ids["sys_data_validation"]].split() == [
        ids["sys_data_validation"], "sys_data_validation", "done", validation["created"], "336", "-", "1", "validation"]
    assert rows[ids["sys_data_cleaning"]].split() == [
        ids["sys_data_cleaning"], "sys_data_cleaning", "not", "started", cleaning["created"], "-", "-", "0", "cleaning"]


def test_ops_lists_each_operators_first_sentence_and_args(capfd: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_cli(["ops"], capfd)
    lines = out.splitlines()
    width = max(map(len, operators())) + 4
    by_name = {line.split()[0]: (line[width:], lines[n + 1][width:]) for n, line in enumerate(lines)
               if line.startswith("  ") and not line.startswith("   ")}
    assert set(by_name) == set(operators())
    assert by_name["remove_non_meaning_characters"] == ("Remove garbled and meaningless code points.", "args: none")
    assert by_name["cut"] == ("Truncate every document to at most `max_length` characters (Unicode code points).",
                              "args: max_length (integer in [1, 100000000]; required)")
    assert by_name["filter_check_lang_id"] == (
        "Reject a document whose language-id probability is below `lang_id_min_cutoff`.",
        'args: lang_id_min_cutoff (number in [0, 1]; required), lang (string; default "")')
    assert by_name["remove_exception_char"][0] == "Legacy: remove characters that are never valid text."
    assert lines[-2].startswith("checkpoint markers: save_pipeline_clean, save_pipeline_filter, ")


def test_summary_does_not_stop_at_i_e() -> None:
    assert summary("Fix mojibake, i.e. UTF-8 read as Latin-1. More.") == "Fix mojibake, i.e. UTF-8 read as Latin-1."


def test_ops_explains_a_checkpoint_marker_and_suggests_a_name(capfd: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["ops", "save_pipeline_clean"], capfd)
    assert code == 0
    assert out.startswith("save_pipeline_clean  (checkpoint marker, stage clean)\n\nNot an operator: a checkpoint "
                          "marker. As the last entry of stage 'clean' it saves what came out of that stage")
    code, _, err = run_cli(["ops", "remove_emojj"], capfd)
    assert code == 2
    assert orjson.loads(err)["message"].startswith("unknown operator 'remove_emojj' (did you mean 'remove_emoji'?); "
                                                   "valid names: cut, ")
    code, _, err = run_cli(["ops", "save_pipeline_clen"], capfd)
    assert "(did you mean 'save_pipeline_clean'?)" in orjson.loads(err)["message"]
    code, _, err = run_cli(["ops", "SimDeduplication"], capfd)
    assert orjson.loads(err)["message"] == ("operator 'SimDeduplication' works on images: etlcore processes text "
                                            "only; its text counterpart is deduplication_simhash")
