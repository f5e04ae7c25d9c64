"""Stream a corpus as Arrow tables of at most `batch_size` rows, and every unreadable row beside them.

Formats: JSON Lines (`.jsonl`, `.ndjson`, `.json`), Parquet (`.parquet`), plain text (`.txt`, one
document per line), each optionally `.gz` or `.zst` compressed (Parquet compresses inside the file).
An input may be a file, a folder (searched recursively, files sorted by path) or a glob.

Each table holds the text column as `string`, the id column as `string` (a row without one gets
`<source>:<line>`), and every other field as its own column with the type Arrow infers for it, when
that type holds every value of the batch exactly; otherwise (mixed types, objects with different keys,
integers beyond 64 bits) the column is JSON text, marked as such in its field metadata (`JSON_TEXT`) so
that writers put the values back as JSON. Blank lines are not rows; a UTF-8 byte order mark opening a
file is not part of its first row. A row that cannot be read, or nests deeper than `MAX_NESTING`,
becomes an `InvalidRow` and never stops the run.
"""

from __future__ import annotations

import base64
import codecs
import dataclasses
import glob
import gzip
import io
import json
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
import pyarrow.parquet as pq
import zstandard

from etlcore.errors import EtlError, json_kind

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
FORMATS = {**dict.fromkeys(JSONL_SUFFIXES, "jsonl"), ".parquet": "parquet", ".txt": "txt"}
COMPRESSIONS = (".gz", ".zst")
_MISSING = object()

# The deepest a field may nest arrays and objects (`[[1]]` is 2): every output and checkpoint holds it.
# Parquet readers refuse a schema nested more than 100 levels and an array takes two of them (49 arrays
# are the most a Parquet file written by Arrow can be read back with); orjson writes at most 254.
MAX_NESTING = 48
# Field metadata of a column whose strings are JSON texts of the values (a field of mixed types).
JSON_TEXT = {b"etlcore": b"json"}
# orjson reads an integer beyond 64 bits as a float: a line holding this many digits in a row is read
# again by the standard library, which keeps every digit (only when the batch holds floats).
_LONG_DIGITS = re.compile(rb"[0-9]{19}")


BLOCK_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class ReadOptions:
    text_column: str = "text"
    id_column: str = "id"
    batch_size: int = 10_000
    max_line_bytes: int = 16 * 1024 * 1024
    block_bytes: int = BLOCK_BYTES  # an uncompressed JSON Lines file is read in blocks of this size (each a chunk)


@dataclass(frozen=True)
class InputFile:
    path: Path
    source: str  # stable display name: relative to the folder or glob root it was found under
    format: str
    compression: str | None
    number: int = 0  # its place among the run's input files (the order rows are read in)


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
    lines: Sequence[int] = ()  # the line (or row) number of each row of `table` in its file

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


WORK_DIR_SUFFIX = ".etlcore"  # a run's default work dir is OUTPUT.etlcore/
TASK_MARKER = ".etlcore-task"  # in each task's folder (its output, work dir and report), whatever its name
FOLDER_MARKER = ".etlcore-folder"  # in each work dir and report folder a run or an analysis made, whatever its name


def etlcore_made(path: Path, root: Path) -> bool:
    """Whether a file found in a folder or by a glob is etlcore's own: inside a work dir (`*.etlcore/`:
    results, rejects, invalid rows, checkpoints), an output (a file with its `NAME.etlcore/` beside it), or
    a temporary file (`.NAME.*tmp-PID`), or a folder etlcore made (holding `FOLDER_MARKER`: a work dir or
    report folder of any name) or a task's folder (holding `TASK_MARKER`: a task's work path may lie inside
    another task's input folder). A folder walk never reads these back."""
    if path.name.startswith(".") and "tmp-" in path.name:
        return True
    if (path.parent / (path.name + WORK_DIR_SUFFIX)).is_dir():
        return True
    folders = path.relative_to(root).parts[:-1]
    if any(part.endswith(WORK_DIR_SUFFIX) for part in folders):
        return True
    return any((root.joinpath(*folders[:depth]) / marker).exists()
               for depth in range(1, len(folders) + 1) for marker in (TASK_MARKER, FOLDER_MARKER))


