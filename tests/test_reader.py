from __future__ import annotations

import base64
import gzip
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from conftest import write_jsonl

from etlcore.errors import EtlError
from etlcore.io.reader import ReadOptions, expand_inputs, read_batches


def read_all(inputs: list[Path | str], **options) -> tuple[pa.Table, list[dict]]:
    batches = list(read_batches(expand_inputs(inputs), ReadOptions(**options)))
    tables = [b.table for b in batches if b.table.num_rows]
    table = pa.concat_tables(tables, promote_options="permissive") if tables else pa.table({})
    return table, [row.to_json() for b in batches for row in b.invalid]


def test_every_unreadable_row_kind_goes_to_invalid_and_neighbours_survive(tmp_path: Path) -> None:
    long_text = "x" * 200
    path = write_jsonl(tmp_path / "mixed.jsonl", [
        {"id": "a", "text": "first good"},
        b'{"id": "broken", "text": "no end',
        b"[1, 2]",
        b'"just a string"',
        {"id": "no-text"},
        {"id": "num", "text": 42},
        {"id": "null", "text": None},
        {"id": "list", "text": ["a"]},
        b'{"id": "utf8", "text": "caf\xc3\x28"}',
        b"",
        b"   ",
        {"id": "long", "text": long_text},
        {"id": "b", "text": "last good"},
    ])
    table, invalid = read_all([path], max_line_bytes=100)
    assert table.column("id").to_pylist() == ["a", "b"]
    assert table.column("text").to_pylist() == ["first good", "last good"]
    assert [(r["line"], r["reason"]) for r in invalid] == [
        (2, "invalid JSON: unexpected end of data: line 1 column 33 (char 32)"),
        (3, "not a JSON object (got array)"),
        (4, "not a JSON object (got string)"),
        (5, "missing text field 'text'"),
        (6, "text field 'text' is not a string (got number)"),
        (7, "text field 'text' is not a string (got null)"),
        (8, "text field 'text' is not a string (got array)"),
        (9, "broken UTF-8 at byte offset 27"),
        (12, "line is 223 bytes, over the limit of 100 (--max-line-bytes)"),
    ]
    assert {r["source"] for r in invalid} == {"mixed.jsonl"}
    assert invalid[0]["raw"] == '{"id": "broken", "text": "no end'
    assert invalid[0]["raw_encoding"] == "utf-8"
    # Broken UTF-8 is kept byte-exact, as base64.
    assert invalid[7]["raw_encoding"] == "base64"
    assert base64.b64decode(invalid[7]["raw"]) == b'{"id": "utf8", "text": "caf\xc3\x28"}'


def test_rows_without_id_get_file_and_line_and_ids_become_strings(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "ids.jsonl", [
        {"text": "no id here"}, {"id": 7, "text": "int id"}, {"id": None, "text": "null id"},
        {"id": "s-1", "text": "string id"},
    ])
    table, invalid = read_all([path])
    assert invalid == []
    assert table.column("id").to_pylist() == ["ids.jsonl:1", "7", "ids.jsonl:3", "s-1"]
    assert table.column_names == ["text", "id"]


def test_other_fields_pass_through_with_their_types(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "extra.jsonl", [
        {"id": "1", "text": "a", "score": 0.5, "tags": ["x", "y"], "meta": {"n": 1, "src": "web"}},
        {"id": "2", "text": "b", "score": 1.5, "tags": [], "meta": {"n": 2, "src": "book"}},
    ])
    table, _ = read_all([path])
    assert table.schema.field("score").type == pa.float64()
    assert table.schema.field("tags").type == pa.list_(pa.string())
    assert table.schema.field("meta").type == pa.struct([("n", pa.int64()), ("src", pa.string())])
    assert table.column("meta").to_pylist() == [{"n": 1, "src": "web"}, {"n": 2, "src": "book"}]


def test_a_field_with_mixed_types_is_kept_as_json_text(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "mixed_types.jsonl", [
        {"id": "1", "text": "a", "label": 3}, {"id": "2", "text": "b", "label": "three"},
    ])
    table, _ = read_all([path])
    assert table.column("label").to_pylist() == ["3", '"three"']


