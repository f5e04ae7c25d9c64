"""Safe by default, as a new user found it could not be: what a run must never write over or read back,
and paths that cannot be used refused in words before anything is read (exit 2, one JSON line)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import orjson
import pyarrow as pa
import pytest
from conftest import read_jsonl, write_jsonl

from etlcore.cli import main
from etlcore.operators.base import Mapper
from etlcore.registry import _OPERATORS, register

# Keeps documents of 3 words or more: of the 9 below, the first two are rejected.
WORDS = {"filter": [{"name": "filter_check_number_words",
                     "args": {"number_words_min_cutoff": 3, "number_words_max_cutoff": 10000}}]}
DOCS = [{"id": str(n), "text": " ".join(["word"] * (n + 1))} for n in range(9)]


@pytest.fixture
def here(tmp_path: Path) -> Path:
    """A folder holding docs.jsonl (9 rows) and ops.json, made the current folder."""
    write_jsonl(tmp_path / "docs.jsonl", DOCS)
    (tmp_path / "ops.json").write_bytes(orjson.dumps(WORDS))
    previous = Path.cwd()
    os.chdir(tmp_path)
    yield tmp_path
    os.chdir(previous)


def etlcore(capfd: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capfd.readouterr()
    return code, out, err


def refused(code: int, out: str, err: str) -> str:
    """The message of a refusal: exit 2, nothing on stdout, one JSON line on stderr in the seed's shape."""
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    error = orjson.loads(err)
    assert error["code"] == "ParamFieldValueInvalid"
    return error["message"]


