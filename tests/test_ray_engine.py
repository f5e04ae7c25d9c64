"""`--engine ray`: the same output, rejects, invalid rows and result JSON as the local engine."""

from __future__ import annotations

import gzip
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from conftest import REPO, write_jsonl
from test_workers import comparable

import etlcore
from etlcore import ray_engine
from etlcore.cli import default_config, main

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """One local Ray for the module: starting one, and its actors, costs seconds."""
    # The actors import the tests' toy operators from conftest, as the local engine's workers do, and the
    # etlcore of this checkout (not whichever one the environment installed).
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO / "tests")])}})
    yield
    ray.shutdown()


def write_json(path: Path, value: object) -> None:
    path.write_bytes(orjson.dumps(value))


def _corpus(folder: Path) -> list[Path]:
    """The sample, split in a plain and a gzip file (two read tasks whose order must hold), with a
    one-word row every 15 rows so that most chunks hold rejects of two stages."""
    lines = (REPO / "resources/sample/corpus.jsonl").read_bytes().split(b"\n")
    for position in range(len(lines) - 1, 0, -15):
        lines.insert(position, b'{"id": "mail-%d", "text": "user%d@example.com"}' % (position, position))
    half = len(lines) // 2
    folder.mkdir()
    (folder / "a.jsonl").write_bytes(b"\n".join(lines[:half]) + b"\n")
    (folder / "b.jsonl.gz").write_bytes(gzip.compress(b"\n".join(lines[half:])))
    return [folder / "a.jsonl", folder / "b.jsonl.gz"]


def test_both_engines_give_the_same_output_rejects_invalid_and_result(tmp_path: Path, local_ray: None) -> None:
    inputs = _corpus(tmp_path / "in")
    config = default_config()  # the seed's operators, a checkpoint after every stage: five passes
    local = etlcore.run(config, inputs, tmp_path / "local" / "out.jsonl", batch_size=25, workers=2)
    on_ray = etlcore.run(config, inputs, tmp_path / "ray" / "out.jsonl", batch_size=25, engine="ray")
    assert on_ray["result"]["processStatus"] == 2
    assert comparable(local) == comparable(on_ray)
    for name in ("out.jsonl", "out.jsonl.etlcore/rejects.jsonl", "out.jsonl.etlcore/invalid.jsonl"):
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "ray" / name).read_bytes()
    assert on_ray["etlcore"]["input_rows"] == 336 + 23  # the sample and the rows put in
    assert on_ray["etlcore"]["invalid_rows"] == 6
    assert on_ray["etlcore"]["output_rows"] == local["etlcore"]["output_rows"] > 200
    log = Path(on_ray["result"]["logPath"]).read_text(encoding="utf-8")
    assert "engine ray, 2 workers," in log


def test_a_ray_run_resumes_from_the_checkpoints_of_a_local_run(tmp_path: Path, local_ray: None) -> None:
    inputs = _corpus(tmp_path / "in")
    config = default_config()
    output = tmp_path / "out.jsonl"
    first = etlcore.run(config, inputs, output, batch_size=25, keep_checkpoints=True)
    expected = output.read_bytes()
    output.unlink()
    (tmp_path / "out.jsonl.etlcore/checkpoints/desensitization").rename(tmp_path / "dropped")
    again = etlcore.run(config, inputs, output, batch_size=25, engine="ray")
    assert again["etlcore"]["resumed_after"] == "deduplication"
    assert output.read_bytes() == expected
    assert comparable(again) == comparable(first)


def test_parquet_output_on_ray_equals_the_local_one(tmp_path: Path, local_ray: None) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": i, "text": f"第{i}行 Row {i} text"} for i in range(120)])
    config = {"clean": [{"name": "replace_upper2lower"}]}
    etlcore.run(config, [source], tmp_path / "local.parquet", batch_size=16)
    etlcore.run(config, [source], tmp_path / "ray.parquet", batch_size=16, engine="ray")
    import pyarrow.parquet as pq

    assert pq.read_table(tmp_path / "ray.parquet").equals(pq.read_table(tmp_path / "local.parquet"))
    assert pq.read_table(tmp_path / "ray.parquet")["text"][7].as_py() == "第7行 row 7 text"


def test_a_failure_in_an_actor_is_reported_with_its_stage_and_operator(tmp_path: Path, local_ray: None,
                                                                      toy_operators: None) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": f"doc {i}"} for i in range(50)] + [{"text": "boom"}])
    response = etlcore.run({"filter": [{"name": "toy_boom"}]}, [source], tmp_path / "out.jsonl", batch_size=10,
                           engine="ray")
    result = response["result"]
    assert result["processStatus"] == 4
    assert result["result"]["failReason"] == "operator 'toy_boom' in stage 'filter' failed: ValueError: boom found"
    assert result["result"]["pipeline_stage_result"]["filter"]["status"] == "Failed"
    assert not (tmp_path / "out.jsonl").exists()


