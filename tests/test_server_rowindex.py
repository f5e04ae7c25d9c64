"""Paging through rejects and invalid rows reads the page's own rows, not the file from its start."""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from etlcore.server.rowindex import RowIndexes


def _rejects(path: Path, count: int) -> list[dict]:
    rows = [{"id": f"d{n}", "text": f"text {n}", "etl_operator": "cut" if n % 3 else "remove_emoji",
             "etl_reason": "why"} for n in range(count)]
    path.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in rows[:5]) + b"\n"  # a blank line on line 5
                     + b"".join(orjson.dumps(row) + b"\n" for row in rows[5:]))
    return rows


def test_a_page_deep_in_the_file_is_read_from_its_own_offset(tmp_path: Path) -> None:
    path = tmp_path / "rejects.jsonl"
    rows = _rejects(path, 10_000)
    indexes = RowIndexes()
    assert indexes.count(path) == 10_000 and indexes.count(path, "remove_emoji") == 3_334
    assert [row for _, row in indexes.page(path, 9_990, 20)] == rows[9_990:]
    assert [number for number, _ in indexes.page(path, 3, 4)] == [3, 4, 6, 7]  # line numbers, the blank skipped
    emoji = [r for r in rows if r["etl_operator"] == "remove_emoji"]
    assert [row for _, row in indexes.page(path, 3_000, 5, "remove_emoji")] == emoji[3_000:3_005]
    assert indexes.page(path, 0, 5, "no_such_operator") == [] and indexes.of(tmp_path / "none.jsonl") is None

    # The first half made unreadable, size and time kept: a deep page still reads, so nothing before it was.
    status = path.stat()
    data = path.read_bytes()
    half = data.index(b"\n", len(data) // 2) + 1
    path.write_bytes(b"x" * half + data[half:])
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))
    assert [row for _, row in indexes.page(path, 9_995, 5)] == rows[9_995:]
    assert indexes.of(path).at_line(10_000) == rows[9_999]

    # A file rewritten (another run) is indexed again.
    path.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in rows[:7]))
    assert indexes.count(path) == 7 and [row for _, row in indexes.page(path, 5, 10)] == rows[5:7]