def tree(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


# Item 1: an output that is an input by any name, or a work dir over an input, is refused before anything
# is read; the input is untouched.
@pytest.mark.parametrize(("output", "shown"), [
    ("docs.jsonl", ""),
    ("sub/../docs.jsonl", ""),
    ("link.jsonl", " (docs.jsonl, by another name)"),
    ("hard.jsonl", " (docs.jsonl, by another name)"),
])
def test_an_output_that_is_an_input_by_another_name_is_refused(here: Path, capfd: pytest.CaptureFixture[str],
                                                               output: str, shown: str) -> None:
    (here / "sub").mkdir()
    (here / "link.jsonl").symlink_to("docs.jsonl")
    os.link(here / "docs.jsonl", here / "hard.jsonl")
    before, files = (here / "docs.jsonl").read_bytes(), tree(here)
    message = refused(*etlcore(capfd, "run", "--config", "ops.json", "--output", output, "docs.jsonl"))
    assert message == (f"the output {output} is also an input{shown}: etlcore never writes over its input; "
                       "choose another --output")
    assert (here / "docs.jsonl").read_bytes() == before and tree(here) == files


@pytest.mark.parametrize("work_dir", [".", "corpus", "corpus/.."])
def test_a_work_dir_holding_an_input_is_refused(here: Path, capfd: pytest.CaptureFixture[str], work_dir: str) -> None:
    write_jsonl(here / "corpus" / "part.jsonl", DOCS)
    files = tree(here)
    message = refused(*etlcore(capfd, "run", "--config", "ops.json", "--output", "out.jsonl", "--work-dir",
                               work_dir, "corpus"))
    assert message == (f"the work dir {work_dir} holds the input corpus/part.jsonl: a run writes and removes files "
                       "there; give it a work dir of its own (--work-dir)")
    assert tree(here) == files


def test_the_rejects_of_a_run_fed_to_the_same_output_are_refused(here: Path, capfd: pytest.CaptureFixture[str]) -> None:
    assert etlcore(capfd, "run", "--config", "ops.json", "--output", "out.jsonl", "docs.jsonl")[0] == 0
    rejects = (here / "out.jsonl.etlcore" / "rejects.jsonl").read_bytes()
    message = refused(*etlcore(capfd, "run", "--config", "ops.json", "--output", "out.jsonl",
                               "out.jsonl.etlcore/rejects.jsonl"))
    assert message.startswith("the work dir out.jsonl.etlcore holds the input out.jsonl.etlcore/rejects.jsonl")
    assert (here / "out.jsonl.etlcore" / "rejects.jsonl").read_bytes() == rejects


# Item 2: a folder input never reads the run's own output, work dir, or any earlier run's work dir.
@pytest.mark.parametrize("work_dir", [[], ["--work-dir", "corpus/work"], ["--work-dir", "elsewhere"]])
def test_running_twice_with_the_output_inside_the_input_folder_reads_only_the_corpus(
        here: Path, capfd: pytest.CaptureFixture[str], work_dir: list[str]) -> None:
    write_jsonl(here / "corpus" / "part.jsonl", DOCS)
    for _ in range(2):
        code, _, err = etlcore(capfd, "run", "--config", "ops.json", "--output", "corpus/clean.jsonl", *work_dir,
                                 "corpus")
        assert code == 0, err
        assert err.splitlines()[0] == "input = output + rejected + invalid: 9 = 7 + 2 + 0 (ok)"
    assert [row["id"] for row in read_jsonl(here / "corpus" / "clean.jsonl")] == [str(n) for n in range(2, 9)]


def test_an_analysis_report_inside_the_input_folder_is_not_read_back(here: Path,
                                                                    capfd: pytest.CaptureFixture[str]) -> None:
    write_jsonl(here / "corpus" / "part.jsonl", DOCS)
    for _ in range(2):
        code, _, err = etlcore(capfd, "analyse", "--config", "ops.json", "--report", "corpus/report", "corpus")
        assert (code, err) == (0, "etlcore: 9 documents analysed; report: corpus/report/report.html\n")


# An existing file the walk finds is an input, even where the output goes: named as the output, it is
# refused, not replaced; a work dir or report folder holding files of the user's is refused, not skipped.
@pytest.mark.parametrize(("output", "inputs"), [
    ("corpus/b.jsonl", ["corpus"]),
    ("corpus/b.jsonl", ["corpus/*.jsonl"]),
    ("corpus/b.jsonl", ["--work-dir", "elsewhere", "corpus"]),
])
def test_an_output_naming_a_users_file_found_by_the_walk_is_refused(here: Path, capfd: pytest.CaptureFixture[str],
                                                                    output: str, inputs: list[str]) -> None:
    write_jsonl(here / "corpus" / "a.jsonl", DOCS)
    write_jsonl(here / "corpus" / "b.jsonl", DOCS[:4])
    before, files = (here / "corpus" / "b.jsonl").read_bytes(), tree(here)
    message = refused(*etlcore(capfd, "run", "--config", "ops.json", "--output", output, *inputs))
    assert message == (f"the output {output} is also an input: etlcore never writes over its input; "
                       "choose another --output")
    assert (here / "corpus" / "b.jsonl").read_bytes() == before and tree(here) == files


def test_a_work_dir_holding_files_of_the_users_is_refused(here: Path, capfd: pytest.CaptureFixture[str]) -> None:
    write_jsonl(here / "corpus" / "a.jsonl", DOCS)
    (here / "notes").mkdir()
    (here / "notes" / "todo.md").write_text("keep me")
    (here / "notes" / "result.json").write_text("{}")
    files = tree(here)
    message = refused(*etlcore(capfd, "run", "--config", "ops.json", "--output", "out.jsonl", "--work-dir", "notes",
                               "corpus"))
    assert message == ("the work dir notes already holds files etlcore did not write (todo.md); give a new or empty "
                       "folder for the work dir")
    assert tree(here) == files and (here / "notes" / "result.json").read_text() == "{}"
    # inside the input folder, its files are inputs: refused as such, and none is left unread
    write_jsonl(here / "corpus" / "sub" / "b.jsonl", DOCS)
    message = refused(*etlcore(capfd, "run", "--config", "ops.json", "--output", "out.jsonl", "--work-dir",
                               "corpus/sub", "corpus"))
    assert message.startswith("the work dir corpus/sub holds the input corpus/sub/b.jsonl")


def test_an_analysis_report_folder_holding_an_input_is_refused(here: Path, capfd: pytest.CaptureFixture[str]) -> None:
    write_jsonl(here / "corpus" / "data" / "summary.json", DOCS[:1])
    before = (here / "corpus" / "data" / "summary.json").read_bytes()
    message = refused(*etlcore(capfd, "analyse", "--config", "ops.json", "--report", "corpus/data", "corpus"))
    assert message == ("the report folder corpus/data holds the input corpus/data/summary.json; choose a folder of "
                       "its own for the report")
    assert (here / "corpus" / "data" / "summary.json").read_bytes() == before


def test_an_empty_input_path_is_refused_not_taken_for_the_current_folder(
        here: Path, capfd: pytest.CaptureFixture[str]) -> None:
    message = refused(*etlcore(capfd, "run", "--config", "ops.json", "--output", "out.jsonl", ""))
    assert message == "an input is an empty path (''); name a file, folder or glob"
    assert not (here / "out.jsonl").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["run", "--workers", "0", "--output", "o.jsonl", "docs.jsonl"],
     "etlcore run: argument --workers: must be >= 1, got 0 (see etlcore run --help)"),
    (["run", "--workers", "abc", "--output", "o.jsonl", "docs.jsonl"],
     "etlcore run: argument --workers: expected a whole number >= 1, got 'abc' (see etlcore run --help)"),
    (["run", "docs.jsonl"], "etlcore run: the following arguments are required: --output (see etlcore run --help)"),
    (["runn"], "etlcore: argument COMMAND: invalid choice: 'runn' (choose from "),  # the list's quoting varies
])
def test_a_wrong_argument_is_one_json_line_too(here: Path, capfd: pytest.CaptureFixture[str], args: list[str],
                                              message: str) -> None:
    with pytest.raises(SystemExit) as done:
        main(args)
    out, err = capfd.readouterr()
    assert (done.value.code, out) == (2, "") and len(err.splitlines()) == 1
    error = orjson.loads(err)
    assert error["code"] == "ParamFieldValueInvalid" and error["message"].startswith(message)
    assert error["message"].endswith("--help)")


