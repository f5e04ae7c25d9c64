"""What one pass over the data reads: the input files, or the Parquet a previous pass wrote.

A source turns into payloads (chunks of input, or tables read back) for the workers. The local engine
reads a source in order in the main process; the Ray engine hands each of its `parts` to a read task.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from etlcore.io.reader import Chunk, InputFile, ReadOptions, read_chunks
from etlcore.pipeline import Duplicates

# A chunk of an input file, or rows read back from Parquet (with the rows deduplication rejected
# among them, which travel along to stay in input order).
Payload = Chunk | tuple[pa.Table, pa.Table | None]


@dataclass(frozen=True)
class InputSource:
    """The input files, as chunks."""

    files: tuple[InputFile, ...]

    def payloads(self, options: ReadOptions) -> Iterator[Payload]:
        return read_chunks(list(self.files), options)

    def parts(self) -> list[InputSource]:
        """One per file: files can be read side by side."""
        return [InputSource((file,)) for file in self.files]


@dataclass(frozen=True)
class ParquetSource:
    """A pass's Parquet (a checkpoint or the deduplication spool), one row group at a time, less the
    rows deduplication rejected, which come along with their reasons."""

    path: Path
    duplicates: Duplicates | None = None
    ids: pa.Array | None = None  # of every document deduplication decided on, for the reasons

    def payloads(self, options: ReadOptions) -> Iterator[Payload]:
        if not self.path.exists():  # no row reached the pass that writes it
            return
        spooled = pq.ParquetFile(self.path)
        start = 0
        # A row group at a time: iter_batches would pre-buffer the whole file.
        for group in range(spooled.num_row_groups):
            table = spooled.read_row_group(group)
            if self.duplicates is None:
                yield table, None
                continue
            rows = table.num_rows
            rejected = self.duplicates.rejected(table, start, self.ids)
            if rejected is not None:
                table = table.filter(pa.array(self.duplicates.keep[start:start + rows]))
            start += rows
            yield table, rejected

    def parts(self) -> list[ParquetSource]:
        """Itself: positions in the deduplication decision run through the whole file."""
        return [self]


@dataclass(frozen=True)
class ParquetTexts:
    """The texts of a pass's Parquet (a checkpoint or the deduplication spool) at given row positions:
    only the row groups that hold one are read, only their text column, one at a time."""

    path: Path
    column: str

    @property
    def average_bytes(self) -> float:
        """Mean uncompressed size of a text in the file (from its metadata), for sizing reads."""
        metadata = pq.ParquetFile(self.path).metadata
        if metadata.num_rows == 0:
            return 0.0
        total = 0
        for group in range(metadata.num_row_groups):
            columns = metadata.row_group(group)
            total += sum(columns.column(c).total_uncompressed_size for c in range(columns.num_columns)
                         if columns.column(c).path_in_schema == self.column)
        return total / metadata.num_rows

    def __call__(self, positions: np.ndarray) -> pa.Array:
        """The texts at `positions` (sorted, distinct), in that order, as large strings."""
        spooled = pq.ParquetFile(self.path)
        sizes = [spooled.metadata.row_group(group).num_rows for group in range(spooled.num_row_groups)]
        starts = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
        positions = np.asarray(positions, dtype=np.int64)
        groups = np.searchsorted(starts, positions, side="right") - 1
        parts = [pa.array([], pa.large_string())]
        for group in np.unique(groups):
            texts = spooled.read_row_group(int(group), columns=[self.column]).column(0)
            local = positions[groups == group] - starts[group]
            parts.append(texts.take(pa.array(local)).combine_chunks().cast(pa.large_string()))
        return pa.concat_arrays(parts)


Source = InputSource | ParquetSource
