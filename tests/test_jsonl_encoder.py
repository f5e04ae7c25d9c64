"""The column-wise JSON Lines encoder writes the bytes orjson writes for each row as a dict."""

from __future__ import annotations

import datetime
import decimal

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from etlcore.io.jsonl_encoder import encode_table
from etlcore.io.reader import JSON_TEXT
from etlcore.io.writer import COLUMNWISE_FROM_ROWS, encode_rows, table_jsonl

orjson_rows = encode_rows  # the reference: each row as a dict through orjson


def test_every_escape_and_type_as_orjson_writes_it() -> None:
    every_control = "".join(chr(i) for i in range(0x20))
    table = pa.table({
        "id": ["a", None, "c"],
        "text": [every_control + '\x7f"\\/', "中文 😀\u2028", ""],
        "n": pa.array([-(2**63), None, 2**63 - 1], pa.int64()),
        "u": pa.array([2**64 - 1, 0, None], pa.uint64()),
        "ok": [True, False, None],
        "none": pa.nulls(3),
        "score": [0.1, 1e25, None],
        "meta": [{"n": 1, "tags": ["x"], "sub": {"k": "v\n"}}, None, {"n": None, "tags": [], "sub": None}],
        "when": pa.array([datetime.datetime(2020, 1, 2, 3, 4, 5), None, None], pa.timestamp("ms")),
        "raw": [b"\x00\xff", None, b""],
        "price": pa.array([decimal.Decimal("1.50"), None, decimal.Decimal("-3")], pa.decimal128(5, 2)),
        "key \"quoted\"": ["x", "y", "z"],
    })
    json_text = pa.field("j", pa.string(), metadata=JSON_TEXT)
    table = table.append_column(json_text, pa.array(['{"a":[1,2]}', None, "12345678901234567890123"]))
    encoded = encode_table(table)
    assert encoded == orjson_rows(table)
    assert encoded.splitlines()[0].startswith(b'{"id":"a","text":"\\u0000\\u0001')
    assert b'"j":{"a":[1,2]}' in encoded


def test_empty_tables_and_sliced_chunked_columns() -> None:
    assert encode_table(pa.table({"text": pa.array([], pa.string())})) == b""
    assert encode_table(pa.table({"a": [1, 2]}).select([])) == b"{}\n{}\n"
    chunked = pa.table({"text": pa.chunked_array([["a", "b"], ["c\n", None]]), "n": pa.chunked_array([[1], [2, 3, 4]])})
    for table in (chunked, chunked.slice(1, 2), chunked.slice(3)):
        assert encode_table(table) == orjson_rows(table)


def test_repeated_column_names_keep_the_last_value_as_a_dict_does() -> None:
    table = pa.Table.from_arrays([pa.array(["a"]), pa.array(["b"])], names=["x", "x"])
    assert encode_table(table) == b'{"x":"b"}\n'


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**63 - 1), st.text(),
                         st.floats(allow_nan=False, allow_infinity=False))
rows = st.fixed_dictionaries({"text": st.text()}, optional={
    "id": st.text(max_size=4), "n": st.integers(-2**63, 2**63 - 1), "flag": st.booleans(),
    "meta": st.fixed_dictionaries({"a": st.one_of(st.none(), st.text(max_size=3)), "b": json_scalars}),
    "tags": st.lists(st.text(max_size=3), max_size=3), "x": st.floats(allow_nan=False, allow_infinity=False)})


@settings(max_examples=300, deadline=None)
@given(st.lists(rows, min_size=1, max_size=8), st.integers(0, 3))
def test_any_rows_as_orjson_writes_them(given_rows: list[dict], start: int) -> None:
    try:
        table = pa.Table.from_pylist(given_rows).slice(start)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # a field of mixed types: not an Arrow table
        return
    assert encode_table(table) == orjson_rows(table)


def test_large_tables_are_encoded_column_by_column_small_ones_row_by_row() -> None:
    table = pa.table({"id": [str(i) for i in range(COLUMNWISE_FROM_ROWS)], "text": ["Ä\t"] * COLUMNWISE_FROM_ROWS})
    assert table_jsonl(table) == encode_table(table) == encode_rows(table)
    assert table_jsonl(table.slice(1)) == encode_rows(table.slice(1))
