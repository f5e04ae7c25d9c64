from __future__ import annotations

from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import SEED_DETAIL, read_jsonl, write_jsonl

import etlcore

CONFIG = {
    "clean": [{"name": "replace_upper2lower", "args": {}}, {"name": "save_pipeline_clean", "args": {}}],
    "filter": [{"name": "toy_length", "args": {"min_length": 4}}],
    "deduplication": [{"name": "toy_exact_dedup", "args": {}}],
    "desensitization": [{"name": "toy_mask_digits", "args": {}}],
}


def shape(value: object) -> object:
    """Keys, nesting and types of a JSON value (a list by the shape of its first element)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def mixed_corpus(path: Path) -> Path:
    return write_jsonl(path, [
        {"id": "keep-1", "text": "Call 555 1234 NOW", "lang": "en"},
        b'{"id": "broken", "text": "no end',
        {"id": "short", "text": "Hi"},
        {"id": "dup-of-keep-1", "text": "call 555 1234 now", "lang": "en"},
        {"id": "no-text"},
        {"id": "num", "text": 42},
        b'{"id": "utf8", "text": "caf\xc3\x28"}',
        b"[1, 2]",
        {"id": "keep-2", "text": "\u4e2d\u6587\u6587\u6863\uff0c\u6ca1\u6709\u6570\u5b57", "lang": "zh"},
    ])


def test_accounting_on_a_file_mixing_every_outcome(tmp_path: Path, toy_operators: None,
                                                     capfd: pytest.CaptureFixture[str]) -> None:
    source = mixed_corpus(tmp_path / "in.jsonl")
    before = source.read_bytes()
    response = etlcore.run(CONFIG, [source], tmp_path / "out.jsonl")
    assert capfd.readouterr().err == ""  # a library call prints nothing: the line is in the result
    assert response["etlcore"]["accounting"] == "input = output + rejected + invalid: 9 = 2 + 2 + 5 (ok)"
    assert source.read_bytes() == before
    assert read_jsonl(tmp_path / "out.jsonl") == [
        {"id": "keep-1", "text": "call *** **** now", "lang": "en"},
        {"id": "keep-2", "text": "中文文档，没有数字", "lang": "zh"},
    ]
    work = tmp_path / "out.jsonl.etlcore"
    assert read_jsonl(work / "rejects.jsonl") == [
        {"id": "short", "text": "hi", "lang": None, "etl_stage": "filter", "etl_operator": "toy_length",
         "etl_reason": "length=2"},
        {"id": "dup-of-keep-1", "text": "call 555 1234 now", "lang": "en", "etl_stage": "deduplication",
         "etl_operator": "toy_exact_dedup", "etl_reason": "duplicate_of=keep-1 distance=0"},
    ]
    assert [(r["line"], r["reason"]) for r in read_jsonl(work / "invalid.jsonl")] == [
        (2, "invalid JSON: unexpected end of data: line 1 column 33 (char 32)"),
        (5, "missing text field 'text'"),
        (6, "text field 'text' is not a string (got number)"),
        (7, "broken UTF-8 at byte offset 27"),
        (8, "not a JSON object (got array)"),
    ]
    result = response["result"]
    assert result["entityCount"] == 9
    assert result["remainingEntity"] == 2
    assert result["processStatus"] == 2
    assert result["result"]["export_entity_num"] == 2
    assert result["result"]["replace_upper2lower"] == {"processed_entity": 2}
    assert response["etlcore"]["invalid_rows"] == 5
    assert orjson.loads((work / "result.json").read_bytes()) == response
    assert Path(result["logPath"]).read_text(encoding="utf-8").count("input = output + rejected + invalid") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out.jsonl", "out.jsonl.etlcore"]


def test_result_json_has_the_seed_shape(tmp_path: Path, toy_operators: None) -> None:
    seed = orjson.loads(SEED_DETAIL.read_bytes())
    response = etlcore.run(CONFIG, [mixed_corpus(tmp_path / "in.jsonl")], tmp_path / "out.jsonl")
    assert response["result"]["operationsV2"] == CONFIG
    ours = shape({**response, "result": {**response["result"], "operationsV2": None}})
    expected = shape({**seed, "result": {**seed["result"], "operationsV2": None}})
    del ours["etlcore"]
    assert ours == expected
    assert list(response) == [*list(seed), "etlcore"]
    assert list(response["result"]) == list(seed["result"])
    assert list(response["result"]["result"]) == list(seed["result"]["result"])
    assert response["result"]["etlTaskId"].startswith("task-") and len(response["result"]["etlTaskId"]) == 21


def test_parquet_in_and_out_keeps_extra_columns_and_types(tmp_path: Path, toy_operators: None) -> None:
    source = pa.table({
        "id": ["a", "b", "c"],
        "text": ["First DOC", "second doc", "no"],
        "score": pa.array([0.5, 0.25, 1.0], pa.float32()),
        "tags": [["x"], [], ["y", "z"]],
        "meta": [{"n": 1}, {"n": 2}, {"n": 3}],
    })
    pq.write_table(source, tmp_path / "in.parquet")
    config = {"clean": [{"name": "replace_upper2lower"}], "filter": [{"name": "toy_length",
                                                                      "args": {"min_length": 3}}]}
    etlcore.run(config, [tmp_path / "in.parquet"], tmp_path / "out.parquet")
    out = pq.read_table(tmp_path / "out.parquet")
    assert out.schema == source.schema
    assert out.to_pylist() == [
        {"id": "a", "text": "first doc", "score": 0.5, "tags": ["x"], "meta": {"n": 1}},
        {"id": "b", "text": "second doc", "score": 0.25, "tags": [], "meta": {"n": 2}},
    ]


def test_jsonl_to_parquet_when_later_batches_widen_the_schema(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [
        {"id": "1", "text": "a", "n": 1, "tags": []}, {"id": "2", "text": "b", "n": 2, "tags": []},
        {"id": "3", "text": "c", "n": 7, "tags": ["x"], "extra": "new"}, {"id": "4", "text": "d", "n": 2.5},
    ])
    etlcore.run({}, [source], tmp_path / "out.parquet", batch_size=2)
    out = pq.read_table(tmp_path / "out.parquet")
    # Integers meeting a fraction: JSON text (a JSON Lines output keeps 2 as 2, not 2.0).
    assert out.schema.field("n").type == pa.string() and out.schema.field("n").metadata == {b"etlcore": b"json"}
    assert out.schema.field("tags").type == pa.list_(pa.field("element", pa.string()))
    assert out.to_pylist() == [
        {"id": "1", "text": "a", "n": "1", "tags": [], "extra": None},
        {"id": "2", "text": "b", "n": "2", "tags": [], "extra": None},
        {"id": "3", "text": "c", "n": "7", "tags": ["x"], "extra": "new"},
        {"id": "4", "text": "d", "n": "2.5", "tags": None, "extra": None},
    ]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    etlcore.run({}, [tmp_path / "out.parquet"], tmp_path / "back.jsonl")  # JSON text goes back as JSON
    assert (tmp_path / "back.jsonl").read_bytes() == (
        b'{"id":"1","text":"a","n":1,"tags":[],"extra":null}\n{"id":"2","text":"b","n":2,"tags":[],"extra":null}\n'
        b'{"id":"3","text":"c","n":7,"tags":["x"],"extra":"new"}\n{"id":"4","text":"d","n":2.5,"tags":null,'
        b'"extra":null}\n')


def test_a_failing_operator_fails_the_run_and_leaves_no_output(tmp_path: Path, toy_operators: None) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": f"doc {i}"} for i in range(5)] + [{"text": "boom"}])
    config = {"filter": [{"name": "toy_boom"}]}
    response = etlcore.run(config, [source], tmp_path / "out.jsonl", batch_size=2)
    result = response["result"]
    assert result["processStatus"] == 4
    assert response["success"] is True and response["status"] == 200  # the call worked; the run failed
    reason = "operator 'toy_boom' in stage 'filter' failed: ValueError: boom found"
    assert result["exceptionResult"] == reason
    assert result["result"]["failReason"] == reason
    assert result["result"]["pipeline_stage_result"]["filter"]["status"] == "Failed"
    assert result["result"]["pipeline_stage_result"]["filter"]["failReason"] == reason
    assert not (tmp_path / "out.jsonl").exists()
    work = tmp_path / "out.jsonl.etlcore"
    assert sorted(p.name for p in work.iterdir()) == ["logs", "result.json"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_same_job_gets_the_same_ids(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "x"}])
    first = etlcore.run({}, [source], tmp_path / "out.jsonl")["result"]
    second = etlcore.run({}, [source], tmp_path / "out.jsonl")["result"]
    assert first["etlTaskId"] == second["etlTaskId"]
    third = etlcore.run({"clean": [{"name": "replace_upper2lower"}]}, [source], tmp_path / "out.jsonl")
    assert third["result"]["etlTaskId"] != first["etlTaskId"]


def test_run_over_a_folder_of_mixed_formats(tmp_path: Path) -> None:
    import gzip

    folder = tmp_path / "corpus"
    write_jsonl(folder / "a.jsonl", [{"id": "a1", "text": "Alpha"}, b"not json"])
    (folder / "b.txt.gz").write_bytes(gzip.compress(b"Beta line\n"))
    pq.write_table(pa.table({"id": ["c1"], "text": ["GAMMA"], "score": [3]}), folder / "c.parquet")
    response = etlcore.run({"clean": [{"name": "replace_upper2lower"}]}, [folder], tmp_path / "out.jsonl")
    assert read_jsonl(tmp_path / "out.jsonl") == [
        {"id": "a1", "text": "alpha"},
        {"id": "b.txt.gz:1", "text": "beta line"},
        {"id": "c1", "text": "gamma", "score": 3},
    ]
    assert response["etlcore"]["invalid_rows"] == 1
    assert response["result"]["entityCount"] == 4


def test_a_lost_row_fails_the_run_with_status_4(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capfd: pytest.CaptureFixture[str]) -> None:
    from etlcore.pipeline import Pipeline

    def losing_stages(self: Pipeline, table: pa.Table, stages: tuple, counts: object, rejects: list) -> pa.Table:
        return table.slice(1)  # a bug that drops a row without rejecting it

    monkeypatch.setattr(Pipeline, "run_stages", losing_stages)
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "a"}, {"text": "b"}])
    response = etlcore.run({}, [source], tmp_path / "out.jsonl")
    assert capfd.readouterr().err == ""  # a library call prints nothing: the line is in the result
    assert response["etlcore"]["accounting"] == "input = output + rejected + invalid: 2 = 1 + 0 + 0 (MISMATCH)"
    assert response["result"]["processStatus"] == 4
    assert response["result"]["result"]["failReason"] == (
        "RowsLost: rows were lost: input = output + rejected + invalid: 2 = 1 + 0 + 0 (MISMATCH)")
    assert not (tmp_path / "out.jsonl").exists()


def test_legacy_counters_count_changed_documents(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [
        {"text": "Visit https://example.com NOW"}, {"text": "電話13812345678，身份證110101199003071233"},
        {"text": "plain\x07 text 😀"}, {"text": "简体"},
    ])
    config = {
        "clean": [{"name": "remove_url"}, {"name": "remove_exception_char"}, {"name": "replace_trad2sim"},
                  {"name": "replace_sim2trad"}, {"name": "replace_upper2lower"}, {"name": "remove_emoji"},
                  {"name": "cut", "args": {"max_length": 40}}],
        "desensitization": [{"name": "remove_id_card"}, {"name": "remove_phone_number"}],
    }
    result = etlcore.run(config, [source], tmp_path / "out.jsonl")["result"]["result"]
    assert {k: v for k, v in result.items() if isinstance(v, dict) and k != "pipeline_stage_result"} == {
        "remove_emoji": {"processed_entity": 1}, "remove_url": {"processed_entity": 1},
        "trad_to_simp": {"processed_entity": 0}, "remove_id_card": {"processed_entity": 1},
        "remove_phone_number": {"processed_entity": 1}, "remove_exception_char": {"processed_entity": 1},
        "replace_sim2trad": {"processed_entity": 2}, "replace_trad2sim": {"processed_entity": 1},
        "replace_upper2lower": {"processed_entity": 1}, "cut": {"remaining_entity": 4, "unprocessed_entity": 0},
    }
    assert [row["text"] for row in read_jsonl(tmp_path / "out.jsonl")] == [
        "visit now", "電話，身份證", "plain text", "簡體"]
