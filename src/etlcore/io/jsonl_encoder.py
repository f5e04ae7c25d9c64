"""Arrow tables as JSON Lines, column by column, byte for byte what `orjson.dumps` writes for each row.

Writing row by row means building a Python dict per row and letting orjson encode it: most of a light
run's time. Here each column is encoded for all rows at once: strings are escaped straight from Arrow's
UTF-8 buffer by a numba kernel (the escapes orjson uses: `\\"`, `\\\\`, `\\b \\t \\n \\f \\r`, `\\u00xx` for
the other control characters, nothing else), integers and booleans are cast by Arrow, objects (structs)
are encoded the same way recursively, JSON text columns go in verbatim, and any other type (fractions,
arrays, timestamps, bytes, ...) is encoded per value by orjson itself, so its output is orjson's.
`etlcore.io.writer.table_jsonl` uses it for tables large enough to repay loading its kernels.
"""

from __future__ import annotations

import numba
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from etlcore.io.reader import is_json_text
from etlcore.io.writer import encode_rows, json_default

NULL = np.frombuffer(b"null", dtype=np.uint8)
# The escape of each byte below 0x20 (and of `"` and `\`), as orjson writes it; empty: written as it is.
_ESCAPES = {0x08: b"\\b", 0x09: b"\\t", 0x0A: b"\\n", 0x0C: b"\\f", 0x0D: b"\\r", 0x22: b'\\"', 0x5C: b"\\\\",
            **{byte: b"\\u%04x" % byte for byte in range(0x20) if byte not in (0x08, 0x09, 0x0A, 0x0C, 0x0D)}}
ESCAPE_LENGTH = np.zeros(256, dtype=np.int64)  # extra bytes each byte costs when escaped
ESCAPE_BYTES = np.zeros((256, 6), dtype=np.uint8)
for _byte, _escape in _ESCAPES.items():
    ESCAPE_LENGTH[_byte] = len(_escape) - 1
    ESCAPE_BYTES[_byte, : len(_escape)] = np.frombuffer(_escape, dtype=np.uint8)


class _Piece:
    """One column's values as byte strings (Arrow buffers), written escaped in quotes or verbatim; null
    where `valid` is False."""

    def __init__(self, array: pa.Array, escape: bool) -> None:
        array = array.cast(pa.large_binary())
        _, offsets, data = array.buffers()
        self.offsets = np.frombuffer(offsets, dtype=np.int64)[array.offset: array.offset + len(array) + 1]
        self.data = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
        self.valid = (np.ones(len(array), dtype=np.bool_) if array.null_count == 0
                      else pc.is_valid(array).to_numpy(zero_copy_only=False))
        self.escape = escape

    def lengths(self) -> np.ndarray:
        if self.escape:
            return _escaped_lengths(self.data, self.offsets, self.valid, ESCAPE_LENGTH)
        return np.where(self.valid, np.diff(self.offsets), len(NULL))

    def write(self, out: np.ndarray, cursor: np.ndarray) -> None:
        if self.escape:
            _write_escaped(out, cursor, self.data, self.offsets, self.valid, ESCAPE_LENGTH, ESCAPE_BYTES, NULL)
        else:
            _write_verbatim(out, cursor, self.data, self.offsets, self.valid, NULL)


def encode_table(table: pa.Table) -> bytes:
    """The table as JSON Lines: one object per row, keys in column order, JSON text columns as the JSON
    they hold; the same bytes as orjson with OPT_APPEND_NEWLINE over each row as a dict."""
    if len(set(table.column_names)) != table.num_columns:  # as a dict, a row keeps one of each name
        return encode_rows(table)
    columns = [(field.name, _piece(_whole(table[field.name]), is_json_text(field))) for field in table.schema]
    return _objects(columns, table.num_rows, b"}\n")[0].tobytes()


