from __future__ import annotations

import multiprocessing
import os
import signal
from pathlib import Path

import orjson
import pytest
from conftest import REPO, write_jsonl

import etlcore
import etlcore.workers
from etlcore.cli import default_config
from etlcore.errors import EtlError
from etlcore.io.lock import RunLock
from etlcore.io.reader import BLOCK_BYTES, ReadOptions, expand_inputs, read_chunks
from etlcore.pipeline import Pipeline
from etlcore.workers import PARALLEL_FROM_BYTES, even_block_bytes, worker_count

# Times, and the ids derived from the output path (the two runs write to different folders).
VOLATILE = {"createTime", "finishTime", "startTime", "endTime", "modifyTime", "logPath", "id", "etlTaskId",
            "taskId", "destDatasetId", "destDatasetStrId", "destDatasetName"}


def comparable(response: dict) -> dict:
    result = {k: v for k, v in response["result"].items() if k not in VOLATILE}
    return {**{k: v for k, v in response.items() if k not in ("etlcore", "log_id")}, "result": result}


@pytest.mark.parametrize("start", ["fork", "spawn"])
def test_two_workers_give_the_same_output_and_result_as_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            start: str) -> None:
    if start == "spawn":  # as in a process running other threads
        monkeypatch.setattr(etlcore.workers, "can_fork", lambda: False)
    config = default_config()
    # The sample, with a one-word row (the filters reject it) every 15 rows, so that most chunks hold
    # rejects of two stages: their order in the rejects file must not depend on the worker count.
    lines = (REPO / "resources/sample/corpus.jsonl").read_bytes().split(b"\n")
    for position in range(len(lines) - 1, 0, -15):
        lines.insert(position, b'{"id": "mail-%d", "text": "user%d@example.com"}' % (position, position))
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_bytes(b"\n".join(lines))
    one = etlcore.run(config, [corpus], tmp_path / "one" / "out.jsonl", batch_size=25, workers=1)
    two = etlcore.run(config, [corpus], tmp_path / "two" / "out.jsonl", batch_size=25, workers=2)
    assert comparable(one) == comparable(two)
    for name in ("out.jsonl", "out.jsonl.etlcore/rejects.jsonl", "out.jsonl.etlcore/invalid.jsonl"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    assert one["etlcore"]["output_rows"] > 200
    stages = [orjson.loads(line)["etl_stage"] for line in (tmp_path / "one/out.jsonl.etlcore/rejects.jsonl")
              .read_bytes().splitlines()]
    assert stages.count("filter") > 23 and stages.count("deduplication") > 40
    log = Path(two["result"]["logPath"]).read_text(encoding="utf-8")
    assert f", 2 workers ({start})," in log


def test_a_failure_in_a_worker_is_reported_with_its_stage_and_operator(tmp_path: Path,
                                                                       toy_operators: None) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": f"doc {i}"} for i in range(50)] + [{"text": "boom"}])
    response = etlcore.run({"filter": [{"name": "toy_boom"}]}, [source], tmp_path / "out.jsonl", batch_size=10,
                           workers=2)
    result = response["result"]
    assert result["processStatus"] == 4
    assert result["result"]["failReason"] == "operator 'toy_boom' in stage 'filter' failed: ValueError: boom found"
    assert result["result"]["pipeline_stage_result"]["filter"]["status"] == "Failed"
    assert not (tmp_path / "out.jsonl").exists()


def test_by_default_a_light_config_runs_in_one_process_and_a_heavy_one_on_every_core(toy_operators: None) -> None:
    light = Pipeline({"clean": [{"name": "replace_upper2lower"}, {"name": "cut", "args": {"max_length": 5}}]})
    heavy = Pipeline({"clean": [{"name": "replace_upper2lower"}], "filter": [{"name": "toy_length",
                                                                              "args": {"min_length": 1}}]})
    assert (light.light, heavy.light, Pipeline({}).light) == (True, False, True)
    big, small = PARALLEL_FROM_BYTES, PARALLEL_FROM_BYTES - 1
    assert [worker_count(None, big, light.light), worker_count(None, big, heavy.light),
            worker_count(None, small, heavy.light), worker_count(3, big, light.light)] == [1, os.cpu_count(), 1, 3]


def test_one_worker_keeps_the_input_order_across_its_parser_stages_and_encoder_threads(tmp_path: Path) -> None:
    rows = [{"id": f"d{i}", "text": f"Doc {i} ÀB" * (1 + i % 7)} for i in range(997)]
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    response = etlcore.run({"clean": [{"name": "replace_upper2lower"}]}, [source], tmp_path / "out.jsonl",
                           batch_size=10, workers=1)
    assert response["etlcore"]["output_rows"] == 997
    assert (tmp_path / "out.jsonl").read_bytes() == b"".join(
        orjson.dumps({**row, "text": row["text"].lower()}) + b"\n" for row in rows)


def test_an_error_in_the_parser_or_encoder_thread_fails_the_run_and_writes_no_output(
        tmp_path: Path, monkeypatch) -> None:
    import etlcore.workers

    source = write_jsonl(tmp_path / "in.jsonl", [{"text": f"doc {i}"} for i in range(100)])
    for thread, name in (("parser", "parse_chunk"), ("encoder", "table_jsonl")):
        real, calls = getattr(etlcore.workers, name), []

        def fails_on_the_fourth_chunk(*args, real=real, calls=calls, thread=thread):
            calls.append(1)
            if len(calls) == 4:
                raise MemoryError(f"the {thread} thread ran out")
            return real(*args)

        monkeypatch.setattr(etlcore.workers, name, fails_on_the_fourth_chunk)
        output = tmp_path / thread / "out.jsonl"
        response = etlcore.run({"clean": [{"name": "replace_upper2lower"}]}, [source], output, batch_size=10,
                               workers=1)
        monkeypatch.undo()
        assert response["result"]["processStatus"] == 4
        assert response["result"]["result"]["failReason"] == f"MemoryError: the {thread} thread ran out"
        assert sorted(path.name for path in output.parent.iterdir()) == ["out.jsonl.etlcore"]


def test_blocks_cut_the_input_into_a_multiple_of_the_workers_of_about_the_same_size(tmp_path: Path) -> None:
    megabyte = 1024 * 1024
    # 29 MB: 8 + 8 + 8 + 5 MB would leave one of two workers idle through the last 3 MB of every pass.
    assert [even_block_bytes(29 * megabyte, count) for count in (1, 2, 3)] == [
        BLOCK_BYTES, 29 * megabyte // 4, -(-29 * megabyte // 6)]
    assert even_block_bytes(100 * megabyte, 2) == -(-100 * megabyte // 14) and even_block_bytes(0, 2) == BLOCK_BYTES
    rows = [{"id": f"d{i}", "text": "word " * (10 + i % 90)} for i in range(2000)]
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    size = source.stat().st_size
    chunks = list(read_chunks(expand_inputs([source]), ReadOptions(block_bytes=even_block_bytes(size, 2))))
    sizes = [chunk.size for chunk in chunks]
    assert len(sizes) == 2 and sum(sizes) == size and abs(sizes[0] - sizes[1]) < 2 * max(len(str(r)) for r in rows)


def test_workers_started_before_a_run_is_refused_are_ended_with_it(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": f"doc {i}"} for i in range(50)])
    held = RunLock.for_work_dir(tmp_path / "out.jsonl.etlcore")
    (tmp_path / "out.jsonl.etlcore").mkdir()
    held.acquire()
    try:
        with pytest.raises(EtlError):
            etlcore.run(default_config(), [source], tmp_path / "out.jsonl", workers=2)
    finally:
        held.release()
    assert multiprocessing.active_children() == []
    assert not (tmp_path / "out.jsonl").exists()


def test_a_ctrl_c_while_the_workers_start_stops_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The signal lands during the warm-up before the fork: it used to raise there (or inside the fork's own
    # bookkeeping, where Python drops it, and the run went on to the end).
    def interrupted(pipeline: Pipeline) -> None:
        os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(Pipeline, "warm_up", interrupted)
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": f"doc {i}"} for i in range(50)])
    response = etlcore.run(default_config(), [source], tmp_path / "out.jsonl", workers=2)
    assert response["result"]["processStatus"] == 3
    assert response["etlcore"]["stopped_by"] == "SIGINT"
    assert not (tmp_path / "out.jsonl").exists()
    assert multiprocessing.active_children() == []
