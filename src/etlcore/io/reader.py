"""Stream a corpus as Arrow tables of at most `batch_size` rows, and every unreadable row beside them.

Formats: JSON Lines (`.jsonl`, `.ndjson`, `.json`), Parquet (`.parquet`), plain text (`.txt`, one
document per line), each optionally `.gz` or `.zst` compressed (Parquet compresses inside the file).
An input may be a file, a folder (searched recursively, files sorted by path) or a glob.

Each table holds the text column as `string`, the id column as `string` (a row without one gets
`<source>:<line>`), and every other field as its own column with the type Arrow infers for it.
Blank lines are not rows. A row that cannot be read becomes an `InvalidRow` and never stops the run.
"""

from __future__ import annotations

import base64
import glob
import gzip
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import zstandard

from etlcore.errors import EtlError, json_kind

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
FORMATS = {**dict.fromkeys(JSONL_SUFFIXES, "jsonl"), ".parquet": "parquet", ".txt": "txt"}
COMPRESSIONS = (".gz", ".zst")
_MISSING = object()


@dataclass(frozen=True)
class ReadOptions:
    text_column: str = "text"
    id_column: str = "id"
    batch_size: int = 10_000
    max_line_bytes: int = 16 * 1024 * 1024


@dataclass(frozen=True)
class InputFile:
    path: Path
    source: str  # stable display name: relative to the folder or glob root it was found under
    format: str
    compression: str | None


@dataclass
class InvalidRow:
    source: str
    line: int
    reason: str
    raw: bytes

    def to_json(self) -> dict[str, Any]:
        try:
            raw, encoding = self.raw.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            raw, encoding = base64.b64encode(self.raw).decode("ascii"), "base64"
        return {"source": self.source, "line": self.line, "reason": self.reason,
                "raw": raw, "raw_encoding": encoding}


@dataclass
class Batch:
    table: pa.Table
    invalid: list[InvalidRow] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return self.table.num_rows + len(self.invalid)


def file_format(path: Path) -> tuple[str, str | None] | None:
    """(format, compression) from the file name, or None when it is not a corpus file."""
    suffixes = [s.lower() for s in path.suffixes[-2:]]
    compression = suffixes[-1] if suffixes and suffixes[-1] in COMPRESSIONS else None
    if compression:
        suffixes = suffixes[:-1]
    fmt = FORMATS.get(suffixes[-1]) if suffixes else None
    if fmt is None or (fmt == "parquet" and compression):
        return None
    return fmt, compression


def expand_inputs(inputs: list[str | Path]) -> list[InputFile]:
    """Every corpus file named by the inputs, in a stable order. Raises EtlError if one names none."""
    files: list[InputFile] = []
    for given in inputs:
        given = str(given)
        if glob.has_magic(given):
            root = Path(given.split("*")[0].split("?")[0].split("[")[0])
            root = root if given.endswith("/") or root.is_dir() else root.parent
            candidates = [(Path(p), root) for p in sorted(glob.glob(given, recursive=True))]
        elif Path(given).is_dir():
            root = Path(given)
            candidates = [(p, root) for p in sorted(root.rglob("*")) if p.is_file()]
        elif Path(given).is_file():
            path = Path(given)
            if file_format(path) is None:
                raise EtlError(f"input {given}: unsupported file type; supported: "
                               f"{', '.join(FORMATS)} (optionally .gz or .zst, not for .parquet)")
            candidates = [(path, path.parent)]
        else:
            raise EtlError(f"input not found: {given}")
        found = []
        for path, root in candidates:
            kind = file_format(path)
            if kind and path.is_file():
                found.append(InputFile(path, path.relative_to(root).as_posix(), *kind))
        if not found:
            raise EtlError(f"input {given}: no corpus files found (looked for {', '.join(FORMATS)})")
        files += found
    return files


@dataclass
class Chunk:
    """Up to `batch_size` rows of one file, not parsed yet: raw lines, or a Parquet record batch.
    Cutting a file into chunks is cheap and sequential; parsing them (`parse_chunk`) can run anywhere."""

    file: InputFile
    lines: bytes = b""  # raw lines, newlines included: one object is cheap to send to a worker
    first_line: int = 1  # the number of the first of them
    span: tuple[int, int] | None = None  # or where they are in an uncompressed file: (offset, length)
    record_batch: pa.RecordBatch | None = None
    first_row: int = 1
    error: InvalidRow | None = None  # the file became unreadable after these rows
    size: int = 0  # bytes of the input file it stands for (estimated for Parquet), for progress


def read_chunks(files: list[InputFile], options: ReadOptions) -> Iterator[Chunk]:
    """Stream the files as chunks; a chunk never spans two files."""
    for file in files:
        reader = _parquet_chunks if file.format == "parquet" else _line_chunks
        yield from reader(file, options)


