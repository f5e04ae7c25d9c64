"""Paging through a finished run's rejects.jsonl and invalid.jsonl without reading them from their
start each time: one pass over a file notes where each row starts (and, for rejects, which operator
took it out); a page then reads only its own rows. The index is kept while the file is unchanged (same
size, modification time and inode), and rebuilt when it changes."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

KEPT_INDEXES = 32  # one per file a console user or an SDK pages through; a few MB each at most


@dataclass(frozen=True)
class RowIndex:
    """The rows of one JSON Lines file: their line numbers, byte offsets and lengths, and the
    operator each names (rejects)."""

    path: Path
    identity: tuple[int, int, int]  # size, mtime_ns, inode when indexed
    lines: np.ndarray  # line number (from 0, blank lines counted) of each row
    starts: np.ndarray
    lengths: np.ndarray
    operators: np.ndarray  # per row, an index into `operator_names`
    operator_names: tuple[str, ...]

    @classmethod
    def build(cls, path: Path) -> RowIndex:
        lines, starts, lengths, operators = [], [], [], []
        names: dict[str, int] = {}
        with path.open("rb") as source:
            identity = _identity(source.fileno())
            offset = 0
            for number, line in enumerate(source):
                if line.strip():
                    lines.append(number)
                    starts.append(offset)
                    lengths.append(len(line))
                    try:
                        row = orjson.loads(line)
                        name = str(row.get("etl_operator", "")) if isinstance(row, dict) else ""
                    except orjson.JSONDecodeError:
                        name = ""
                    operators.append(names.setdefault(name, len(names)))
                offset += len(line)
        return cls(path, identity, np.array(lines, np.int64), np.array(starts, np.int64),
                   np.array(lengths, np.int64), np.array(operators, np.int32), tuple(names))

    def __len__(self) -> int:
        return len(self.starts)

    def positions(self, operator: str | None = None) -> np.ndarray:
        """The row positions (into this index) of every row, or of those `operator` took out."""
        if not operator:
            return np.arange(len(self))
        if operator not in self.operator_names:
            return np.arange(0)
        return np.flatnonzero(self.operators == self.operator_names.index(operator))

    def read(self, positions: np.ndarray) -> list[tuple[int, dict[str, Any]]]:
        """The rows at `positions`, each with its line number."""
        rows = []
        with self.path.open("rb") as source:
            for position in positions.tolist():
                source.seek(int(self.starts[position]))
                rows.append((int(self.lines[position]), orjson.loads(source.read(int(self.lengths[position])))))
        return rows

    def at_line(self, number: int) -> dict[str, Any] | None:
        """The row on line `number`, if there is one."""
        position = int(np.searchsorted(self.lines, number))
        if position >= len(self) or self.lines[position] != number:
            return None
        return self.read(np.array([position]))[0][1]


def _identity(descriptor: int) -> tuple[int, int, int]:
    status = os.fstat(descriptor)
    return status.st_size, status.st_mtime_ns, status.st_ino


class RowIndexes:
    """The indexes of the files paged through lately, shared by the server's threads."""

    def __init__(self, kept: int = KEPT_INDEXES) -> None:
        self.kept = kept
        self._indexes: OrderedDict[Path, RowIndex] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, path: Path) -> RowIndex | None:
        """The index of `path` as it is now; None when there is no such file."""
        try:
            with path.open("rb") as source:
                identity = _identity(source.fileno())
        except FileNotFoundError:
            return None
        with self._lock:
            index = self._indexes.get(path)
            if index is not None and index.identity == identity:
                self._indexes.move_to_end(path)
                return index
        index = RowIndex.build(path)  # outside the lock: other files' pages need not wait
        with self._lock:
            self._indexes[path] = index
            self._indexes.move_to_end(path)
            while len(self._indexes) > self.kept:
                self._indexes.popitem(last=False)
        return index

    def page(self, path: Path, offset: int, limit: int, operator: str | None = None) -> list[tuple[int, dict]]:
        """Rows `offset` to `offset + limit` of the file (of those `operator` took out, if given), each
        with its line number."""
        index = self.of(path)
        if index is None:
            return []
        return index.read(index.positions(operator)[offset:offset + limit])

    def count(self, path: Path, operator: str | None = None) -> int:
        index = self.of(path)
        return 0 if index is None else len(index.positions(operator))
