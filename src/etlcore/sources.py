"""What one pass over the data reads: the input files, or the Parquet a previous pass wrote.

A source turns into payloads (chunks of input, or tables read back) for the workers. The local engine
reads a source in order in the main process; the Ray engine hands each of its `parts` to a read task.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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


Source = InputSource | ParquetSource
