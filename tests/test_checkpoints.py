"""Checkpoints (`save_pipeline_<stage>`) and resuming: after a failure, a changed config, a kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from conftest import REPO

import etlcore
from etlcore.runner import _Pass, plan_passes

STAGES = ["clean", "filter", "deduplication", "desensitization"]
# Times, and the ids derived from the output path (the runs compared write to different folders).
VOLATILE = {"createTime", "finishTime", "startTime", "endTime", "modifyTime", "logPath", "id", "etlTaskId",
            "taskId", "destDatasetId", "destDatasetStrId", "destDatasetName"}


def config(desensitization: list[dict] | None = None, markers: tuple[str, ...] = ("filter", "deduplication"),
           number_words_min: float = 2.2) -> dict:
    """The seed's pipeline with the fast filters and checkpoint markers at the end of some stages."""
    stages = {
        "clean": [{"name": "remove_invisible_character"}, {"name": "replace_uniform_whitespace"},
                  {"name": "replace_traditional_chinese_to_simplified"}, {"name": "remove_emoji"}],
        "filter": [{"name": "filter_check_number_words",
                    "args": {"number_words_min_cutoff": number_words_min, "number_words_max_cutoff": 10000}},
                   {"name": "filter_check_character_repetition_removal",
                    "args": {"default_character_repetition_max_cutoff": 0.2}},
                   {"name": "filter_check_special_characters", "args": {"special_characters_max_cutoff": 0.3}}],
        "deduplication": [{"name": "deduplication_simhash", "args": {"distance": 5}}],
        "desensitization": desensitization if desensitization is not None
        else [{"name": "replace_emails"}, {"name": "replace_ip"}],
    }
    for stage in markers:
        stages[stage] = [*stages[stage], {"name": f"save_pipeline_{stage}"}]
    return {"operationsV2": stages}


def comparable(response: dict) -> dict:
    result = {k: v for k, v in response["result"].items() if k not in VOLATILE}
    return {"result": result, "rows": {k: response["etlcore"][k] for k in
                                       ("input_rows", "output_rows", "rejected_rows", "invalid_rows")}}


def outputs(folder: Path) -> tuple[bytes, bytes, bytes]:
    return ((folder / "out.jsonl").read_bytes(), (folder / "out.jsonl.etlcore/rejects.jsonl").read_bytes(),
            (folder / "out.jsonl.etlcore/invalid.jsonl").read_bytes())


@pytest.mark.parametrize(("todo", "checkpoints", "expected"), [
    (STAGES, set(), [_Pass(("clean", "filter"), fingerprint=True), _Pass(("desensitization",), deduplicated=True)]),
    (STAGES, {"clean"}, [_Pass(("clean",), checkpoint="clean"), _Pass(("filter",), fingerprint=True),
                         _Pass(("desensitization",), deduplicated=True)]),
    (STAGES, {"filter", "deduplication"},
     [_Pass(("clean", "filter"), fingerprint=True, checkpoint="filter"),
      _Pass((), deduplicated=True, checkpoint="deduplication"), _Pass(("desensitization",))]),
    # Resumed after the filter checkpoint: fingerprint what it holds, then the rest.
    (STAGES[2:], set(), [_Pass((), fingerprint=True), _Pass(("desensitization",), deduplicated=True)]),
    (["clean", "filter", "desensitization"], {"desensitization"},
     [_Pass(("clean", "filter", "desensitization"), checkpoint="desensitization"), _Pass(())]),
    ([], set(), [_Pass(())]),  # resumed after the last stage's checkpoint: copy it to the output
])
def test_passes(todo: list[str], checkpoints: set[str], expected: list[_Pass]) -> None:
    assert plan_passes(todo, checkpoints) == expected


def sample_input(tmp_path: Path, copies: int = 1) -> Path:
    corpus = tmp_path / "in.jsonl"
    corpus.write_bytes((REPO / "resources/sample/corpus.jsonl").read_bytes() * copies)
    return corpus