def expand_inputs(inputs: list[str | Path], skip: Sequence[Path] = ()) -> list[InputFile]:
    """Every corpus file named by the inputs, in a stable order. Raises EtlError if one names none.
    Folders and globs leave out what etlcore itself wrote (`etlcore_made`) and the files in `skip` (this
    run's earlier output, wherever it is); a file named as such is read."""
    files: list[InputFile] = []
    skipped = [path.resolve() for path in skip]
    for given in inputs:
        given = str(given)
        if not given.strip():  # an unset shell variable: never walk the current folder for it
            raise EtlError(f"an input is an empty path ({given!r}); name a file, folder or glob")
        # A name that exists is that file or folder, even with glob characters in it (x[1].jsonl).
        if glob.has_magic(given) and not Path(given).exists():
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
        elif Path(given).exists():  # /dev/null, a pipe, a socket: nothing to read rows from by offsets
            raise EtlError(f"input {given}: not a regular file or a folder; save the corpus to a file first")
        else:
            raise EtlError(f"input not found: {given}")
        found = []
        searched = not Path(given).is_file()  # a folder or a glob
        for path, root in candidates:
            kind = file_format(path)
            if kind and path.is_file() and not (searched and (etlcore_made(path, root) or path.resolve() in skipped)):
                found.append(InputFile(path, path.relative_to(root).as_posix(), *kind))
        if not found:
            raise EtlError(f"input {given}: no corpus files found (looked for {', '.join(FORMATS)})")
        files += found
    return [dataclasses.replace(file, number=number) for number, file in enumerate(files)]


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
    lines = chunk.lines
    if chunk.span:
        with open(chunk.file.path, "rb") as stream:
            lines = os.pread(stream.fileno(), chunk.span[1], chunk.span[0])
    if chunk.first_line == 1 and lines.startswith(codecs.BOM_UTF8):  # the file's start: not part of a row
        lines = lines[len(codecs.BOM_UTF8):]
    if chunk.file.format == "jsonl" and not chunk.error:
        batch = parse_whole_chunk(chunk.file, options, lines, chunk.first_line)
        if batch is not None:
            return batch
    batch = parse_line_by_line(chunk.file, options, lines, chunk.first_line)
    if chunk.error:
        batch.invalid.append(chunk.error)
    return batch


def parse_line_by_line(file: InputFile, options: ReadOptions, lines: bytes, first_line: int) -> Batch:
    """Each line parsed on its own: a bad line becomes an `InvalidRow` and costs no other line anything."""
    builder = _BatchBuilder(file, options, lines, first_line)
    for line, raw in enumerate(lines.split(b"\n"), first_line):
        raw = raw.rstrip(b"\r")
        if raw.strip():
            builder.add_line(line, raw)
    return builder.build()


def parse_whole_chunk(file: InputFile, options: ReadOptions, lines: bytes, first_line: int) -> Batch | None:
    """The chunk parsed by pyarrow in one call, when that gives exactly what parsing it line by line gives;
    None when it may not (the caller then parses line by line, so one bad line costs only itself).

    Taken only when every line is one JSON object (`{` first and `}` last, none blank, none over the size
    limit), pyarrow reads one row per line, and every type holds its values exactly: strings, 64-bit
    integers, booleans, nulls, arrays, and objects where every one has every key with a value. Numbers
    with a fraction or beyond 64 bits, timestamps (pyarrow reads ISO dates as such), mixed types and
    anything pyarrow refuses are left to the line parser, which keeps them exact."""
    if not lines:
        return None
    data = np.frombuffer(lines, dtype=np.uint8)
    ends = np.flatnonzero(data == 0x0A)
    if len(ends) == 0 or ends[-1] != len(data) - 1:
        ends = np.append(ends, len(data))
    starts = np.concatenate(([0], ends[:-1] + 1))
    if (ends - starts).max() > options.max_line_bytes or (ends == starts).any():
        return None
    if not ((data[starts] == 0x7B).all() and (data[ends - 1] == 0x7D).all()):  # `{` ... `}`
        return None
    try:
        table = pj.read_json(pa.BufferReader(lines), read_options=pj.ReadOptions(
            block_size=max(1 << 20, int((ends - starts).max()) + 2)))
        # pyarrow.json lets broken UTF-8 into strings, and builds `[null]` wrong: this finds both.
        table.validate(full=True)
    except pa.ArrowException:
        return None
    if table.num_rows != len(starts):  # two objects on one line
        return None
    text_column, id_column = options.text_column, options.id_column
    names = table.column_names
    if text_column not in names or table.schema.field(text_column).type != pa.string():
        return None
    if table[text_column].null_count:
        return None
    for column in table.itercolumns():
        if not _holds_exactly(column):
            return None
    columns = [table[name] for name in names]
    fields = list(table.schema)
    identifiers = table[id_column] if id_column in names else None
    if identifiers is not None and not (pa.types.is_string(identifiers.type) or identifiers.type == pa.int64()
                                        or pa.types.is_null(identifiers.type)):
        return None
    if identifiers is None or identifiers.null_count:
        fallback = pa.array([f"{file.source}:{line}" for line in range(first_line, first_line + len(starts))],
                            pa.string())
        identifiers = fallback if identifiers is None else pc.coalesce(identifiers.cast(pa.string()), fallback)
    else:
        identifiers = identifiers.cast(pa.string())
    if id_column in names:
        position = names.index(id_column)
        columns[position], fields[position] = identifiers, pa.field(id_column, pa.string())
    else:
        columns.insert(0, identifiers)
        fields.insert(0, pa.field(id_column, pa.string()))
    return Batch(pa.Table.from_arrays(columns, schema=pa.schema(fields)),
                 lines=range(first_line, first_line + len(starts)))