def test_without_ray_the_engine_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(ray_engine, "ray", None)
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "hello"}])
    assert main(["run", str(source), "--output", str(tmp_path / "out.jsonl"), "--engine", "ray"]) == 2
    error = capsys.readouterr().err
    assert "pip install 'etlcore[ray]'" in error
    assert not (tmp_path / "out.jsonl").exists()


def test_a_ray_address_where_nothing_listens_is_refused_at_once(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    # Ray itself would retry it for minutes, printing warnings of its own.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free once closed: nothing listens there
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "hello"}])
    for address in (f"127.0.0.1:{port}", f"ray://127.0.0.1:{port}"):
        started = time.monotonic()
        assert main(["run", str(source), "--output", str(tmp_path / "out.jsonl"), "--engine", "ray",
                     "--ray-address", address]) == 2
        assert time.monotonic() - started < 10
        error = orjson.loads(capsys.readouterr().err)
        assert error["message"] == f"cannot reach a Ray cluster at {address}: Connection refused"
    assert ray_engine._host_and_port("ray://head") == ("head", 10001)
    assert ray_engine._host_and_port("[::1]:6379") == ("::1", 6379)
    assert [ray_engine._host_and_port(a) for a in (None, "auto", "local", "head")] == [(None, 0)] * 4
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.jsonl"]


def test_a_ray_address_needs_the_ray_engine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "hello"}])
    assert main(["run", str(source), "--output", str(tmp_path / "out.jsonl"), "--ray-address", "auto"]) == 2
    assert "--ray-address needs --engine ray" in capsys.readouterr().err


def test_a_task_runs_on_ray_as_it_does_locally(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str], local_ray: None) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "corpus.jsonl").write_bytes((REPO / "resources/sample/corpus.jsonl").read_bytes())
    ids = {}
    for name in ("local", "ray"):
        write_json(tmp_path / f"{name}.json", {
            "name": f"clean-{name}", "inputs": [{"source": "corpus.jsonl"}],
            "work_path": {"path": name}, "template": {"id": "sys_data_cleaning", "operator_params": [
                {"name": "remove_emoji", "params": {}},
                {"name": "deduplication_simhash", "params": {"distance": "5"}}]}})
        assert main(["task", "create", f"{name}.json"]) == 0
        ids[name] = orjson.loads(capsys.readouterr().out)["task_id"]
    assert main(["task", "run", ids["local"]]) == 0
    local = orjson.loads(capsys.readouterr().out)
    assert main(["task", "run", ids["ray"], "--engine", "ray"]) == 0
    on_ray = orjson.loads(capsys.readouterr().out)
    assert comparable(on_ray) == comparable(local)
    assert on_ray["result"]["processStatus"] == 2 and on_ray["result"]["etlTaskId"] == ids["ray"]
    assert (tmp_path / "ray" / ids["ray"] / "output.jsonl").read_bytes() == (
        tmp_path / "local" / ids["local"] / "output.jsonl").read_bytes()
    assert "engine ray," in Path(on_ray["result"]["logPath"]).read_text(encoding="utf-8")


def test_task_engine_options_are_checked_before_anything_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "corpus.jsonl").write_bytes((REPO / "resources/sample/corpus.jsonl").read_bytes())
    write_json(tmp_path / "analyse.json", {
        "name": "look", "inputs": [{"source": "corpus.jsonl"}],
        "work_path": {"path": "out"}, "template": {"id": "sys_data_analyse"}})
    assert main(["task", "create", "analyse.json", "--ray-address", "auto"]) == 2
    assert "--ray-address needs --engine ray" in capsys.readouterr().err
    assert main(["task", "create", "analyse.json", "--engine", "ray"]) == 2
    assert ("--workers, --engine and --keep-checkpoints apply to a run: add --run, or give them to task run"
            in capsys.readouterr().err)
    assert not (tmp_path / "out").exists()  # refused before the task was created
    assert main(["task", "create", "analyse.json"]) == 0
    task_id = orjson.loads(capsys.readouterr().out)["task_id"]
    assert main(["task", "run", task_id, "--engine", "ray"]) == 2
    assert orjson.loads(capsys.readouterr().err)["message"] == (
        f"task {task_id} is an analysis (sys_data_analyse), which runs on the local engine only")
    assert main(["task", "detail", task_id]) == 0
    assert orjson.loads(capsys.readouterr().out)["result"]["processStatus"] == 0  # not run, not claimed
