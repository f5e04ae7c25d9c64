"""Fault injection: inputs that once failed a whole run (issue 14). Each test feeds the fault to the CLI and
checks that the run finishes (exit 0) with every input line accounted for (output + rejects + invalid)
and every value exact.

test_row_*: one bad or unusual row (or file name) must never fail a run.
"""

from __future__ import annotations

import gzip
import re
from decimal import Decimal
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from conftest import read_jsonl

from etlcore.cli import main
from etlcore.io.reader import MAX_NESTING

CHECKPOINT_AND_DEDUP = {
    "clean": [{"name": "replace_upper2lower", "args": {}}, {"name": "save_pipeline_clean", "args": {}}],
    "deduplication": [{"name": "toy_exact_dedup", "args": {}}],
}


def etl(tmp_path: Path, capfd: pytest.CaptureFixture[str], config: dict, inputs: list[Path | str],
        output: Path, *options: str) -> tuple[int, tuple[int, int, int, int], Path]:
    """Run the CLI; (exit code, the accounting line's (input, output, rejected, invalid), work dir)."""
    config_path = tmp_path / "ops.json"
    config_path.write_bytes(orjson.dumps(config))
    code = main(["run", "--config", str(config_path), "--output", str(output), *options, *map(str, inputs)])
    err = capfd.readouterr().err
    found = re.search(r"input = output \+ rejected \+ invalid: (\d+) = (\d+) \+ (\d+) \+ (\d+) \(ok\)", err)
    assert found, err
    counts = tuple(int(n) for n in found.groups())
    return code, counts, output.with_name(output.name + ".etlcore")  # type: ignore[return-value]


def lines_of(path: Path) -> int:
    return sum(1 for line in path.read_bytes().splitlines() if line.strip())


def nested(levels: int, kind: str) -> object:
    value: object = 1
    for _ in range(levels):
        value = [value] if kind == "array" else {"a": value}
    return value


@pytest.mark.parametrize("output_name", ["out.jsonl", "out.parquet"])
def test_row_nested_deeper_than_the_limit_goes_to_invalid(tmp_path: Path, capfd: pytest.CaptureFixture[str],
                                                          toy_operators: None, output_name: str) -> None:
    assert MAX_NESTING == 48
    kept = [{"id": "flat", "text": "A"}, {"id": "arrays-48", "text": "B", "f": nested(48, "array")},
            {"id": "objects-48", "text": "C", "g": nested(48, "object")}]
    deep = [orjson.dumps({"id": "arrays-49", "text": "D", "f": nested(49, "array")}),
            b'{"id": "objects-120", "text": "E", "g": ' + orjson.dumps(nested(120, "object")) + b"}",
            b'{"id": "arrays-300", "text": "F", "f": ' + b"[" * 300 + b"1" + b"]" * 300 + b"}",
            b'{"id": "arrays-1000", "text": "G", "h": {"x": ' + b"[" * 1000 + b"]" * 1000 + b"}}",
            b'{"id": ' + orjson.dumps(nested(49, "object")) + b', "text": "H"}']
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join([orjson.dumps(kept[0]), deep[0], orjson.dumps(kept[1]), deep[1], deep[2],
                                   orjson.dumps(kept[2]), deep[3], deep[4]]) + b"\n")
    output = tmp_path / output_name
    code, counts, work = etl(tmp_path, capfd, CHECKPOINT_AND_DEDUP, [source], output, "--keep-checkpoints")
    assert (code, counts) == (0, (8, 3, 0, 5))
    invalid = read_jsonl(work / "invalid.jsonl")
    assert [(row["line"], row["raw"].encode()) for row in invalid] == [(2, deep[0]), (4, deep[1]), (5, deep[2]),
                                                                       (7, deep[3]), (8, deep[4])]
    assert [row["reason"] for row in invalid] == [
        "field 'f' is nested more than 48 levels deep (arrays and objects)",
        "field 'g' is nested more than 48 levels deep (arrays and objects)",
        "field 'f' is nested more than 48 levels deep (arrays and objects)",
        "field 'h' is nested more than 48 levels deep (arrays and objects)",
        "field 'id' is nested more than 48 levels deep (arrays and objects)"]
    rows = read_jsonl(output) if output_name.endswith(".jsonl") else pq.read_table(output).to_pylist()
    expected = [{"f": None, "g": None, **row} for row in kept]
    for row in expected:
        row["text"] = row["text"].lower()
    assert sorted(rows, key=lambda r: r["id"]) == sorted(expected, key=lambda r: r["id"])
    assert pq.read_table(work / "checkpoints" / "clean" / "rows.parquet").num_rows == 3  # readable back