def _holds_exactly(column: pa.ChunkedArray | pa.Array) -> bool:
    """Whether a column pyarrow read holds its JSON values as the line parser would (see `_typed_column`)."""
    if type_nesting(column.type) > MAX_NESTING:
        return False
    stack = [column.type]
    while stack:  # no fractions, timestamps or objects without keys anywhere in the type
        item = stack.pop()
        if pa.types.is_struct(item):
            if item.num_fields == 0:
                return False
            stack.extend(item.field(i).type for i in range(item.num_fields))
        elif pa.types.is_list(item):
            stack.append(item.value_type)
        elif not (pa.types.is_string(item) or item == pa.int64() or pa.types.is_boolean(item)
                  or pa.types.is_null(item)):
            return False
    return not _has_struct_child_nulls(column)


def _has_struct_child_nulls(column: pa.ChunkedArray | pa.Array) -> bool:
    """Whether some object lacks a key (or has it null: pyarrow does not tell them apart); the line parser
    then keeps the field as JSON text, so that no key is added on output."""
    arrays = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    pending = [array for array in arrays if _nests_struct(array.type)]
    while pending:
        array = pending.pop()
        if pa.types.is_struct(array.type):
            for index in range(array.type.num_fields):
                child = pc.struct_field(array, [index])  # null where the object itself is null
                if child.null_count > array.null_count:
                    return True
                if _nests_struct(child.type):
                    pending.append(child)
        elif pa.types.is_list(array.type):
            pending.append(array.flatten())
    return False