def parse_chunk(chunk: Chunk, options: ReadOptions) -> Batch:
    if chunk.record_batch is not None:
        table = pa.Table.from_batches([chunk.record_batch])
        lines = range(chunk.first_row, chunk.first_row + table.num_rows)
        return check_table(table, chunk.file.source, lines, options.text_column, options.id_column)
    builder = _BatchBuilder(chunk.file, options)
    lines = chunk.lines
    if chunk.span:
        with open(chunk.file.path, "rb") as stream:
            lines = os.pread(stream.fileno(), chunk.span[1], chunk.span[0])
    for line, raw in enumerate(lines.split(b"\n"), chunk.first_line):
        raw = raw.rstrip(b"\r")
        if raw.strip():
            builder.add_line(line, raw)
    if chunk.error:
        builder.invalid.append(chunk.error)
    return builder.build()


def read_batches(files: list[InputFile], options: ReadOptions) -> Iterator[Batch]:
    """Stream the files as parsed batches, in one process."""
    return (parse_chunk(chunk, options) for chunk in read_chunks(files, options))


def _open(file: InputFile) -> IO[bytes]:
    if file.compression == ".gz":
        return gzip.open(file.path, "rb")
    if file.compression == ".zst":
        raw = open(file.path, "rb")  # noqa: SIM115 - closed by the stream reader
        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw, closefd=True))
    return open(file.path, "rb")


class _BatchBuilder:
    """Parses the lines of one chunk into rows (text, id, other fields), then one Arrow table."""

    def __init__(self, file: InputFile, options: ReadOptions) -> None:
        self.file, self.options = file, options
        self.texts: list[str] = []
        self.ids: list[str] = []
        self.others: list[dict[str, Any]] = []
        self.columns: dict[str, None] = {}  # column order of first appearance
        self.invalid: list[InvalidRow] = []

    def add_invalid(self, line: int, reason: str, raw: bytes) -> None:
        self.invalid.append(InvalidRow(self.file.source, line, reason, raw))

    def add_line(self, line: int, raw: bytes) -> None:
        if len(raw) > self.options.max_line_bytes:
            self.add_invalid(line, f"line is {len(raw)} bytes, over the limit of "
                                   f"{self.options.max_line_bytes} (--max-line-bytes)", raw)
        elif self.file.format == "txt":
            self._add_text_line(line, raw)
        else:
            self._add_json_line(line, raw)

    def _add_text_line(self, line: int, raw: bytes) -> None:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.add_invalid(line, f"broken UTF-8 at byte offset {exc.start}", raw)
            return
        self.texts.append(text)
        self.ids.append(f"{self.file.source}:{line}")
        self.others.append({})

    def _add_json_line(self, line: int, raw: bytes) -> None:
        try:
            row = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            try:
                raw.decode("utf-8")
                reason = f"invalid JSON: {exc}"
            except UnicodeDecodeError as bad:
                reason = f"broken UTF-8 at byte offset {bad.start}"
            self.add_invalid(line, reason, raw)
            return
        if not isinstance(row, dict):
            self.add_invalid(line, f"not a JSON object (got {json_kind(row)})", raw)
            return
        text_column, id_column = self.options.text_column, self.options.id_column
        text = row.get(text_column, _MISSING)
        if text is _MISSING:
            self.add_invalid(line, f"missing text field '{text_column}'", raw)
            return
        if not isinstance(text, str):
            self.add_invalid(line, f"text field '{text_column}' is not a string (got {json_kind(text)})", raw)
            return
        for key in row:
            self.columns.setdefault(key)
        self.texts.append(text)
        self.ids.append(_id_text(row.get(id_column), self.file.source, line))
        self.others.append(row)

    def build(self) -> Batch:
        text_column, id_column = self.options.text_column, self.options.id_column
        columns = {text_column: pa.array(self.texts, pa.string()), id_column: pa.array(self.ids, pa.string())}
        order = list(self.columns) or [text_column]
        if id_column not in self.columns:
            order.insert(0, id_column)
        arrays = [columns[name] if name in columns else _infer_column([r.get(name) for r in self.others])
                  for name in order]
        return Batch(pa.table(arrays, names=order), self.invalid)


_BLOCK_BYTES = 8 * 1024 * 1024


def _line_chunks(file: InputFile, options: ReadOptions) -> Iterator[Chunk]:
    """Chunks of at most `batch_size` lines. Uncompressed files are read in 8 MB blocks cut at
    newlines found with numpy, so that this sequential step stays far faster than parsing."""
    if file.compression:
        yield from _compressed_line_chunks(file, options)
        return
    next_line, offset = 1, 0
    with open(file.path, "rb") as stream:
        while block := stream.read(_BLOCK_BYTES):
            if not block.endswith(b"\n"):
                block += stream.readline()
            newlines = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 0x0A)
            start = 0
            for cut in [*(newlines[options.batch_size - 1:: options.batch_size] + 1).tolist(), len(block)]:
                if cut > start:
                    # The worker reads the lines itself: they need not travel through a pipe.
                    yield Chunk(file, first_line=next_line, span=(offset + start, cut - start), size=cut - start)
                    next_line += int(np.searchsorted(newlines, cut) - np.searchsorted(newlines, start))
                    start = cut
            offset += len(block)


