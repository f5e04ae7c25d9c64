"""Write tables as JSON Lines or Parquet, chosen by extension, always atomically.

Every sink writes to a hidden temporary name beside the target and renames it at `commit()`, so an
interrupted run never leaves a file that looks complete; `abort()` removes the temporary file.
"""

from __future__ import annotations

import base64
import gzip
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any, BinaryIO

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from etlcore import processes
from etlcore.errors import EtlError
from etlcore.io.reader import JSON_TEXT, is_json_text, json_text_array


def temporary_name(path: Path, tag: str = "") -> Path:
    return path.with_name(f".{path.name}.{tag}tmp-{os.getpid()}")


def remove_stale_temporaries(folder: Path, pattern: str = "**/.*tmp-*") -> None:
    """Delete the temporary files (`pattern` in `folder`) that a killed run left: their process is gone."""
    for path in folder.glob(pattern):
        pid = path.name.rsplit("tmp-", 1)[1]
        if pid.isdigit() and int(pid) != os.getpid() and not processes.alive(int(pid)):
            path.unlink(missing_ok=True)


def create_file(path: Path) -> BinaryIO:
    """A new, empty file at `path` (a temporary name of this process's own) for writing. Whatever stands
    at that name goes first, and the file is created, never opened through a symlink: a symlink planted
    there in between makes this fail instead of writing where it leads."""
    path.unlink(missing_ok=True)
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666), "wb")


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_name(path)
    with create_file(temporary) as file:
        file.write(data)
    os.replace(temporary, path)


def json_default(value: Any) -> Any:
    """What orjson cannot write itself: bytes as base64, anything else (a decimal, say) as its text."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return str(value)


def jsonl_bytes(rows: Iterable[dict[str, Any]]) -> bytes:
    option = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS
    return b"".join(orjson.dumps(row, default=json_default, option=option) for row in rows)


# From this many rows on, a table is encoded column by column (`jsonl_encoder`, the same bytes): loading its
# numba kernels (about 0.5 s, once per process) is repaid after a few such tables.
COLUMNWISE_FROM_ROWS = 2_000


def table_jsonl(table: pa.Table) -> bytes:
    """A table as JSON Lines, one object per row, columns in table order (JSON text columns as the JSON
    they hold)."""
    if table.num_rows < COLUMNWISE_FROM_ROWS:
        return encode_rows(table)
    from etlcore.io.jsonl_encoder import encode_table  # numba: loaded only when it pays

    return encode_table(table)


def encode_rows(table: pa.Table) -> bytes:
    """A table as JSON Lines, row by row: each row a dict (a JSON text column's values as the JSON they
    hold, which orjson writes verbatim) through orjson."""
    columns = [[None if v is None else orjson.Fragment(v) for v in table.column(i).to_pylist()]
               if is_json_text(field) else table.column(i).to_pylist() for i, field in enumerate(table.schema)]
    return jsonl_bytes(dict(zip(table.column_names, values)) for values in zip(*columns))


class JsonlSink:
    """JSON Lines, one object per row, columns in table order; `.gz` / `.zst` compress it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.temporary = temporary_name(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        raw = create_file(self.temporary)
        if path.suffix == ".gz":
            # No time stamp in the header: the same rows give the same bytes.
            self.stream: IO[bytes] = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0)
        elif path.suffix == ".zst":
            self.stream = zstandard.ZstdCompressor().stream_writer(raw)
        else:
            self.stream = raw
        self._raw = raw
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        self.write_encoded(table_jsonl(table))

    def write_rows(self, rows: Iterable[dict[str, Any]]) -> None:
        self.write_encoded(jsonl_bytes(rows))

    def write_encoded(self, data: bytes, rows: int | None = None) -> None:
        """Lines already encoded by `jsonl_bytes` (in a worker process, say); `rows`: how many, if known."""
        self.rows += data.count(b"\n") if rows is None else rows
        self.stream.write(data)

    def append_file(self, path: Path) -> None:
        """Lines of an uncompressed JSON Lines file (a checkpoint's rejects, say), streamed."""
        with open(path, "rb") as lines:
            for block in iter(lambda: lines.read(1 << 22), b""):
                self.write_encoded(block)

    def flush(self) -> None:
        self.stream.flush()

    def _close(self) -> None:
        self.stream.close()
        if not self._raw.closed:
            self._raw.close()

    def commit(self) -> None:
        self._close()
        os.replace(self.temporary, self.path)

    def abort(self) -> None:
        self._close()
        self.temporary.unlink(missing_ok=True)


class NullSink:
    """Counts rows and writes nothing: for a run that only checks its input."""

    path = None

    def __init__(self) -> None:
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        self.rows += table.num_rows

    def write_encoded(self, data: bytes, rows: int | None = None) -> None:
        self.rows += data.count(b"\n") if rows is None else rows

    def commit(self) -> None:
        pass

    def abort(self) -> None:
        pass


# Checkpoints and the deduplication spool are written once, read back once or twice and deleted: LZ4
# writes them a third faster and reads them three times faster than Snappy, at about the same size
# (the 20,000-document corpus: 21.7 MB against 20.5).
TEMPORARY_COMPRESSION = "lz4"