def _nests_struct(arrow_type: pa.DataType) -> bool:
    if pa.types.is_struct(arrow_type):
        return True
    return pa.types.is_list(arrow_type) and _nests_struct(arrow_type.value_type)


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

    def __init__(self, file: InputFile, options: ReadOptions, chunk_lines: bytes, first_line: int) -> None:
        self.file, self.options = file, options
        self.chunk_lines, self.first_line = chunk_lines, first_line
        self.texts: list[str] = []
        self.ids: list[str] = []
        self.others: list[dict[str, Any]] = []
        self.lines: list[int] = []  # of the rows
        self.columns: dict[str, None] = {}  # column order of first appearance
        self.invalid: list[InvalidRow] = []
        self.float_ids = False  # an id read as a float may be an integer beyond 64 bits

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
        self.lines.append(line)

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
        identifier = row.get(id_column)
        if isinstance(identifier, (dict, list)) and _nests_deeper(identifier, MAX_NESTING):
            self.add_invalid(line, _too_deep(id_column), raw)
            return
        for key in row:
            self.columns.setdefault(key)
        if type(identifier) is float:
            self.float_ids = True
        self.texts.append(text)
        self.ids.append(_id_text(identifier, self.file.source, line))
        self.others.append(row)
        self.lines.append(line)

    def build(self) -> Batch:
        text_column, id_column = self.options.text_column, self.options.id_column
        names = [name for name in self.columns if name not in (text_column, id_column)]
        typed = {name: _typed_column([row.get(name) for row in self.others]) for name in names}
        if self._drop_deep_rows(typed):
            typed = {name: _typed_column([row.get(name) for row in self.others]) for name in typed}
        if self._read_big_integers(typed):
            typed = {name: _typed_column([row.get(name) for row in self.others]) for name in typed}
        columns = {text_column: pa.array(self.texts, pa.string()), id_column: pa.array(self.ids, pa.string())}
        order = list(self.columns) or [text_column]
        if id_column not in self.columns:
            order.insert(0, id_column)
        fields, arrays = [], []
        for name in order:
            array = columns.get(name)
            if array is None:
                array = typed[name]
            if array is None:  # no Arrow type holds these values exactly: JSON text
                fields.append(pa.field(name, pa.string(), metadata=JSON_TEXT))
                arrays.append(json_text_array([row.get(name) for row in self.others]))
            else:
                fields.append(pa.field(name, array.type))
                arrays.append(array)
        self.invalid.sort(key=lambda row: row.line)
        return Batch(pa.Table.from_arrays(arrays, schema=pa.schema(fields)), self.invalid, self.lines)

    def _drop_deep_rows(self, typed: dict[str, pa.Array | None]) -> bool:
        """Move the rows nesting deeper than MAX_NESTING to the invalid ones. Only the columns whose type
        is that deep (or that have no type) need a look at their values."""
        deep: dict[int, str] = {}
        for name, array in typed.items():
            if array is not None:  # its type is no deeper than MAX_NESTING
                continue
            for position, row in enumerate(self.others):
                if position not in deep and _nests_deeper(row.get(name), MAX_NESTING):
                    deep[position] = _too_deep(name)
        raws = self._raw_lines() if deep else []
        for position, reason in deep.items():
            self.add_invalid(self.lines[position], reason, raws[self.lines[position] - self.first_line])
        if deep:
            for rows in (self.texts, self.ids, self.others, self.lines):
                rows[:] = [row for position, row in enumerate(rows) if position not in deep]
            kept = {key: None for row in self.others for key in row}  # a field only the dropped rows had goes
            for name in [name for name in typed if name not in kept]:
                del typed[name], self.columns[name]
        return bool(deep)

    def _read_big_integers(self, typed: dict[str, pa.Array | None]) -> bool:
        """Read again, keeping every digit, the rows where orjson may have turned an integer beyond 64 bits
        into a float: only in a batch whose ids or columns hold floats (or have no type)."""
        if not (self.float_ids or any(array is None or _holds_floats(array.type) for array in typed.values())):
            return False
        changed = False
        raws = self._raw_lines()
        for position, line in enumerate(self.lines):
            raw = raws[line - self.first_line]
            if _LONG_DIGITS.search(raw):
                row = json.loads(raw)  # orjson read it, so it is valid JSON: only the integers differ
                self.others[position] = row
                self.ids[position] = _id_text(row.get(self.options.id_column), self.file.source,
                                              self.lines[position])
                changed = True
        return changed

    def _raw_lines(self) -> list[bytes]:
        """The chunk's lines again, as `parse_chunk` cut them: kept only while a row needs them."""
        return [raw.rstrip(b"\r") for raw in self.chunk_lines.split(b"\n")]


def _line_chunks(file: InputFile, options: ReadOptions) -> Iterator[Chunk]:
    """Chunks of at most `batch_size` lines. Uncompressed files are read in `block_bytes` blocks (each completed to
    its next newline) cut at newlines found with numpy, so that this sequential step stays far faster
    than parsing. Every block is read into the same buffer, and its newlines marked in the same array:
    memory used again costs nothing, where fresh memory for each block cost more than finding newlines."""
    if file.compression:
        yield from _compressed_line_chunks(file, options)
        return
    next_line, offset = 1, 0
    buffer = bytearray(options.block_bytes)
    is_newline = np.empty(options.block_bytes, dtype=np.bool_)
    with open(file.path, "rb") as stream:
        while read := stream.readinto(buffer):
            tail = b"" if buffer[read - 1] == 0x0A else stream.readline()  # the rest of the block's last line
            np.equal(np.frombuffer(buffer, dtype=np.uint8, count=read), 0x0A, out=is_newline[:read])
            newlines = np.flatnonzero(is_newline[:read])
            if tail.endswith(b"\n"):
                newlines = np.append(newlines, read + len(tail) - 1)
            length = read + len(tail)
            start = 0
            for cut in [*(newlines[options.batch_size - 1:: options.batch_size] + 1).tolist(), length]:
                if cut > start:
                    # The worker reads the lines itself: they need not travel through a pipe.
                    yield Chunk(file, first_line=next_line, span=(offset + start, cut - start), size=cut - start)
                    next_line += int(np.searchsorted(newlines, cut) - np.searchsorted(newlines, start))
                    start = cut
            offset += length


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
    table = _trusted_json_text(table)
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
    return Batch(table, invalid, valid_lines)


def is_json_text(field: pa.Field) -> bool:
    return field.metadata is not None and field.metadata.get(b"etlcore") == JSON_TEXT[b"etlcore"]


