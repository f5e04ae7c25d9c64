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
from typing import IO, Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from etlcore.errors import EtlError


def temporary_name(path: Path, tag: str = "") -> Path:
    return path.with_name(f".{path.name}.{tag}tmp-{os.getpid()}")


def remove_stale_temporaries(folder: Path, pattern: str = "**/.*tmp-*") -> None:
    """Delete the temporary files (`pattern` in `folder`) that a killed run left: their process is gone."""
    for path in folder.glob(pattern):
        pid = path.name.rsplit("tmp-", 1)[1]
        if pid.isdigit() and int(pid) != os.getpid() and not process_alive(int(pid)):
            path.unlink(missing_ok=True)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_name(path)
    temporary.write_bytes(data)
    os.replace(temporary, path)


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return str(value)


def jsonl_bytes(rows: Iterable[dict[str, Any]]) -> bytes:
    option = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS
    return b"".join(orjson.dumps(row, default=_json_default, option=option) for row in rows)


def table_rows(table: pa.Table) -> Iterable[dict[str, Any]]:
    names = table.column_names
    columns = [table[name].to_pylist() for name in names]
    return (dict(zip(names, values)) for values in zip(*columns))


def table_jsonl(table: pa.Table) -> bytes:
    """A table as JSON Lines, one object per row, columns in table order."""
    return jsonl_bytes(table_rows(table))


class JsonlSink:
    """JSON Lines, one object per row, columns in table order; `.gz` / `.zst` compress it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.temporary = temporary_name(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        raw = open(self.temporary, "wb")  # noqa: SIM115 - closed in commit/abort
        if path.suffix == ".gz":
            self.stream: IO[bytes] = gzip.GzipFile(fileobj=raw, mode="wb")
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

    def write_encoded(self, data: bytes) -> None:
        """Lines already encoded by `jsonl_bytes` (in a worker process, say)."""
        self.rows += data.count(b"\n")
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

    def write_encoded(self, data: bytes) -> None:
        self.rows += data.count(b"\n")

    def commit(self) -> None:
        pass

    def abort(self) -> None:
        pass


class ParquetSink:
    """Parquet. Later batches are conformed to the schema of the first; when a batch brings a wider
    schema (a new field, int that must become double), a new part starts and `commit` merges the
    parts under the unified schema, so no value is ever narrowed or dropped."""

    def __init__(self, path: Path, default_schema: pa.Schema) -> None:
        self.path = path
        self.default_schema = default_schema
        self.parts: list[Path] = []
        self.writer: pq.ParquetWriter | None = None
        self.schema: pa.Schema | None = None
        self.rows = 0
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        if self.writer is not None:
            unified = pa.unify_schemas([self.schema, table.schema], promote_options="permissive")
            if not unified.equals(self.schema):
                self._close_part()
        if self.writer is None:
            self.schema = table.schema
            self.parts.append(temporary_name(self.path, f"part{len(self.parts)}."))
            self.writer = pq.ParquetWriter(self.parts[-1], self.schema)
        self.writer.write_table(_conform(table, self.schema))
        self.rows += table.num_rows

    def _close_part(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def commit(self) -> None:
        self._close_part()
        if not self.parts:
            pq.write_table(self.default_schema.empty_table(), temporary_name(self.path))
            os.replace(temporary_name(self.path), self.path)
            return
        if len(self.parts) == 1:
            os.replace(self.parts[0], self.path)
            return
        schemas = [pq.read_schema(part) for part in self.parts]
        try:
            unified = pa.unify_schemas(schemas, promote_options="permissive")
        except pa.ArrowException as exc:
            self.abort()
            raise EtlError(f"cannot write {self.path}: columns change type between batches ({exc})") from None
        merged = temporary_name(self.path)
        with pq.ParquetWriter(merged, unified) as writer:
            for part in self.parts:
                for batch in pq.ParquetFile(part).iter_batches():
                    writer.write_table(_conform(pa.Table.from_batches([batch]), unified))
        os.replace(merged, self.path)
        self.abort()

    def abort(self) -> None:
        self._close_part()
        for part in self.parts:
            part.unlink(missing_ok=True)


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """`table` with exactly `schema`'s columns, in its order; absent columns are nulls."""
    columns = [table[f.name] if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
               for f in schema]
    return pa.table(columns, names=schema.names).cast(schema)


def open_sink(path: Path, default_schema: pa.Schema) -> JsonlSink | ParquetSink:
    suffixes = [s.lower() for s in path.suffixes[-2:]]
    if suffixes and suffixes[-1] == ".parquet":
        return ParquetSink(path, default_schema)
    if suffixes and suffixes[-1] in (".gz", ".zst"):
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] in (".jsonl", ".ndjson", ".json"):
        return JsonlSink(path)
    raise EtlError(f"output {path}: unsupported extension; use .jsonl (optionally .gz/.zst) or .parquet")