# Item 4: a path under an existing file is a path error, said before the run starts.
@pytest.mark.parametrize(("args", "message"), [
    (["run", "--output", "docs.jsonl/x.jsonl", "in.jsonl"],
     "the output docs.jsonl/x.jsonl cannot be created: docs.jsonl is a file, not a folder"),
    (["run", "--output", "out.jsonl", "--work-dir", "docs.jsonl/work", "in.jsonl"],
     "the work dir docs.jsonl/work cannot be created: docs.jsonl is a file, not a folder"),
    (["run", "--output", "out.jsonl", "--work-dir", "docs.jsonl", "in.jsonl"],
     "the work dir docs.jsonl is a file, not a folder; choose a folder for the work dir"),
    (["run", "--output", "sub", "in.jsonl"], "the output sub is a folder; give a file name for the output"),
    (["analyse", "--report", "docs.jsonl", "in.jsonl"],
     "the report folder docs.jsonl is a file, not a folder; choose a folder for the report folder"),
    (["analyse", "--report", "docs.jsonl/report", "in.jsonl"],
     "the report folder docs.jsonl/report cannot be created: docs.jsonl is a file, not a folder"),
    (["analyse", "--report", ".", "in.jsonl"],
     "the report folder . holds the input in.jsonl; choose a folder of its own for the report"),
])
def test_a_path_that_cannot_be_created_is_refused_before_the_run(here: Path, capfd: pytest.CaptureFixture[str],
                                                                 args: list[str], message: str) -> None:
    write_jsonl(here / "in.jsonl", DOCS)
    (here / "sub").mkdir()
    files = tree(here)
    assert refused(*etlcore(capfd, *args[:1], "--config", "ops.json", *args[1:])) == message
    assert tree(here) == files