def test_a_failed_run_resumes_after_its_last_checkpoint_with_the_same_output(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from etlcore.operators.replace_ip import ReplaceIp

    corpus = sample_input(tmp_path)
    reference = etlcore.run(config(), [corpus], tmp_path / "reference" / "out.jsonl", batch_size=50)
    assert reference["etlcore"]["resumed_after"] is None

    def fail(self: ReplaceIp, texts: object) -> object:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(ReplaceIp, "map_texts", fail)
    failed = etlcore.run(config(), [corpus], tmp_path / "job" / "out.jsonl", batch_size=50)
    assert failed["result"]["processStatus"] == 4
    assert not (tmp_path / "job" / "out.jsonl").exists()
    work = tmp_path / "job" / "out.jsonl.etlcore"
    assert sorted(p.name for p in (work / "checkpoints").iterdir()) == ["deduplication", "filter"]
    assert sorted(p.name for p in (work / "checkpoints" / "filter").iterdir()) == [
        "invalid.jsonl", "rejects.jsonl", "rows.parquet", "state.json"]
    monkeypatch.undo()

    resumed = etlcore.run(config(), [corpus], tmp_path / "job" / "out.jsonl", batch_size=50)
    assert resumed["etlcore"]["resumed_after"] == "deduplication"
    assert comparable(resumed) == comparable(reference)
    assert outputs(tmp_path / "job") == outputs(tmp_path / "reference")


def test_a_changed_config_or_input_invalidates_the_checkpoints_it_affects(tmp_path: Path) -> None:
    corpus = sample_input(tmp_path)
    out = tmp_path / "job" / "out.jsonl"
    etlcore.run(config(), [corpus], out, batch_size=50, keep_checkpoints=True)
    # Desensitization comes after both checkpoints: they still hold.
    changed_tail = config(desensitization=[{"name": "replace_emails"}])
    resumed = etlcore.run(changed_tail, [corpus], out, keep_checkpoints=True)
    assert resumed["etlcore"]["resumed_after"] == "deduplication"
    reference = etlcore.run(changed_tail, [corpus], tmp_path / "reference" / "out.jsonl")
    assert (out.read_bytes(), comparable(etlcore.run(changed_tail, [corpus], out, keep_checkpoints=True))) == (
        (tmp_path / "reference" / "out.jsonl").read_bytes(), comparable(reference))
    # A filter's cutoff changes what both checkpoints hold: the run starts over, and replaces them.
    stricter = config(number_words_min=50)
    assert etlcore.run(stricter, [corpus], out, keep_checkpoints=True)["etlcore"]["resumed_after"] is None
    assert etlcore.run(stricter, [corpus], out, keep_checkpoints=True)["etlcore"]["resumed_after"] == "deduplication"
    # So does a changed input.
    with corpus.open("ab") as more:
        more.write(b'{"id": "new", "text": "one more document with enough words in it"}\n')
    assert etlcore.run(stricter, [corpus], out)["etlcore"]["resumed_after"] is None


def test_kill_9_in_the_middle_of_a_stage_then_a_rerun_loses_and_repeats_nothing(tmp_path: Path) -> None:
    corpus = sample_input(tmp_path, copies=60)  # 20,160 rows
    ops = tmp_path / "ops.json"
    ops.write_bytes(orjson.dumps(config(markers=("clean", "filter"))))
    command = [sys.executable, "-m", "etlcore", "run", str(corpus), "--config", str(ops), "--workers", "1",
               "--batch-size", "500", "--quiet"]
    subprocess.run([*command, "--output", str(tmp_path / "reference" / "out.jsonl")], check=True,
                   capture_output=True)

    out = tmp_path / "job" / "out.jsonl"
    work = tmp_path / "job" / "out.jsonl.etlcore"
    process = subprocess.Popen([*command, "--output", str(out)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    # Wait until the clean checkpoint is complete and the filter stage is writing its own, then kill.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        writing = list((work / "checkpoints" / "filter").glob(".rows.parquet.*tmp-*"))
        if (work / "checkpoints" / "clean" / "state.json").exists() and writing:
            break
        time.sleep(0.005)
    else:
        process.kill()
        pytest.fail("the run never reached the filter stage")
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    # Nothing that looks complete: no output, no results, no filter checkpoint.
    assert not out.exists()
    assert not (work / "result.json").exists() and not (work / "rejects.jsonl").exists()
    assert not (work / "checkpoints" / "filter" / "state.json").exists()
    assert not (work / "checkpoints" / "filter" / "rows.parquet").exists()

    rerun = subprocess.run([*command, "--output", str(out)], capture_output=True, check=True)
    response = orjson.loads(rerun.stdout)
    assert response["etlcore"]["resumed_after"] == "clean"
    reference = orjson.loads((tmp_path / "reference" / "out.jsonl.etlcore" / "result.json").read_bytes())
    assert comparable(response) == comparable(reference)
    assert outputs(tmp_path / "job") == outputs(tmp_path / "reference")
    ids = [orjson.loads(line)["id"] for line in out.read_bytes().splitlines()]
    assert len(ids) == len(set(ids)) == response["etlcore"]["output_rows"]
    assert not list(work.rglob(".*tmp-*"))  # the killed run's temporary files are gone
    assert not list(out.parent.glob(".*tmp-*"))


def test_checkpoints_are_lz4_and_a_parquet_output_snappy(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    def codecs(path: Path) -> set[str]:
        metadata = pq.ParquetFile(path).metadata
        return {metadata.row_group(g).column(c).compression for g in range(metadata.num_row_groups)
                for c in range(metadata.num_columns)}

    out = tmp_path / "out.parquet"
    etlcore.run(config(), [sample_input(tmp_path)], out, batch_size=50, keep_checkpoints=True)
    checkpoints = sorted((tmp_path / "out.parquet.etlcore" / "checkpoints").glob("*/rows.parquet"))
    assert [p.parent.name for p in checkpoints] == ["deduplication", "filter"]
    assert [codecs(p) for p in checkpoints] == [{"LZ4"}, {"LZ4"}] and codecs(out) == {"SNAPPY"}