def _compressed_line_chunks(file: InputFile, options: ReadOptions) -> Iterator[Chunk]:
    """Line by line, so that every line before a corrupt or truncated part is kept."""
    lines: list[bytes] = []
    first_line, line = 1, 0
    error = None
    try:
        with _open(file) as stream:
            for line, raw in enumerate(stream, 1):
                lines.append(raw)
                if len(lines) >= options.batch_size:
                    data = b"".join(lines)
                    yield Chunk(file, data, first_line, size=len(data))
                    lines, first_line = [], line + 1
    except (OSError, EOFError, zstandard.ZstdError) as exc:
        # What was read stands; the rest of the file is one invalid entry.
        error = InvalidRow(file.source, line + 1, f"file unreadable after line {line}: {exc}", b"")
    if lines or error:
        data = b"".join(lines)
        yield Chunk(file, data, first_line, error=error, size=len(data))


def _parquet_chunks(file: InputFile, options: ReadOptions) -> Iterator[Chunk]:
    first_row = 1
    try:
        parquet = pq.ParquetFile(file.path)
        bytes_per_row = file.path.stat().st_size / max(1, parquet.metadata.num_rows)
        # A row group at a time (iter_batches may buffer the whole file): memory is one row group.
        for group in range(parquet.num_row_groups):
            for record_batch in parquet.read_row_group(group).to_batches(max_chunksize=options.batch_size):
                yield Chunk(file, record_batch=record_batch, first_row=first_row,
                            size=int(bytes_per_row * record_batch.num_rows))
                first_row += record_batch.num_rows
    except (OSError, pa.ArrowException) as exc:
        yield Chunk(file, error=InvalidRow(file.source, 0, f"unreadable Parquet file: {exc}", b""))


def check_table(table: pa.Table, source: str, lines: range, text_column: str, id_column: str) -> Batch:
    """Split a table (a Parquet batch, or one given in memory) into readable rows and invalid ones
    (no text column, non-string or null text); ids become strings, missing ones `<source>:<line>`."""
    if text_column not in table.column_names:
        return _all_invalid(table, source, lines, f"missing text field '{text_column}'")
    text_type = table.schema.field(text_column).type
    if not (pa.types.is_string(text_type) or pa.types.is_large_string(text_type)):
        return _all_invalid(table, source, lines, f"text field '{text_column}' is not a string (got {text_type})")
    table = table.set_column(table.column_names.index(text_column), text_column,
                             table[text_column].cast(pa.string()))
    null_text = pc.is_null(table[text_column])
    invalid = []
    if pc.any(null_text).as_py():
        bad = table.filter(null_text)
        bad_lines = [lines[i] for i in pc.indices_nonzero(null_text).to_pylist()]
        invalid = _invalid_rows(bad, source, bad_lines, f"text field '{text_column}' is null")
        valid_lines = [lines[i] for i in pc.indices_nonzero(pc.invert(null_text)).to_pylist()]
        table = table.filter(pc.invert(null_text))
    else:
        valid_lines = list(lines)
    fallback = pa.array([f"{source}:{line}" for line in valid_lines], pa.string())
    if id_column in table.column_names:
        ids = pc.coalesce(_ids_as_text(table[id_column]), fallback)
        table = table.set_column(table.column_names.index(id_column), id_column, ids)
    else:
        table = table.add_column(0, id_column, fallback)
    return Batch(table, invalid)


def _all_invalid(table: pa.Table, source: str, lines: range, reason: str) -> Batch:
    return Batch(pa.table({}), _invalid_rows(table, source, list(lines), reason))


def _invalid_rows(table: pa.Table, source: str, lines: list[int], reason: str) -> list[InvalidRow]:
    return [InvalidRow(source, line, reason, orjson.dumps(row, default=str))
            for line, row in zip(lines, table.to_pylist())]


def _ids_as_text(ids: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type):
        return ids.cast(pa.string())
    if pa.types.is_integer(ids.type):
        return ids.cast(pa.string())
    return pa.chunked_array([pa.array([None if v is None else orjson.dumps(v, default=str).decode()
                                       for v in ids.to_pylist()], pa.string())])


def _id_text(value: Any, source: str, line: int) -> str:
    """The id as a string: strings as they are, integers in decimal, anything else as its JSON."""
    if value is None:
        return f"{source}:{line}"
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return orjson.dumps(value).decode()


def _infer_column(values: list[Any]) -> pa.Array:
    """An Arrow column for one JSON field; a field whose values mix types is kept as JSON text."""
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return pa.array([None if v is None else orjson.dumps(v).decode() for v in values], pa.string())