# Item 3: rows that already carry a verdict (a rejects file fed back in after fixing a cutoff) run end to end;
# a row rejected again keeps the earlier verdict under etl_previous, the new one under the usual names.
def test_a_rejects_file_fed_back_in_runs_and_keeps_each_earlier_verdict(here: Path,
                                                                       capfd: pytest.CaptureFixture[str]) -> None:
    assert etlcore(capfd, "run", "--config", "ops.json", "--output", "out.jsonl", "docs.jsonl")[0] == 0
    words_1 = {"etl_stage": "filter", "etl_operator": "filter_check_number_words", "etl_reason": "words=1 < min 3"}
    assert read_jsonl(here / "out.jsonl.etlcore" / "rejects.jsonl") == [
        {"id": "0", "text": "word", **words_1},
        {"id": "1", "text": "word word", **words_1, "etl_reason": "words=2 < min 3"}]
    lower = {"filter": [{"name": "filter_check_number_words",
                         "args": {"number_words_min_cutoff": 2, "number_words_max_cutoff": 10000}}]}
    (here / "lower.json").write_bytes(orjson.dumps(lower))
    code, _, err = etlcore(capfd, "run", "--config", "lower.json", "--output", "again.jsonl",
                           "out.jsonl.etlcore/rejects.jsonl")
    assert (code, err.splitlines()[0]) == (0, "input = output + rejected + invalid: 2 = 1 + 1 + 0 (ok)")
    # The rescued row is written with every column it came with, its earlier verdict included.
    assert read_jsonl(here / "again.jsonl") == [
        {"id": "1", "text": "word word", **words_1, "etl_reason": "words=2 < min 3"}]
    again = {**words_1, "etl_reason": "words=1 < min 2"}
    assert read_jsonl(here / "again.jsonl.etlcore" / "rejects.jsonl") == [
        {"id": "0", "text": "word", "etl_previous": words_1, **again}]
    # A third round nests the verdicts, the newest outermost.
    assert etlcore(capfd, "run", "--config", "lower.json", "--output", "third.jsonl",
                   "again.jsonl.etlcore/rejects.jsonl")[0] == 0
    assert read_jsonl(here / "third.jsonl.etlcore" / "rejects.jsonl") == [
        {"id": "0", "text": "word", "etl_previous": {**again, "etl_previous": words_1}, **again}]


def test_run_table_keeps_an_earlier_verdict_and_leaves_rows_without_one_alone() -> None:
    from etlcore import Pipeline

    table = pa.table({"id": ["a", "b"], "text": ["one", "two"], "etl_stage": ["filter", None],
                      "etl_reason": ["words=1", None]})
    kept, rejected, _ = Pipeline(WORDS).run_table(table)
    assert kept.num_rows == 0
    assert rejected.to_pylist() == [
        {"id": "a", "text": "one", "etl_previous": {"etl_stage": "filter", "etl_reason": "words=1"},
         "etl_stage": "filter", "etl_operator": "filter_check_number_words", "etl_reason": "words=1 < min 3"},
        {"id": "b", "text": "two", "etl_previous": None,
         "etl_stage": "filter", "etl_operator": "filter_check_number_words", "etl_reason": "words=1 < min 3"}]


# Item 5: a typo is not mistaken for an empty corpus: when every row is invalid, the run accounts for them
# (invalid.jsonl) but fails, with the reason in the result and on stderr, and writes no output.
def test_every_row_invalid_for_one_reason_fails_the_run_and_says_why(here: Path,
                                                                    capfd: pytest.CaptureFixture[str]) -> None:
    code, out, err = etlcore(capfd, "run", "--config", "ops.json", "--output", "out.jsonl", "--text-column", "body",
                             "docs.jsonl")
    reason = ("every row of the input is invalid: missing text field 'body' (9 rows; see "
              "out.jsonl.etlcore/invalid.jsonl)")
    assert code == 1
    response = orjson.loads(out)
    assert (response["result"]["processStatus"], response["result"]["exceptionResult"]) == (4, reason)
    assert err.splitlines() == ["input = output + rejected + invalid: 9 = 0 + 0 + 9 (ok)",
                                f"etlcore: failed after {err.split(' after ')[1].split('s:')[0]}s: {reason}"]
    assert [row["reason"] for row in read_jsonl(here / "out.jsonl.etlcore" / "invalid.jsonl")] == [
        "missing text field 'body'"] * 9
    assert not (here / "out.jsonl").exists()
    code, _, err = etlcore(capfd, "run", "--config", "ops.json", "--output", "out.jsonl", "--text-column", "body",
                           "--quiet", "docs.jsonl")
    assert code == 1 and err.splitlines()[1].endswith(reason)  # --quiet keeps a failure's reason


