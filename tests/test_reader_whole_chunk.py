"""A JSON Lines chunk is parsed by pyarrow in one call when that gives exactly what parsing it line by line
gives, and line by line otherwise: the batch (columns, types, values, ids, invalid rows) is the same."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etlcore.io.reader import Batch, Chunk, InputFile, ReadOptions, parse_chunk, parse_line_by_line, parse_whole_chunk

FILE = InputFile(Path("corpus.jsonl"), "corpus.jsonl", "jsonl", None)
OPTIONS = ReadOptions()


def assert_same_batch(lines: bytes, first_line: int = 1, options: ReadOptions = OPTIONS) -> Batch:
    """parse_chunk's batch equals the line-by-line one; returns it."""
    batch = parse_chunk(Chunk(FILE, lines, first_line), options)
    reference = parse_line_by_line(FILE, options, lines, first_line)
    assert batch.table.schema.equals(reference.table.schema, check_metadata=True), (
        f"{batch.table.schema}\n!=\n{reference.table.schema}")
    assert batch.table.to_pylist() == reference.table.to_pylist()
    assert [row.to_json() for row in batch.invalid] == [row.to_json() for row in reference.invalid]
    return batch


def jsonl(*rows: object) -> bytes:
    return b"".join(json.dumps(row, ensure_ascii=False).encode() + b"\n" for row in rows)


def test_plain_corpus_chunk_is_parsed_whole_with_ids_for_rows_without_one() -> None:
    lines = jsonl({"id": "a", "text": "Hello", "meta": {"n": 1, "tags": ["x"]}, "ok": True},
                  {"text": "No id", "meta": {"n": 2, "tags": []}, "ok": False},
                  {"id": "c", "text": "Third", "meta": None})
    assert parse_whole_chunk(FILE, OPTIONS, lines, 41) is not None
    batch = assert_same_batch(lines, first_line=41)
    assert batch.table.column_names == ["id", "text", "meta", "ok"]
    assert batch.table["id"].to_pylist() == ["a", "corpus.jsonl:42", "c"]
    assert batch.table.schema.field("meta").type == pa.struct([("n", pa.int64()), ("tags", pa.list_(pa.string()))])


@pytest.mark.parametrize("lines", [
    b'{"id": "a", "text": "x"}\n{"a":1}{"b":2}\n',  # two objects on one line
    b'{"text": "x"}\n\n   \n{"text": "y"}\r\n',  # blank lines, CRLF
    b'{"text": "x", "text": "y"}\n',  # a key twice (the last one counts)
    b'{"text": "\\ud800"}\n{"text": "ok"}\n',  # a lone surrogate
    b'{"text": "caf\xc3\x28"}\n{"text": "ok"}\n',  # broken UTF-8
    b'{"text": "a\tb"}\n{"text": "ok"}\n',  # a raw control character
    b'{"text": "x", "n": NaN}\n{"text": "x", "n": Infinity}\n',
    b'{"text": "x", "n": 1}\n{"text": "y", "n": 2.5}\n',  # integers among fractions
    b'{"text": "x", "n": 18446744073709551616}\n{"text": "y", "n": 9223372036854775808}\n',
    b'{"text": "x", "n": 1}\n{"text": "y", "n": "one"}\n',  # mixed types
    b'{"text": "x", "d": "2020-01-01"}\n{"text": "y", "d": "2020-01-01T00:00:00"}\n',  # dates stay strings
    b'{"text": "x", "o": {}}\n{"text": "y", "o": {"a": 1}}\n',  # objects without keys, with other keys
    b'{"text": "x", "o": {"a": 1}}\n{"text": "y", "o": {"b": 2}}\n',
    b'{"text": "x", "o": {"a": null}}\n{"text": "y", "o": {"a": 1}}\n',
    b'{"text": "x", "o": [{"a": 1}, {"b": 1}]}\n',
    b'{"text": "x", "l": [1, "a"]}\n{"text": 5}\n{"id": "t"}\n{"text": null}\n[1]\n"s"\n',
    b'{"text": "x", "l": [[], [null, 1]], "z": null}\n{"text": "y"}\n',
    b'{"id": 1.5, "text": "x"}\n{"id": true, "text": "y"}\n{"id": [1], "text": "z"}\n{"id": {"k": 1}, "text": "w"}\n',
    b'{"id": 10000000000000000000000011, "text": "big"}\n{"id": -9223372036854775809, "text": "small"}\n',
    b'{"id": null, "text": "x"}\n{"id": "b", "text": "y"}\n{"text": "z"}\n',
    b'{"text": "x", "f": ' + b"[" * 49 + b"1" + b"]" * 49 + b"}\n",  # nested past the limit
    b'{"text": "x", "f": ' + b"[" * 48 + b"1" + b"]" * 48 + b"}\n",
    b'{"text": "x", "b": true}\n{"text": "y", "b": 1}\n',
    b'{"text": "no newline at the end"}',
    b'{"text": "x"} // a comment\n',
])
def test_tricky_chunks_give_the_line_by_line_batch(lines: bytes) -> None:
    assert_same_batch(lines, first_line=3)


def test_lines_over_the_size_limit_are_invalid_rows() -> None:
    lines = jsonl({"text": "short"}, {"text": "x" * 200}, {"text": "short too"})
    batch = assert_same_batch(lines, options=ReadOptions(max_line_bytes=100))
    assert [row.line for row in batch.invalid] == [2]


def test_other_text_and_id_columns() -> None:
    lines = jsonl({"doc_id": 3, "content": "hello", "text": 5}, {"content": "bye", "text": 6})
    batch = assert_same_batch(lines, options=ReadOptions(text_column="content", id_column="doc_id"))
    assert batch.table["doc_id"].to_pylist() == ["3", "corpus.jsonl:2"]


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.text(max_size=5),
                         st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(["2020-01-01", "é\n\"\\"]))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3)), max_leaves=8)
rows = st.fixed_dictionaries({"text": st.text(max_size=8)}, optional={
    "id": st.one_of(st.text(max_size=3), st.integers(-5, 2**64), st.none()),
    "meta": json_values, "n": json_values, "flag": st.booleans()})


@settings(max_examples=300, deadline=None)
@given(st.lists(rows, min_size=1, max_size=6))
def test_any_json_lines_give_the_line_by_line_batch(chunk: list[dict]) -> None:
    assert_same_batch(jsonl(*chunk), first_line=5)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.fixed_dictionaries({"text": st.text(max_size=4)}, optional={
    "meta": st.fixed_dictionaries({"n": st.integers(0, 9)}, optional={"tags": st.lists(st.text(max_size=2))}),
    "n": st.integers(-2**63, 2**63 - 1)}), min_size=1, max_size=6))
def test_typical_rows_are_parsed_whole(chunk: list[dict]) -> None:
    lines = jsonl(*chunk)
    if all("tags" in row.get("meta", {"tags": 0}) for row in chunk):  # every object has every key
        assert parse_whole_chunk(FILE, OPTIONS, lines, 1) is not None
    assert_same_batch(lines)
