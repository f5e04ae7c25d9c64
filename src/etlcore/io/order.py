"""Input order for the rejects file, which several passes over the data write to.

Clean and filter reject rows in the first pass, deduplication and desensitization in later ones, so
the rejects of one run arrive as a few stretches each in input order. Every row read carries its place
in the input in a hidden column (`POSITION`: the input file's number, then its line or row number),
which checkpoints and the deduplication spool keep and no output shows. A chunk's rejects are encoded
in that order, each line led by its position as a first JSON field; at the end of the run the
stretches are merged by it and the field is dropped, so `rejects.jsonl` lists rows in input order.
"""

from __future__ import annotations

import contextlib
import heapq
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa

from etlcore.io.writer import JsonlSink, create_file, encode_rows, table_jsonl, temporary_name

POSITION = "__etlcore_position"
LINE_BITS = 40  # a file's line (or row) numbers below 2**40; the file's number above
_LEAD = b'{"' + POSITION.encode() + b'":'


def with_positions(table: pa.Table, file_number: int, lines: Sequence[int]) -> pa.Table:
    """`table` (rows of one input file, at `lines`) with each row's place in the input."""
    positions = np.asarray(lines, dtype=np.int64) + (file_number << LINE_BITS)
    return table.append_column(POSITION, pa.array(positions, pa.int64()))


def without_positions(table: pa.Table) -> pa.Table:
    return table.drop_columns([POSITION]) if POSITION in table.column_names else table


def encode_in_order(tables: list[pa.Table]) -> bytes:
    """Rejected rows as JSON Lines in input order, each led by its position (see `merge_in_order`)."""
    keyed: list[tuple[int, bytes]] = []
    for table in tables:
        if table.num_rows == 0:
            continue
        if POSITION not in table.column_names:  # rows of no input file (none today): after the others
            keyed += ((1 << 62, line) for line in _lines(table))
            continue
        keyed += zip(table[POSITION].to_pylist(), _lines(table.drop_columns([POSITION])))
    keyed.sort(key=lambda pair: pair[0])
    return b"".join(b"%s%d,%s\n" % (_LEAD, position, line[1:]) for position, line in keyed)


def _lines(table: pa.Table) -> list[bytes]:
    """Each row's JSON object, without its newline."""
    lines = table_jsonl(table).split(b"\n")[:-1]
    if len(lines) == table.num_rows:
        return lines
    return [encode_rows(table.slice(row, 1))[:-1] for row in range(table.num_rows)]  # a value held a newline


def _position(line: bytes) -> int:
    return int(line[len(_LEAD): line.index(b",", len(_LEAD))])


def merge_in_order(source: Path, target: BinaryIO) -> int:
    """Write the led lines of `source` to `target` in input order without their lead; returns the
    number of lines. `source` holds a few stretches each already in order: they are found in a first
    read, then merged, one open file each, so memory stays small whatever the number of rejects."""
    starts, previous, offset = [0], -1, 0
    with open(source, "rb") as lines:
        for line in lines:
            position = _position(line)
            if position < previous:
                starts.append(offset)
            previous, offset = position, offset + len(line)
    bounds = list(zip(starts, [*starts[1:], offset]))
    written = 0
    with contextlib.ExitStack() as files:
        runs = [_stretch(files.enter_context(open(source, "rb")), start, end) for start, end in bounds if end > start]
        for _, line in heapq.merge(*runs, key=lambda pair: pair[0]):
            target.write(b"{" + line[line.index(b",", len(_LEAD)) + 1:])
            written += 1
    return written


def _stretch(lines: BinaryIO, start: int, end: int) -> Iterator[tuple[int, bytes]]:
    lines.seek(start)
    left = end - start
    while left > 0:
        line = lines.readline()
        if not line:
            return
        left -= len(line)
        yield _position(line), line


class RejectsSink(JsonlSink):
    """The rejects file: led lines (see `encode_in_order`) go to its temporary file, and `commit` merges
    them into the file itself in input order."""

    def commit(self) -> None:
        self._close()
        merged = temporary_name(self.path, "merged-")
        try:
            with create_file(merged) as target:
                merge_in_order(self.temporary, target)
            os.replace(merged, self.path)
        finally:
            merged.unlink(missing_ok=True)
        self.temporary.unlink(missing_ok=True)