def test_a_run_that_failed_for_invalid_rows_fails_the_same_way_when_run_again(
        here: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """Its checkpoints hold no row: a re-run reads the input again instead of resuming to a false 'done'."""
    (here / "ops.json").write_bytes(orjson.dumps(CHECKPOINTED))
    for _ in range(2):
        code, out, err = etlcore(capfd, "run", "--config", "ops.json", "--output", "out.jsonl", "--text-column",
                                 "body", "docs.jsonl")
        assert code == 1 and "resumed" not in err
        assert orjson.loads(out)["result"]["exceptionResult"].startswith("every row of the input is invalid")
        assert not (here / "out.jsonl.etlcore" / "checkpoints").exists()
        assert not (here / "out.jsonl.etlcore" / "progress.json").exists()  # the live counts end with the run


def test_every_row_invalid_for_different_reasons_fails_too(here: Path, capfd: pytest.CaptureFixture[str]) -> None:
    (here / "mixed.jsonl").write_bytes(b'{"text": 1}\nnot json\n')
    code, out, _ = etlcore(capfd, "run", "--config", "ops.json", "--output", "out.jsonl", "mixed.jsonl")
    assert code == 1
    assert orjson.loads(out)["result"]["exceptionResult"] == (
        "every row of the input is invalid, for different reasons; the first: text field 'text' is not a string "
        "(got number) (2 rows; see out.jsonl.etlcore/invalid.jsonl)")


class StopHere(Mapper):
    """Test mapper: asks the run to stop (as Ctrl-C does) when it meets a text with 'stop' in it."""

    name = "toy_stop_here"
    stage = "clean"

    def map_texts(self, texts: pa.StringArray) -> pa.StringArray:
        if any("stop" in text for text in texts.to_pylist()):
            os.kill(os.getpid(), signal.SIGINT)
        return texts


class StopLater(StopHere):
    """Test mapper: the same in the last stage."""

    name = "toy_stop_later"
    stage = "desensitization"


@pytest.fixture
def stoppers(toy_operators: None) -> Iterator[None]:
    for cls in (StopHere, StopLater):
        register(cls)
    try:
        yield
    finally:
        for cls in (StopHere, StopLater):
            _OPERATORS.pop(cls.name, None)


# Item 8: a run that stopped or failed says in words how far it got; never a false MISMATCH or a false ok.
@pytest.mark.parametrize(("config", "line", "summary"), [
    ({"clean": [{"name": "toy_stop_here"}]},
     "the run stopped after reading 4 rows (40 % of the input)", "stopped after {s}s: interrupted by the user"),
    ({"filter": [{"name": "toy_boom"}]},
     "the run failed after reading 4 rows (40 % of the input)",
     "failed after {s}s: operator 'toy_boom' in stage 'filter' failed: ValueError: boom found"),
    ({"deduplication": [{"name": "toy_exact_dedup"}], "desensitization": [{"name": "toy_stop_later"}]},
     "the run stopped in desensitization, after reading all 10 rows of the input",
     "stopped after {s}s: interrupted by the user"),
])
def test_a_stopped_or_failed_run_says_how_far_it_got(here: Path, capfd: pytest.CaptureFixture[str], stoppers: None,
                                                     config: dict, line: str, summary: str) -> None:
    texts = ["aaaa", "bbbb", "cccc", "dddd", "stop", "boom", "eeee", "ffff", "gggg", "hhhh"]
    # 10 lines of 26 bytes: the share read is exact
    write_jsonl(here / "in.jsonl", [{"id": str(n), "text": text} for n, text in enumerate(texts)])
    (here / "stop.json").write_bytes(orjson.dumps(config))
    code, out, err = etlcore(capfd, "run", "--config", "stop.json", "--output", "out.jsonl", "--batch-size", "2",
                             "--workers", "1", "in.jsonl")
    seconds = err.split(" after ")[-1].split("s:")[0]
    assert err.splitlines() == [f"input = output + rejected + invalid: not checked, {line}; nothing written "
                                "(complete checkpoints are kept)", "etlcore: " + summary.format(s=seconds)]
    assert code == (130 if "stopped" in line else 1)
    assert orjson.loads(out)["etlcore"]["accounting"] == err.splitlines()[0]
    assert not (here / "out.jsonl").exists()


# Item 10: a library call prints nothing; the accounting is in the result and in the "etlcore" log.
def test_a_library_run_prints_nothing(here: Path, capfd: pytest.CaptureFixture[str],
                                     caplog: pytest.LogCaptureFixture) -> None:
    import logging

    import etlcore as library

    with caplog.at_level(logging.INFO, logger="etlcore"):
        response = library.run(WORDS, ["docs.jsonl"], "out.jsonl", quiet=True)
    assert capfd.readouterr() == ("", "")
    accounting = "input = output + rejected + invalid: 9 = 7 + 2 + 0 (ok)"
    assert response["etlcore"]["accounting"] == accounting
    assert accounting in caplog.messages
    library.run(WORDS, ["docs.jsonl"], "again.jsonl", quiet=False)  # asked for: the lines the command prints
    assert capfd.readouterr().err.splitlines()[0] == accounting


# Item 6: a finished run's checkpoints are deleted unless --keep-checkpoints; a re-run that resumes says so
# on stderr; a stopped run keeps them and resumes from them.
CHECKPOINTED = {"clean": [{"name": "replace_upper2lower"}, {"name": "save_pipeline_clean"}],
                "filter": [*WORDS["filter"], {"name": "save_pipeline_filter"}]}


def test_checkpoints_go_after_success_unless_kept_and_a_resume_says_so(here: Path,
                                                                      capfd: pytest.CaptureFixture[str]) -> None:
    (here / "ops.json").write_bytes(orjson.dumps(CHECKPOINTED))
    run = ["run", "--config", "ops.json", "--output", "out.jsonl", "docs.jsonl"]
    code, _, err = etlcore(capfd, *run)
    assert code == 0 and not err.startswith("etlcore: resumed")
    assert sorted(os.listdir(here / "out.jsonl.etlcore")) == ["invalid.jsonl", "logs", "rejects.jsonl", "result.json"]
    assert etlcore(capfd, *run, "--keep-checkpoints")[0] == 0
    assert sorted(os.listdir(here / "out.jsonl.etlcore" / "checkpoints")) == ["clean", "filter"]
    expected = (here / "out.jsonl").read_bytes()
    code, out, err = etlcore(capfd, *run, "--keep-checkpoints")
    assert code == 0 and orjson.loads(out)["etlcore"]["resumed_after"] == "filter"
    assert err.splitlines()[:2] == ["etlcore: resumed after filter: nothing left to do",
                                    "input = output + rejected + invalid: 9 = 7 + 2 + 0 (ok)"]
    assert (here / "out.jsonl").read_bytes() == expected
    assert etlcore(capfd, *run)[0] == 0  # resumes once more, then deletes them
    assert not (here / "out.jsonl.etlcore" / "checkpoints").exists()


def test_a_stopped_run_keeps_its_checkpoints_and_the_next_run_resumes_from_them(
        here: Path, capfd: pytest.CaptureFixture[str], stoppers: None) -> None:
    write_jsonl(here / "in.jsonl", [{"id": "1", "text": "Some Words here"}, {"id": "2", "text": "please stop now"}])
    stopping = {**CHECKPOINTED, "desensitization": [{"name": "toy_stop_later"}]}
    (here / "stop.json").write_bytes(orjson.dumps(stopping))
    code, _, err = etlcore(capfd, "run", "--config", "stop.json", "--output", "out.jsonl", "in.jsonl")
    assert code == 130 and err.splitlines()[0] == (
        "input = output + rejected + invalid: not checked, the run stopped in desensitization, after reading all 2 "
        "rows of the input; nothing written (complete checkpoints are kept)")
    assert sorted(os.listdir(here / "out.jsonl.etlcore" / "checkpoints")) == ["clean", "filter"]
    (here / "ops.json").write_bytes(orjson.dumps(CHECKPOINTED))  # the same, without the stopper
    code, _, err = etlcore(capfd, "run", "--config", "ops.json", "--output", "out.jsonl", "in.jsonl")
    assert code == 0 and err.splitlines()[:2] == ["etlcore: resumed after filter: nothing left to do",
                                                  "input = output + rejected + invalid: 2 = 2 + 0 + 0 (ok)"]
    assert read_jsonl(here / "out.jsonl") == [{"id": "1", "text": "some words here"},
                                              {"id": "2", "text": "please stop now"}]
    assert not (here / "out.jsonl.etlcore" / "checkpoints").exists()


# Item 7: a finished task does not run again (its output and the version naming it must not change).
def test_a_finished_task_is_not_run_again(here: Path, capfd: pytest.CaptureFixture[str]) -> None:
    task = {"name": "once", "inputs": [{"type": "OBS", "source": "docs.jsonl"}], "work_path": {"path": "out"},
            "create_version": True, "template": {"id": "sys_data_cleaning", "operator_params": [
                {"name": "filter_check_number_words",
                 "params": {"number_words_min_cutoff": "3", "number_words_max_cutoff": "10000"}}]}}
    (here / "body.json").write_bytes(orjson.dumps(task))
    code, out, err = etlcore(capfd, "task", "create", "body.json", "--run")
    task_id = orjson.loads(out)["result"]["etlTaskId"]  # one JSON document: the run's detail
    assert code == 0 and err.splitlines()[:2] == [f"etlcore: created {task_id}; running it",
                                                  "input = output + rejected + invalid: 9 = 7 + 2 + 0 (ok)"]
    output = here / "out" / task_id / "output.jsonl"
    written = output.read_bytes()
    code, out, err = etlcore(capfd, "task", "run", task_id)
    assert (code, out) == (2, "")
    assert orjson.loads(err) == {"code": "TaskFinished", "message": (
        f"task {task_id} has finished; a finished task does not run again, so that what it wrote (and any dataset "
        "version naming it) stays as it is: to run it again, create a new task from the same body (etlcore task "
        "create BODY.json)")}
    assert output.read_bytes() == written
    code, out, _ = etlcore(capfd, "dataset", "versions", "out", "--json")
    assert [(v["version"], v["task_id"]) for v in orjson.loads(out)] == [("V001", task_id)]


@pytest.mark.parametrize(("keep", "left"), [([], False), (["--keep-checkpoints"], True)])
def test_a_task_deletes_its_checkpoints_when_done_unless_asked_to_keep_them(
        here: Path, capfd: pytest.CaptureFixture[str], keep: list[str], left: bool) -> None:
    task = {"name": "checkpointed", "inputs": [{"type": "OBS", "source": "docs.jsonl"}], "work_path": {"path": "out"},
            "template": {"id": "sys_data_cleaning", "operator_params": [
                {"name": "replace_upper2lower", "params": {}}, {"name": "save_pipeline_clean", "params": {}}]}}
    (here / "body.json").write_bytes(orjson.dumps(task))
    code, out, _ = etlcore(capfd, "task", "create", "body.json", "--run", *keep)
    task_id = orjson.loads(out)["result"]["etlTaskId"]
    assert code == 0
    assert (here / "out" / task_id / "work" / "checkpoints" / "clean" / "state.json").exists() == left


# Item 4: every command, given paths it cannot use, exits 2 with one JSON line on stderr and no traceback.
@pytest.mark.parametrize(("args", "error"), [
    (["run", "--output", "o.jsonl", "missing.jsonl"], "input not found: missing.jsonl"),
    (["run", "--config", "missing.json", "--output", "o.jsonl", "docs.jsonl"], "config file not found: missing.json"),
    (["run", "--output", "o.jsonl", "/dev/null"],
     "input /dev/null: not a regular file or a folder; save the corpus to a file first"),
    (["run", "--config", "folder", "--output", "o.jsonl", "docs.jsonl"],
     "cannot read config file folder: Is a directory"),
    (["run", "--output", "docs.jsonl/o.jsonl", "docs.jsonl"],
     "the output docs.jsonl/o.jsonl cannot be created: docs.jsonl is a file, not a folder"),
    (["run", "--output", "o.jsonl", "--work-dir", "docs.jsonl/w", "docs.jsonl"],
     "the work dir docs.jsonl/w cannot be created: docs.jsonl is a file, not a folder"),
    (["run", "--output", ".", "docs.jsonl"], "the output . is a folder; give a file name for the output"),
    (["run", "--output", "/", "docs.jsonl"], "the output / is a folder; give a file name for the output"),
    (["analyse", "--report", "docs.jsonl/r", "docs.jsonl"],
     "the report folder docs.jsonl/r cannot be created: docs.jsonl is a file, not a folder"),
    (["analyse", "--report", "r", "missing.jsonl"], "input not found: missing.jsonl"),
    (["analyse", "--config", "missing.json", "--report", "r", "docs.jsonl"], "config file not found: missing.json"),
    (["ops", "no_such_operator"], None),
    (["task", "create", "missing.json"],
     "cannot read the task body missing.json: [Errno 2] No such file or directory: 'missing.json'"),
    (["task", "create", "folder"], "cannot read the task body folder: [Errno 21] Is a directory: 'folder'"),
    (["task", "--store", "docs.jsonl/s.sqlite", "create", "ops.json"],
     "the task store docs.jsonl/s.sqlite cannot be created: docs.jsonl is a file, not a folder"),
    (["task", "--store", "folder", "list"], "the task store folder is a folder; give a file name for the task store"),
    (["task", "--store", "docs.jsonl", "list"], "cannot open the task store docs.jsonl: file is not a database"),
    (["task", "run", "task-nope"], None),
    (["task", "detail", "task-nope"], None),
    (["task", "stop", "task-nope"], None),
    (["dataset", "versions", "x", "--store", "folder"],
     "the task store folder is a folder; give a file name for the task store"),
])
def test_every_command_given_a_bad_path_exits_2_with_one_json_line(here: Path, capfd: pytest.CaptureFixture[str],
                                                                   args: list[str], error: str | None) -> None:
    (here / "folder").mkdir()
    files = tree(here)
    code, out, err = etlcore(capfd, *args)
    assert (code, out) == (2, "") and len(err.splitlines()) == 1 and "Traceback" not in err, err
    message = orjson.loads(err)
    assert set(message) == {"code", "message"} and message["message"]
    if error is not None:
        assert message == {"code": "ParamFieldValueInvalid", "message": error}
    assert tree(here) == files


@pytest.mark.parametrize(("args", "error"), [
    (["serve", "--store", "docs.jsonl/x.sqlite", "--no-auth", "--port", "1"],
     "the task store {here}/docs.jsonl/x.sqlite cannot be created: docs.jsonl is a file, not a folder"),
    (["serve", "--credentials", "missing.json", "--port", "1"],
     "cannot read the credentials file missing.json: [Errno 2] No such file or directory: 'missing.json'"),
    (["serve", "--allow-root", "docs.jsonl", "--no-auth", "--port", "1"], "--allow-root docs.jsonl: not a folder"),
    (["serve", "--allow-root", "nowhere", "--no-auth", "--port", "1"], "--allow-root nowhere: no such folder"),
])
def test_serve_given_a_bad_path_exits_2_with_one_json_line(here: Path, args: list[str], error: str) -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "etlcore", *args], cwd=here, capture_output=True, text=True,
                          timeout=120)
    assert (done.returncode, done.stdout, "Traceback" in done.stderr) == (2, "", False), done.stderr
    assert orjson.loads(done.stderr) == {"code": "ParamFieldValueInvalid", "message": error.format(here=here)}