def test_row_field_changing_type_between_batches_and_files(tmp_path: Path, capfd: pytest.CaptureFixture[str],
                                                           toy_operators: None) -> None:
    first = [{"id": f"a{i}", "text": f"Doc {i}", "meta": {"n": i}, "score": i} for i in range(10_000)]
    first += [{"id": "a-text", "text": "Doc text", "meta": "x", "score": 0.5},
              {"id": "a-list", "text": "Doc list", "meta": [1, {"k": None}], "score": 2},
              {"id": "a-keys", "text": "Doc keys", "meta": {"m": True}, "score": None}]
    second = [{"id": "b1", "text": "Other 1", "meta": 7, "tags": []},
              {"id": "b2", "text": "Other 2", "meta": {"n": 1.5}, "tags": ["x"]}]
    sources = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    for path, rows in zip(sources, (first, second)):
        path.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in rows))
    by_id = {row["id"]: row for row in first + second}
    for output, workers in ((tmp_path / "out.jsonl", "1"), (tmp_path / "out.parquet", "2")):
        code, counts, _ = etl(tmp_path, capfd, CHECKPOINT_AND_DEDUP, sources, output, "--workers", workers)
        assert (code, counts) == (0, (10_005, 10_005, 0, 0))
        if output.suffix == ".jsonl":
            for row in read_jsonl(output):  # every input value, exactly; a field the row lacked is null
                original = by_id[row["id"]]
                assert row == {"score": None, "tags": None, **original, "text": original["text"].lower()}
                assert all(type(row[key]) is type(value) for key, value in original.items())
            continue
        table = pq.read_table(output)
        json_text = {b"etlcore": b"json"}  # mixed types (integers and fractions too): JSON text
        assert [(field.name, str(field.type), field.metadata) for field in table.schema] == [
            ("id", "string", None), ("text", "string", None), ("meta", "string", json_text),
            ("score", "string", json_text), ("tags", "list<element: string>", None)]
        for row in table.to_pylist():
            original = by_id[row["id"]]
            assert orjson.loads(row["meta"]) == original["meta"]
            score = original.get("score")
            assert row["score"] == (None if score is None else orjson.dumps(score).decode())
            assert row["tags"] == original.get("tags")


def test_row_integers_beyond_64_bits_keep_their_digits(tmp_path: Path, capfd: pytest.CaptureFixture[str],
                                                       toy_operators: None) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"".join([
        b'{"id": 10000000000000000000000011, "text": "one", "n": 123456789012345678901234567890}\n',
        b'{"id": 10000000000000000000000016, "text": "two", "n": 5, "deep": {"v": [18446744073709551616, 1.5]}}\n',
        b'{"id": -9223372036854775809, "text": "three", "n": 1e25, "deep": {"v": [2]}}\n',
        b'{"id": 7, "text": "four 1234567890123456789012", "n": 6}\n',
        b'{"id": [10000000000000000000000011, 2.5], "text": "five", "n": 0}\n',
    ]))
    output = tmp_path / "out.jsonl"
    code, counts, _ = etl(tmp_path, capfd, CHECKPOINT_AND_DEDUP, [source], output)
    assert (code, counts) == (0, (5, 5, 0, 0))
    assert output.read_bytes() == (
        b'{"id":"10000000000000000000000011","text":"one","n":123456789012345678901234567890,"deep":null}\n'
        b'{"id":"10000000000000000000000016","text":"two","n":5,"deep":{"v":[18446744073709551616,1.5]}}\n'
        b'{"id":"-9223372036854775809","text":"three","n":1e+25,"deep":{"v":[2]}}\n'
        b'{"id":"7","text":"four 1234567890123456789012","n":6,"deep":null}\n'
        b'{"id":"[10000000000000000000000011,2.5]","text":"five","n":0,"deep":null}\n')
    parquet = tmp_path / "out.parquet"
    code, counts, _ = etl(tmp_path, capfd, CHECKPOINT_AND_DEDUP, [source], parquet)
    assert (code, counts) == (0, (5, 5, 0, 0))
    table = pq.read_table(parquet)
    assert table["id"].to_pylist() == ["10000000000000000000000011", "10000000000000000000000016",
                                       "-9223372036854775809", "7", "[10000000000000000000000011,2.5]"]
    assert table["n"].to_pylist() == ["123456789012345678901234567890", "5", "1e+25", "6", "0"]
    ids = pa.array([Decimal("10000000000000000000000011"), Decimal("10000000000000000000000016")], pa.decimal128(26))
    pq.write_table(pa.table({"id": ids, "text": ["a", "b"]}), tmp_path / "decimal-ids.parquet")
    code, counts, _ = etl(tmp_path, capfd, CHECKPOINT_AND_DEDUP, [tmp_path / "decimal-ids.parquet"], output)
    assert (code, counts) == (0, (2, 2, 0, 0))
    assert output.read_bytes() == (b'{"id":"10000000000000000000000011","text":"a"}\n'
                                   b'{"id":"10000000000000000000000016","text":"b"}\n')


