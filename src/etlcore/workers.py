"""Run the per-document stages chunk by chunk, in this process or in a pool of worker processes.

Each worker builds the pipeline once (models and tables load once per worker, not per chunk) and
turns a chunk into a `ChunkResult`; results come back in input order, with at most two chunks per
worker in flight, so memory stays bounded whatever the corpus size.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from etlcore.config import PipelineConfig
from etlcore.io.reader import Chunk, InvalidRow, ReadOptions, parse_chunk
from etlcore.io.writer import table_jsonl
from etlcore.pipeline import Counts, Pipeline
from etlcore.simhash import LineCounts
from etlcore.sources import Payload, Source

# The smallest input worth starting worker processes for (starting one costs about a second).
PARALLEL_FROM_BYTES = 32 * 1024 * 1024


@dataclass
class ChunkResult:
    table: pa.Table  # the rows that went through the stages run here (emptied once encoded)
    counts: Counts
    encoded: bytes | None = None  # those rows as JSON Lines, when the output is JSON Lines
    rows: int = 0
    rejects: bytes = b""  # rejected rows as JSON Lines
    rejected: int = 0
    invalid: list[InvalidRow] = field(default_factory=list)
    rows_read: int = 0
    bytes_read: int = 0  # of the input, for the progress bar
    fingerprints: list[np.ndarray] = field(default_factory=list)  # one array per deduplicator
    line_hashes: np.ndarray | None = None  # of the rows, when the step counts lines

    def finish(self, rejects: list[pa.Table], encode: bool) -> ChunkResult:
        """Encode here what the main process would otherwise spend its time encoding."""
        self.rejects = b"".join(map(table_jsonl, rejects))
        self.rejected = sum(table.num_rows for table in rejects)
        self.rows = self.table.num_rows
        if encode:
            self.encoded = table_jsonl(self.table)
            self.table = self.table.slice(0, 0)  # not sent back twice
        return self


@dataclass(frozen=True)
class Step:
    """What the workers do with every chunk of one pass over the data."""

    stages: tuple[str, ...]  # per-document stages to run, in order
    dedup: str = ""  # what reaches deduplication: "lines" counts its lines, "fingerprint" fingerprints it
    encode: bool = False  # the rows go to a JSON Lines output: encode them in the worker
    line_counts: str | None = None  # with "fingerprint": the corpus's saved line counts (.npy), if counted
    documents: int = 0  # how many documents those counts are over


_state: tuple[Pipeline, ReadOptions] | None = None


def _start_worker(config: PipelineConfig, options: ReadOptions) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    pa.set_cpu_count(1)  # one process per core: Arrow's own thread pool would only oversubscribe
    pa.set_io_thread_count(1)
    _use(Pipeline(config, options.text_column, options.id_column), options)


def _use(pipeline: Pipeline, options: ReadOptions) -> None:
    global _state
    _state = (pipeline, options)


def _process(item: tuple[Payload, Step]) -> ChunkResult:
    return process_payload(*_state, *item)


def process_payload(pipeline: Pipeline, options: ReadOptions, payload: Payload, step: Step) -> ChunkResult:
    """One payload through the stages of `step`: what the main process needs to account for it."""
    rejects: list[pa.Table] = []
    if isinstance(payload, Chunk):
        batch = parse_chunk(payload, options)
        result = ChunkResult(batch.table, pipeline.new_counts(), invalid=batch.invalid,
                             rows_read=batch.rows_read, bytes_read=payload.size)
    else:
        table, duplicates = payload
        result = ChunkResult(table, pipeline.new_counts())
        if duplicates is not None:
            rejects.append(duplicates)
    if result.table.num_rows:
        result.table = pipeline.run_stages(result.table, step.stages, result.counts, rejects)
        if step.dedup == "lines":
            result.line_hashes = pipeline.line_hashes(result.table, result.counts)
        elif step.dedup == "fingerprint":
            result.fingerprints = pipeline.fingerprints(result.table, result.counts, _line_counts(step.line_counts),
                                                        step.documents)
        if step.dedup and not step.stages:  # rows already in Parquet go nowhere: only their ids go back
            result.table = result.table.select([options.id_column])
    return result.finish(rejects, step.encode)


def _line_counts(path: str | None) -> LineCounts | None:
    """The saved line counts, memory-mapped once per process (and again when a new run rewrites them)."""
    if path is None:
        return None
    return _load_line_counts(path, os.stat(path).st_mtime_ns)


@functools.lru_cache(maxsize=1)
def _load_line_counts(path: str, modified: int) -> LineCounts:
    return LineCounts(np.load(path, mmap_mode="r"))


def worker_count(requested: int | None, input_bytes: int) -> int:
    """`requested`, or by default every core for an input large enough to be worth it."""
    if requested:
        return requested
    return (os.cpu_count() or 1) if input_bytes >= PARALLEL_FROM_BYTES else 1


class Workers:
    """The pipeline's per-document work, on `count` processes (1 = in this process)."""

    def __init__(self, pipeline: Pipeline, options: ReadOptions, count: int) -> None:
        self.count, self.options = count, options
        self._pool: Any = None
        if count == 1:
            _use(pipeline, options)
        else:
            context = multiprocessing.get_context("spawn")  # no fork of a process holding threads
            self._pool = context.Pool(count, initializer=_start_worker, initargs=(pipeline.config, options))

    def process(self, source: Source, step: Step) -> Iterator[ChunkResult]:
        """Each payload of the source through `step`, results in input order."""
        return self._map(_process, ((payload, step) for payload in source.payloads(self.options)))

    def _map(self, function: Any, items: Iterable[Any]) -> Iterator[ChunkResult]:
        if self._pool is None:
            yield from map(function, items)
            return
        pending: deque = deque()
        for item in items:
            pending.append(self._pool.apply_async(function, (item,)))
            if len(pending) >= 2 * self.count:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None