class ParquetSink:
    """Parquet under one schema, however the batches' types change. Each batch is conformed to the
    schema so far, widened where the batch needs it (`widen_field`): a new field, a type where there
    were only nulls, and JSON text (the reader's mark) for a field whose types cannot meet. A widened
    schema starts a new part; `commit` rewrites the parts under the last schema, which holds every
    earlier one, a row group at a time. No value is narrowed or dropped. `compression`: Parquet's
    codec; a run's own checkpoints and spool use `TEMPORARY_COMPRESSION`."""

    def __init__(self, path: Path, default_schema: pa.Schema, compression: str = "snappy") -> None:
        self.path = path
        self.compression = compression
        self.default_schema = default_schema
        self.parts: list[Path] = []
        self.writer: pq.ParquetWriter | None = None
        self._file: BinaryIO | None = None  # the part being written
        self.schema: pa.Schema | None = None
        self.rows = 0
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        conformed = conform(table, self.schema)
        if self.writer is not None and not conformed.schema.equals(self.schema, check_metadata=True):
            self._close_part()
        if self.writer is None:
            self.schema = conformed.schema
            self.parts.append(temporary_name(self.path, f"part{len(self.parts)}."))
            self._file = create_file(self.parts[-1])
            self.writer = pq.ParquetWriter(self._file, self.schema, compression=self.compression)
        self.writer.write_table(conformed)
        self.rows += table.num_rows

    def _close_part(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self._file.close()  # a writer given a file leaves closing it to its owner
            self.writer = None

    def commit(self) -> None:
        self._close_part()
        if not self.parts:
            with create_file(temporary_name(self.path)) as file:
                pq.write_table(self.default_schema.empty_table(), file, compression=self.compression)
            os.replace(temporary_name(self.path), self.path)
            return
        if len(self.parts) == 1:
            os.replace(self.parts[0], self.path)
            return
        merged = temporary_name(self.path)
        with create_file(merged) as file, pq.ParquetWriter(file, self.schema, compression=self.compression) as writer:
            for part in self.parts:
                parquet = pq.ParquetFile(part)
                for group in range(parquet.num_row_groups):  # a row group at a time: memory stays bounded
                    writer.write_table(conform(parquet.read_row_group(group), self.schema, final=True))
        os.replace(merged, self.path)
        self.abort()

    def abort(self) -> None:
        self._close_part()
        for part in self.parts:
            part.unlink(missing_ok=True)


def conform(table: pa.Table, schema: pa.Schema | None, final: bool = False) -> pa.Table:
    """`table` under `schema` widened as far as its columns need (every field of `schema` first, in its
    order, absent ones null; then the table's new fields). `final`: `schema` holds the table already."""
    if schema is None:
        return table
    fields, columns = [], []
    for field in schema:
        if field.name not in table.column_names:
            fields.append(field)
            columns.append(pa.nulls(table.num_rows, field.type))
            continue
        given = table.schema.field(field.name)
        target = field if final else widen_field(field, given)
        fields.append(target)
        columns.append(_as_field(table[field.name], given, target))
    for field in table.schema:
        if field.name not in schema.names:
            fields.append(field)
            columns.append(table[field.name])
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def widen_field(old: pa.Field, new: pa.Field) -> pa.Field:
    """The field that holds the values of both, exactly; JSON text when no Arrow type does."""
    if old.equals(new, check_metadata=True):
        return old
    merged = None if is_json_text(old) or is_json_text(new) else _widen_type(old.type, new.type)
    return pa.field(old.name, pa.string(), metadata=JSON_TEXT) if merged is None else pa.field(old.name, merged)


def _widen_type(old: pa.DataType, new: pa.DataType) -> pa.DataType | None:
    """The type holding both, or None. Nulls join anything; lists and structs join when their items and
    keys do (objects with other keys do not: their rows would gain keys); integers do not join floats
    (a JSON Lines output would write 2 as 2.0)."""
    if old.equals(new):
        return old
    if pa.types.is_null(old):
        return new
    if pa.types.is_null(new):
        return old
    for is_list, list_type in ((pa.types.is_list, pa.list_), (pa.types.is_large_list, pa.large_list)):
        if is_list(old) and is_list(new):
            item = _widen_type(old.value_type, new.value_type)
            return None if item is None else list_type(item)
    if pa.types.is_struct(old) and pa.types.is_struct(new):
        if [field.name for field in old] != [field.name for field in new]:
            return None
        children = [_widen_type(a.type, b.type) for a, b in zip(old, new)]
        if any(child is None for child in children):
            return None
        return pa.struct([pa.field(a.name, child) for a, child in zip(old, children)])
    if old.num_fields or new.num_fields:
        return None
    if pa.types.is_integer(old) != pa.types.is_integer(new):
        return None
    try:  # int32 and int64, string and large_string (Parquet inputs), ...
        return pa.unify_schemas([pa.schema([("f", old)]), pa.schema([("f", new)])],
                                promote_options="permissive").field("f").type
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None


def _as_field(column: pa.ChunkedArray, field: pa.Field, target: pa.Field) -> pa.ChunkedArray:
    if field.equals(target, check_metadata=True):
        return column
    if is_json_text(target) and not is_json_text(field):
        return pa.chunked_array([json_text_array(column.to_pylist())], pa.string())
    return column.cast(target.type)


def open_sink(path: Path, default_schema: pa.Schema) -> JsonlSink | ParquetSink:
    suffixes = [s.lower() for s in path.suffixes[-2:]]
    if suffixes and suffixes[-1] == ".parquet":
        return ParquetSink(path, default_schema)
    if suffixes and suffixes[-1] in (".gz", ".zst"):
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] in (".jsonl", ".ndjson", ".json"):
        return JsonlSink(path)
    raise EtlError(f"output {path}: unsupported extension; use .jsonl (optionally .gz/.zst) or .parquet")