def test_row_utf8_bom_at_the_start_of_a_file_is_stripped(tmp_path: Path, capfd: pytest.CaptureFixture[str],
                                                         toy_operators: None) -> None:
    bom = b"\xef\xbb\xbf"
    jsonl = bom + b'{"id": "j1", "text": "First"}\n{"id": "j2", "text": "Second"}\n'
    txt = bom + b"Erste Zeile\nzweite\n"
    (tmp_path / "a.jsonl").write_bytes(jsonl)
    (tmp_path / "b.txt").write_bytes(txt)
    (tmp_path / "c.jsonl.gz").write_bytes(gzip.compress(jsonl.replace(b'"j', b'"g')))
    (tmp_path / "d.txt.zst").write_bytes(zstandard.ZstdCompressor().compress(txt.replace(b"Erste", b"Dritte")))
    inputs = [tmp_path / name for name in ("a.jsonl", "b.txt", "c.jsonl.gz", "d.txt.zst")]
    output = tmp_path / "out.jsonl"
    code, counts, work = etl(tmp_path, capfd, {"clean": [{"name": "replace_upper2lower", "args": {}}]}, inputs,
                             output, "--batch-size", "1")
    assert (code, counts) == (0, (8, 8, 0, 0))
    assert read_jsonl(output) == [
        {"id": "j1", "text": "first"}, {"id": "j2", "text": "second"},
        {"id": "b.txt:1", "text": "erste zeile"}, {"id": "b.txt:2", "text": "zweite"},
        {"id": "g1", "text": "first"}, {"id": "g2", "text": "second"},
        {"id": "d.txt.zst:1", "text": "dritte zeile"}, {"id": "d.txt.zst:2", "text": "zweite"}]
    assert lines_of(work / "invalid.jsonl") == 0


def test_row_input_naming_an_existing_file_with_glob_characters(tmp_path: Path, capfd: pytest.CaptureFixture[str],
                                                                toy_operators: None) -> None:
    (tmp_path / "x[1].jsonl").write_bytes(b'{"id": "bracketed", "text": "From x[1]"}\n')
    (tmp_path / "x1.jsonl").write_bytes(b'{"id": "plain", "text": "From x1"}\n')
    config = {"clean": [{"name": "replace_upper2lower", "args": {}}]}
    output = tmp_path / "out.jsonl"
    code, counts, _ = etl(tmp_path, capfd, config, [str(tmp_path / "x[1].jsonl")], output)
    assert (code, counts) == (0, (1, 1, 0, 0))
    assert read_jsonl(output) == [{"id": "bracketed", "text": "from x[1]"}]
    code, counts, _ = etl(tmp_path, capfd, config, [str(tmp_path / "x[0-9].jsonl")], output)  # no such file
    assert (code, counts) == (0, (1, 1, 0, 0))
    assert read_jsonl(output) == [{"id": "plain", "text": "from x1"}]
    (tmp_path / "sub[a]").mkdir()
    (tmp_path / "sub[a]" / "in.jsonl").write_bytes(b'{"id": "in-folder", "text": "Folder"}\n')
    code, counts, _ = etl(tmp_path, capfd, config, [str(tmp_path / "sub[a]")], output)
    assert (code, counts) == (0, (1, 1, 0, 0))
    assert read_jsonl(output) == [{"id": "in-folder", "text": "folder"}]


def test_row_json_text_mark_of_a_parquet_input_holds_only_for_json(tmp_path: Path,
                                                                   capfd: pytest.CaptureFixture[str]) -> None:
    """An etlcore Parquet output read back writes its JSON text as JSON; a forged mark on text that is not
    JSON cannot put that text raw into a JSON Lines output."""
    schema = pa.schema([pa.field("text", pa.string()), pa.field("m", pa.string(), metadata={b"etlcore": b"json"})])
    for name, values in (("good", ['{"a":1}', None, '"s"']), ("forged", ['{"a":1}', '1} {"x', None])):
        table = pa.Table.from_arrays([pa.array(["x", "y", "z"]), pa.array(values)], schema=schema)
        pq.write_table(table, tmp_path / f"{name}.parquet")
    output = tmp_path / "out.jsonl"
    code, counts, _ = etl(tmp_path, capfd, {}, [tmp_path / "good.parquet"], output)
    assert (code, counts) == (0, (3, 3, 0, 0))
    assert output.read_bytes() == (b'{"id":"good.parquet:1","text":"x","m":{"a":1}}\n'
                                   b'{"id":"good.parquet:2","text":"y","m":null}\n'
                                   b'{"id":"good.parquet:3","text":"z","m":"s"}\n')
    code, counts, _ = etl(tmp_path, capfd, {}, [tmp_path / "forged.parquet"], output)
    assert (code, counts) == (0, (3, 3, 0, 0))
    assert output.read_bytes() == (b'{"id":"forged.parquet:1","text":"x","m":"{\\"a\\":1}"}\n'
                                   b'{"id":"forged.parquet:2","text":"y","m":"1} {\\"x"}\n'
                                   b'{"id":"forged.parquet:3","text":"z","m":null}\n')