def test_folder_of_mixed_formats_and_compressions(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    write_jsonl(folder / "a.jsonl", [{"id": "a1", "text": "alpha"}])
    (folder / "b.jsonl.gz").write_bytes(gzip.compress(b'{"id": "b1", "text": "beta"}\n'))
    (folder / "c.txt").write_text("gamma line one\n\ngamma line three\n", encoding="utf-8")
    pq.write_table(pa.table({"id": ["d1"], "text": ["delta"]}), folder / "d.parquet")
    (folder / "e.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(b'{"text": "epsilon"}\n'))
    (folder / "sub").mkdir()
    (folder / "sub" / "f.txt.gz").write_bytes(gzip.compress("zeta 中文\n".encode()))
    (folder / "README.md").write_text("not a corpus file", encoding="utf-8")
    table, invalid = read_all([folder])
    assert invalid == []
    assert table.column("text").to_pylist() == ["alpha", "beta", "gamma line one", "gamma line three",
                                                "delta", "epsilon", "zeta 中文"]
    assert table.column("id").to_pylist() == ["a1", "b1", "c.txt:1", "c.txt:3", "d1", "e.jsonl.zst:1",
                                              "sub/f.txt.gz:1"]


def test_glob_input(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "part-1.jsonl", [{"text": "one"}])
    write_jsonl(tmp_path / "part-2.jsonl", [{"text": "two"}])
    write_jsonl(tmp_path / "other.jsonl", [{"text": "other"}])
    table, _ = read_all([str(tmp_path / "part-*.jsonl")])
    assert table.column("text").to_pylist() == ["one", "two"]
    assert table.column("id").to_pylist() == ["part-1.jsonl:1", "part-2.jsonl:1"]


def test_parquet_keeps_column_types_and_rejects_null_text(tmp_path: Path) -> None:
    source = pa.table({
        "text": pa.array(["kept", None, "also kept"], pa.large_string()),
        "rank": pa.array([1, 2, 3], pa.int32()),
        "when": pa.array([1, 2, 3], pa.timestamp("ms")),
        "vec": pa.array([[1.0], [2.0], [3.0]], pa.list_(pa.float32())),
    })
    pq.write_table(source, tmp_path / "typed.parquet")
    table, invalid = read_all([tmp_path / "typed.parquet"])
    assert table.column("text").to_pylist() == ["kept", "also kept"]
    assert table.column("id").to_pylist() == ["typed.parquet:1", "typed.parquet:3"]
    assert table.schema.field("rank").type == pa.int32()
    assert table.schema.field("when").type == pa.timestamp("ms")
    assert table.schema.field("vec").type == pa.list_(pa.float32())
    assert [(r["line"], r["reason"]) for r in invalid] == [(2, "text field 'text' is null")]
    assert invalid[0]["raw"] == '{"text":null,"rank":2,"when":"1970-01-01T00:00:00.002000","vec":[2.0]}'


def test_parquet_without_text_column_or_with_non_string_text(tmp_path: Path) -> None:
    pq.write_table(pa.table({"body": ["x", "y"]}), tmp_path / "no_text.parquet")
    pq.write_table(pa.table({"text": [1, 2]}), tmp_path / "int_text.parquet")
    table, invalid = read_all([tmp_path])
    assert table.num_rows == 0
    assert [(r["source"], r["line"], r["reason"]) for r in invalid] == [
        ("int_text.parquet", 1, "text field 'text' is not a string (got int64)"),
        ("int_text.parquet", 2, "text field 'text' is not a string (got int64)"),
        ("no_text.parquet", 1, "missing text field 'text'"),
        ("no_text.parquet", 2, "missing text field 'text'"),
    ]


def test_configurable_text_and_id_columns(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "cols.jsonl", [{"doc_id": "x", "content": "hello", "text": 5}])
    table, invalid = read_all([path], text_column="content", id_column="doc_id")
    assert invalid == []
    assert table.column("content").to_pylist() == ["hello"]
    assert table.column("doc_id").to_pylist() == ["x"]
    assert table.column("text").to_pylist() == [5]


def test_batches_respect_batch_size(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "many.jsonl", [{"text": f"doc {i}"} for i in range(7)])
    batches = list(read_batches(expand_inputs([path]), ReadOptions(batch_size=3)))
    assert [b.table.num_rows for b in batches] == [3, 3, 1]
    assert [t for b in batches for t in b.table.column("text").to_pylist()] == [f"doc {i}" for i in range(7)]


def test_truncated_gzip_keeps_what_was_read_and_reports_the_rest(tmp_path: Path) -> None:
    data = gzip.compress(b"".join(b'{"text": "row %d"}\n' % i for i in range(2000)))
    (tmp_path / "cut.jsonl.gz").write_bytes(data[: len(data) // 2])
    table, invalid = read_all([tmp_path / "cut.jsonl.gz"])
    assert 0 < table.num_rows < 2000
    assert len(invalid) == 1
    assert invalid[0]["line"] == table.num_rows + 1
    assert invalid[0]["reason"].startswith(f"file unreadable after line {table.num_rows}: ")


def test_input_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(EtlError, match=r"^input not found: .*missing\.jsonl$"):
        expand_inputs([tmp_path / "missing.jsonl"])
    (tmp_path / "notes.md").write_text("x", encoding="utf-8")
    with pytest.raises(EtlError, match=r"notes\.md: unsupported file type; supported: \.jsonl, \.ndjson"):
        expand_inputs([tmp_path / "notes.md"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(EtlError, match=r"empty: no corpus files found"):
        expand_inputs([tmp_path / "empty"])
    with pytest.raises(EtlError, match=r"nothing-\*\.jsonl: no corpus files found"):
        expand_inputs([str(tmp_path / "nothing-*.jsonl")])


@pytest.mark.parametrize("trailing_newline", [True, False])
def test_blocks_end_at_a_newline_and_chunks_cover_every_line_once(tmp_path: Path, trailing_newline: bool) -> None:
    import etlcore.io.reader as reader

    lines = [b'{"text": "%s"}' % (b"x" * length) for length in (1, 49, 50, 200, 0, 63, 3, 130, 2, 2, 2, 2, 2)]
    data = b"\n".join(lines) + b"\n" * trailing_newline
    path = tmp_path / "in.jsonl"
    path.write_bytes(data)
    # 64-byte blocks: lines shorter and longer than a block
    chunks = list(reader.read_chunks(expand_inputs([path]), ReadOptions(batch_size=3, block_bytes=64)))
    # A block is 64 bytes completed to the end of its last line (lines end at 14, 76, 139, 352, 365, 441,
    # 457, 600, 615, ... 675); within a block, chunks of 3 lines.
    assert [(chunk.first_line, chunk.span) for chunk in chunks] == [
        (1, (0, 76)), (3, (76, 276)), (5, (352, 89)), (7, (441, 159)), (9, (600, 45)),
        (12, (645, 29 + trailing_newline))]
    assert b"".join(data[start: start + length] for start, length in (chunk.span for chunk in chunks)) == data
    table, invalid = read_all([path], batch_size=3)
    assert table["text"].to_pylist() == ["x" * len(line[10:-2]) for line in lines] and invalid == []