# Item 2, for tasks: a task's folder (output, work dir) inside another task's input folder is not read back,
# whatever the work path is called.
def test_a_task_does_not_read_the_files_of_an_earlier_task_in_its_input_folder(
        here: Path, capfd: pytest.CaptureFixture[str]) -> None:
    write_jsonl(here / "corpus" / "part.jsonl", DOCS)
    task = {"name": "inside", "inputs": [{"type": "OBS", "source": "corpus"}], "work_path": {"path": "corpus/results"},
            "template": {"id": "sys_data_cleaning", "operator_params": [
                {"name": "filter_check_number_words",
                 "params": {"number_words_min_cutoff": "3", "number_words_max_cutoff": "10000"}}]}}
    (here / "body.json").write_bytes(orjson.dumps(task))
    for _ in range(2):
        code, _, err = etlcore(capfd, "task", "create", "body.json", "--run")
        assert code == 0 and err.splitlines()[1] == "input = output + rejected + invalid: 9 = 7 + 2 + 0 (ok)", err


def test_a_refused_task_body_makes_no_task_store(here: Path, capfd: pytest.CaptureFixture[str]) -> None:
    (here / "body.json").write_bytes(orjson.dumps({"name": "", "inputs": [{"type": "LOCAL", "source": "docs.jsonl"}]}))
    files = tree(here)
    assert refused(*etlcore(capfd, "task", "create", "body.json")).startswith("name: required")
    assert tree(here) == files  # no .etlcore/tasks.sqlite