def _objects(columns: list[tuple[str, _Piece]], rows: int, end: bytes) -> tuple[np.ndarray, np.ndarray]:
    """`{"name":value,...}` + `end` for every row: (one byte buffer, where each row starts in it and ends)."""
    literals = [(b"{" if position == 0 else b",") + orjson.dumps(name) + b":"
                for position, (name, _) in enumerate(columns)] or [b"{"]
    lengths = np.full(rows, sum(map(len, literals)) + len(end), dtype=np.int64)
    for _, piece in columns:
        lengths += piece.lengths()
    starts = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    out = np.empty(int(starts[-1]), dtype=np.uint8)
    cursor = starts[:-1].copy()
    for position, literal in enumerate(literals):
        _write_literal(out, cursor, np.frombuffer(literal, dtype=np.uint8))
        if columns:
            columns[position][1].write(out, cursor)
    _write_literal(out, cursor, np.frombuffer(end, dtype=np.uint8))
    return out, starts


def _whole(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    return column


def _piece(array: pa.Array, json_text: bool = False) -> _Piece:
    kind = array.type
    if json_text:
        return _Piece(array, escape=False)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _Piece(array, escape=True)
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind):
        return _Piece(array.cast(pa.string()), escape=False)
    if pa.types.is_null(kind):
        return _Piece(pa.nulls(len(array), pa.binary()), escape=False)
    if pa.types.is_struct(kind) and kind.num_fields and len({f.name for f in kind}) == kind.num_fields:
        children = [(field.name, _piece(pc.struct_field(array, [i]))) for i, field in enumerate(kind)]
        objects, starts = _objects(children, len(array), b"}")
        values = pa.Array.from_buffers(pa.large_binary(), len(array), [
            None, pa.py_buffer(starts), pa.py_buffer(objects)])
        return _Piece(pc.if_else(pc.is_valid(array), values, pa.scalar(None, pa.large_binary())), escape=False)
    option = orjson.OPT_NON_STR_KEYS
    return _Piece(pa.array([None if value is None else orjson.dumps(value, default=json_default, option=option)
                            for value in array.to_pylist()], pa.large_binary()), escape=False)


@numba.njit(cache=True, nogil=True)
def _escaped_lengths(data: np.ndarray, offsets: np.ndarray, valid: np.ndarray, extra: np.ndarray) -> np.ndarray:
    lengths = np.empty(len(offsets) - 1, dtype=np.int64)
    for row in range(len(offsets) - 1):
        if not valid[row]:
            lengths[row] = 4
            continue
        length = offsets[row + 1] - offsets[row] + 2
        for i in range(offsets[row], offsets[row + 1]):
            length += extra[data[i]]
        lengths[row] = length
    return lengths


@numba.njit(cache=True, nogil=True)
def _write_escaped(out: np.ndarray, cursor: np.ndarray, data: np.ndarray, offsets: np.ndarray, valid: np.ndarray,
                   extra: np.ndarray, escapes: np.ndarray, null: np.ndarray) -> None:
    for row in range(len(offsets) - 1):
        at = cursor[row]
        if not valid[row]:
            out[at: at + 4] = null
            cursor[row] = at + 4
            continue
        out[at] = 0x22
        at += 1
        for i in range(offsets[row], offsets[row + 1]):
            byte = data[i]
            more = extra[byte]
            if more == 0:
                out[at] = byte
                at += 1
            else:
                for j in range(more + 1):
                    out[at + j] = escapes[byte, j]
                at += more + 1
        out[at] = 0x22
        cursor[row] = at + 1


@numba.njit(cache=True, nogil=True)
def _write_verbatim(out: np.ndarray, cursor: np.ndarray, data: np.ndarray, offsets: np.ndarray, valid: np.ndarray,
                    null: np.ndarray) -> None:
    for row in range(len(offsets) - 1):
        at = cursor[row]
        if not valid[row]:
            out[at: at + 4] = null
            cursor[row] = at + 4
            continue
        length = offsets[row + 1] - offsets[row]
        out[at: at + length] = data[offsets[row]: offsets[row + 1]]
        cursor[row] = at + length


@numba.njit(cache=True, nogil=True)
def _write_literal(out: np.ndarray, cursor: np.ndarray, literal: np.ndarray) -> None:
    length = len(literal)
    for row in range(len(cursor)):
        at = cursor[row]
        out[at: at + length] = literal
        cursor[row] = at + length