def _trusted_json_text(table: pa.Table) -> pa.Table:
    """A Parquet input may mark a column as JSON text (an etlcore output does): the mark stays only when
    every value is JSON, so that no writer puts anything else in a JSON Lines file."""
    for position, column in enumerate(table.schema):
        if is_json_text(column) and not (pa.types.is_string(column.type)
                                         and _all_json(table[column.name].to_pylist())):
            table = table.set_column(position, pa.field(column.name, column.type), table[column.name])
    return table


def _all_json(texts: list[str | None]) -> bool:
    try:
        for text in texts:
            if text is not None:
                orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


def _all_invalid(table: pa.Table, source: str, lines: range, reason: str) -> Batch:
    return Batch(pa.table({}), _invalid_rows(table, source, list(lines), reason))


def _invalid_rows(table: pa.Table, source: str, lines: list[int], reason: str) -> list[InvalidRow]:
    return [InvalidRow(source, line, reason, orjson.dumps(row, default=str))
            for line, row in zip(lines, table.to_pylist())]


def _ids_as_text(ids: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type):
        return ids.cast(pa.string())
    if pa.types.is_integer(ids.type) or (pa.types.is_decimal(ids.type) and ids.type.scale == 0):
        return ids.cast(pa.string())  # in decimal, every digit (a Parquet id beyond 64 bits is a decimal)
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
    return json_text(value)


def _too_deep(name: str) -> str:
    return f"field '{name}' is nested more than {MAX_NESTING} levels deep (arrays and objects)"


def _typed_column(values: list[Any]) -> pa.Array | None:
    """An Arrow column holding exactly these JSON values, or None when no Arrow type does."""
    try:
        array = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return None
    if type_nesting(array.type) > MAX_NESTING:  # rows to drop (and no recursion into such a type)
        return None
    return array if _exact(values, array.type) else None


def _exact(values: list[Any], arrow_type: pa.DataType) -> bool:
    """Whether `arrow_type` (inferred by Arrow from `values`) gives the values back as they are: Arrow turns
    integers and booleans among fractions into doubles (2 would be written back as 2.0) and fills the keys
    an object lacks with nulls; Parquet cannot hold an object without keys."""
    if pa.types.is_floating(arrow_type):
        return all(type(value) is float for value in values if value is not None)
    if pa.types.is_struct(arrow_type):
        keys = arrow_type.num_fields
        objects = [value for value in values if value is not None]
        if keys == 0 or any(len(value) != keys for value in objects):
            return False
        return all(_exact([value[field.name] for value in objects], field.type)
                   for field in arrow_type if _needs_check(field.type))
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        if not _needs_check(arrow_type.value_type):
            return True
        return _exact([item for value in values if value is not None for item in value], arrow_type.value_type)
    return True


def _needs_check(arrow_type: pa.DataType) -> bool:
    if pa.types.is_floating(arrow_type) or pa.types.is_struct(arrow_type):
        return True
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return _needs_check(arrow_type.value_type)
    return False


def _holds_floats(arrow_type: pa.DataType) -> bool:
    if pa.types.is_floating(arrow_type):
        return True
    return any(_holds_floats(arrow_type.field(i).type) for i in range(arrow_type.num_fields))


def type_nesting(arrow_type: pa.DataType) -> int:
    """How many levels of lists and structs (JSON arrays and objects) a type nests; past MAX_NESTING it
    stops counting (without recursion: a type may nest 1,000 levels)."""
    deepest, stack = 0, [(arrow_type, 0)]
    while stack and deepest <= MAX_NESTING:
        item, depth = stack.pop()
        if pa.types.is_struct(item) or item.num_fields:
            deepest = max(deepest, depth + 1)
            stack.extend((item.field(i).type, depth + 1) for i in range(item.num_fields))
    return deepest


def _nests_deeper(value: Any, limit: int) -> bool:
    """Whether a JSON value nests arrays and objects more than `limit` levels (without recursion: a line
    may nest 1,000 levels)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth == limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def json_text(value: Any) -> str:
    """A JSON value as compact JSON text; integers beyond 64 bits keep their digits."""
    try:
        return orjson.dumps(value, default=str).decode()  # str: what JSON lacks (a Parquet input's decimals)
    except orjson.JSONEncodeError:  # an integer orjson cannot write
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def json_text_array(values: list[Any]) -> pa.Array:
    return pa.array([None if value is None else json_text(value) for value in values], pa.string())
