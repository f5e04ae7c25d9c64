"""Run the per-document stages chunk by chunk, in this process or in a pool of worker processes.

Each worker holds the pipeline for the whole run (models and tables load once, not per chunk): forked
from the run's process once it has loaded them (`Pipeline.warm_up`), or, beside another thread, spawned
and building its own. A worker turns a chunk into a `ChunkResult`; results come back in input order,
with one chunk per worker in flight and at most two results per worker waiting, so memory stays bounded
whatever the corpus size.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

import numpy as np
import pyarrow as pa

from etlcore.config import PipelineConfig
from etlcore.io.order import encode_in_order, with_positions, without_positions
from etlcore.io.reader import BLOCK_BYTES, Batch, Chunk, InvalidRow, ReadOptions, parse_chunk
from etlcore.io.writer import table_jsonl
from etlcore.pipeline import Counts, Pipeline
from etlcore.simhash import LineCounts
from etlcore.sources import Payload, Source

log = logging.getLogger("etlcore")

# The smallest input worth starting worker processes for (starting one costs about a second).
PARALLEL_FROM_BYTES = 32 * 1024 * 1024


@dataclass
class ChunkResult:
    table: pa.Table  # the rows that went through the stages run here (emptied once encoded)
    counts: Counts
    encoded: bytes | None = None  # those rows as JSON Lines, when the output is JSON Lines
    rows: int = 0
    rejects: bytes = b""  # rejected rows as JSON Lines in input order, each led by its position (io.order)
    rejected: int = 0
    invalid: list[InvalidRow] = field(default_factory=list)
    rows_read: int = 0  # of the input files: rows and invalid lines
    rows_in: int = 0  # that the payload brought: read, or read back from a previous pass's Parquet
    bytes_read: int = 0  # of the input, for the progress bar
    fingerprints: list[np.ndarray] = field(default_factory=list)  # one array per deduplicator
    line_hashes: np.ndarray | None = None  # of the rows, when the step counts lines

    def finish(self, rejects: list[pa.Table], encode: bool) -> ChunkResult:
        """Encode here what the main process would otherwise spend its time encoding."""
        self.rejects = encode_in_order(rejects)
        self.rejected = sum(table.num_rows for table in rejects)
        self.rows = self.table.num_rows
        if encode:
            self.encoded = table_jsonl(without_positions(self.table))
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


def _serve(connection: Connection, config: PipelineConfig, options: ReadOptions) -> None:
    """A spawned worker process: build the pipeline once, then answer the main process (`_answer`)."""
    _quiet()
    _answer(connection, Pipeline(config, options.text_column, options.id_column), options)


def _serve_forked(connection: Connection, pipeline: Pipeline, options: ReadOptions,
                  inherited: list[Connection]) -> None:
    """A forked worker process: the main process's pipeline is already here, warmed up. `inherited`: the
    main process's ends of the workers' pipes, copied by the fork; closed, so that a worker sees end of
    file when the main process goes away, not when the last of its siblings does."""
    _quiet()
    for other in inherited:
        other.close()
    _answer(connection, pipeline, options)


def _quiet() -> None:
    # Signals are the main process's to handle: it stops the run in order and then ends its workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    pa.set_cpu_count(1)  # one process per core: Arrow's own thread pool would only oversubscribe
    pa.set_io_thread_count(1)


def _answer(connection: Connection, pipeline: Pipeline, options: ReadOptions) -> None:
    """Turn each payload received into a result, until the main process says stop (None) or goes away
    (end of file on the pipe)."""
    try:
        while (item := connection.recv()) is not None:
            try:
                answer: tuple[bool, Any] = (True, process_payload(pipeline, options, *item))
            except Exception as exc:  # the main process reports it as the run's failure
                answer = (False, exc)
            connection.send(answer)
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        pass  # the main process is gone or stopping: nothing left to do


def process_payload(pipeline: Pipeline, options: ReadOptions, payload: Payload, step: Step,
                    parsed: Batch | None = None) -> ChunkResult:
    """One payload through the stages of `step`: what the main process needs to account for it.
    `parsed`: the chunk's batch, when it was parsed ahead."""
    result, rejects = run_payload(pipeline, options, payload, step, parsed)
    return result.finish(rejects, step.encode)


def run_payload(pipeline: Pipeline, options: ReadOptions, payload: Payload, step: Step,
                parsed: Batch | None = None) -> tuple[ChunkResult, list[pa.Table]]:
    """`process_payload` up to its last step: the result with its rows not encoded yet, and the rejected
    rows (`ChunkResult.finish` encodes both)."""
    rejects: list[pa.Table] = []
    if isinstance(payload, Chunk):
        batch = parsed if parsed is not None else parse_chunk(payload, options)
        table = with_positions(batch.table, payload.file.number, batch.lines)  # kept through every pass
        result = ChunkResult(table, pipeline.new_counts(), invalid=batch.invalid,
                             rows_read=batch.rows_read, rows_in=batch.rows_read, bytes_read=payload.size)
    else:
        table, duplicates = payload
        result = ChunkResult(table, pipeline.new_counts(),
                             rows_in=table.num_rows + (duplicates.num_rows if duplicates is not None else 0))
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
    return result, rejects


def _line_counts(path: str | None) -> LineCounts | None:
    """The saved line counts, memory-mapped once per process (and again when a new run rewrites them)."""
    if path is None:
        return None
    return _load_line_counts(path, os.stat(path).st_mtime_ns)


@functools.lru_cache(maxsize=1)
def _load_line_counts(path: str, modified: int) -> LineCounts:
    return LineCounts(np.load(path, mmap_mode="r"))


def _one_ahead(items: Iterator[Any]) -> Iterator[Any]:
    """The items, each handed on only once the next has been taken: taking it starts that item's work
    (a future submitted), which then runs while the caller works on this one."""
    previous, started = None, False
    for item in items:
        if started:
            yield previous
        previous, started = item, True
    if started:
        yield previous


def can_fork() -> bool:
    """Whether workers can be forked from this process: on Linux, while it runs no other Python thread
    (one could hold a lock the fork copies locked: a server's, a caller's). The native threads of numpy's
    OpenBLAS, jemalloc and Arrow's pools reinitialise themselves in a forked child."""
    return sys.platform.startswith("linux") and threading.active_count() == 1


def worker_count(requested: int | None, input_bytes: int, light: bool = False) -> int:
    """`requested`, or by default every core for an input large enough to be worth it, unless the pipeline
    is light (`Pipeline.light`): then one process, whose second thread parses ahead, does the most per core;
    worker processes would spend more on starting and on sending rows back than the operators cost."""
    if requested:
        return requested
    return (os.cpu_count() or 1) if input_bytes >= PARALLEL_FROM_BYTES and not light else 1


def even_block_bytes(input_bytes: int, count: int) -> int:
    """The block size that cuts `input_bytes` of JSON Lines into a multiple of `count` blocks of about the
    same size, none over `BLOCK_BYTES` (each block is a chunk): every worker then gets as much of each pass
    and they end it together. Plain 8 MB blocks cut 29 MB into 8 + 8 + 8 + 5, and one of two workers would
    wait for the other through the last 3 MB of every pass."""
    if count < 2 or input_bytes <= 0:
        return BLOCK_BYTES
    rounds = -(-input_bytes // (count * BLOCK_BYTES))
    return -(-input_bytes // (rounds * count))


class Workers:
    """The pipeline's per-document work, on `count` processes (1 = in this process).

    Each worker has a pipe of its own and at most one payload at a time: the main process sends a
    payload only to a worker waiting for one, so neither side can block on a full pipe while the other
    does too, and no helper thread is needed. Stopping (`close`) kills the workers outright; nothing
    they hold needs saving, so a stop takes no longer than that. `stop_requested`, checked while
    waiting for results, lets Ctrl-C end the wait without waiting for a chunk to finish.
    """

    def __init__(self, config: PipelineConfig, options: ReadOptions, count: int) -> None:
        """Start the worker processes now if they must be spawned; `use` forks them where it can."""
        self.count, self.options = count, options
        self._pipeline: Pipeline | None = None
        self._stop_requested: Callable[[], bool] = lambda: False
        self._workers: list[tuple[BaseProcess, Connection]] = []
        self.start_method = ""  # how the worker processes were started: "fork" or "spawn"
        if count > 1 and not can_fork():
            # Spawned workers start (importing etlcore, about 0.7 s of CPU each) while this process
            # builds its own pipeline.
            self._spawn(config)

    def use(self, pipeline: Pipeline, stop_requested: Callable[[], bool] = lambda: False) -> Workers:
        """The run's pipeline, built in this process, and what says the run is asked to stop. Where this
        process runs no other thread, the workers are forked from it now, after `Pipeline.warm_up`: they
        start at once and share its models and tables (copy on write) instead of each importing etlcore and
        loading its own, which on two cores cost a second of the run."""
        self._pipeline, self._stop_requested = pipeline, stop_requested
        if self.count > 1 and not self._workers:
            if can_fork():
                try:
                    pipeline.warm_up()
                except Exception:  # an operator that fails on its first batch fails the run there, reported
                    log.debug("warm-up failed", exc_info=True)
                self._start("fork", lambda theirs, ours: (_serve_forked, (theirs, pipeline, self.options, ours)))
            else:  # a thread started since
                self._spawn(pipeline.config)
        return self

    def _spawn(self, config: PipelineConfig) -> None:
        self._start("spawn", lambda theirs, _: (_serve, (theirs, config, self.options)))

    def _start(self, method: str,
               serve: Callable[[Connection, list[Connection]], tuple[Callable[..., None], tuple]]) -> None:
        """Start `count` workers by `method`; `serve(their end, this process's ends so far)` says what each runs."""
        context, self.start_method = multiprocessing.get_context(method), method
        for _ in range(self.count):
            ours, theirs = context.Pipe()
            function, args = serve(theirs, [ours, *(connection for _, connection in self._workers)])
            process = context.Process(target=function, args=args, daemon=True)
            with warnings.catch_warnings():  # Python 3.12+ warns of any fork beside native threads (can_fork)
                warnings.filterwarnings("ignore", r"This process .* is multi-threaded", DeprecationWarning)
                process.start()
            theirs.close()  # so that the worker sees end of file when this process goes away
            self._workers.append((process, ours))

    def process(self, source: Source, step: Step) -> Iterator[ChunkResult]:
        """Each payload of the source through `step`, results in input order. A pass with nothing to
        compute (rows read back only to drop duplicates or to be written out) runs in this process: sending
        its rows to a worker and back would cost more than what the worker does with them."""
        items = ((payload, step) for payload in source.payloads(self.options))
        if not self._workers or (not step.stages and not step.dedup):
            return self._in_process(items)
        return self._distribute(items)

    def _in_process(self, items: Iterator[tuple[Payload, Step]]) -> Iterator[ChunkResult]:
        """In this process, on three threads that hand each chunk on in turn:

            parser thread:   read and parse chunk n+1      (pyarrow)
            this thread:     the stages over chunk n       (Arrow kernels)
            encoder thread:  encode the rows of chunk n-1  (numba kernels, orjson)

        Each lets go of the GIL for most of its work, so one worker keeps two cores busy. A hand-over is a
        future and `_one_ahead` starts only the next chunk's work, so memory stays a few chunks. An error in
        a thread comes out of its future here, in input order; the caller stops between two results (a
        signal), and leaving the pools waits only for the chunk each thread has in hand."""
        pipeline, options = self._pipeline, self.options
        assert pipeline is not None, "Workers.use gives the pool its pipeline before anything runs in this process"
        with (ThreadPoolExecutor(1, thread_name_prefix="etlcore-parse") as parser,
              ThreadPoolExecutor(1, thread_name_prefix="etlcore-encode") as encoder):
            parsing = ((item, parser.submit(parse_chunk, item[0], options) if isinstance(item[0], Chunk) else None)
                       for item in items)
            encoding = (self._stages(encoder, pipeline, options, item, batch) for item, batch in _one_ahead(parsing))
            for encoded in _one_ahead(encoding):
                yield encoded.result()

    @staticmethod
    def _stages(encoder: ThreadPoolExecutor, pipeline: Pipeline, options: ReadOptions, item: tuple[Payload, Step],
                parsing: Future[Batch] | None) -> Future[ChunkResult]:
        """Run the stages over a chunk in this thread, and hand its encoding to the encoder thread. A chunk
        that fails does so in its turn: the chunks before it, done already, are handed on first."""
        try:
            result, rejects = run_payload(pipeline, options, *item,
                                          parsed=None if parsing is None else parsing.result())
        except Exception as error:
            failed: Future[ChunkResult] = Future()
            failed.set_exception(error)
            return failed
        return encoder.submit(result.finish, rejects, item[1].encode)

    def _distribute(self, items: Iterator[tuple[Payload, Step]]) -> Iterator[ChunkResult]:
        idle = [connection for _, connection in self._workers]
        busy: dict[Connection, int] = {}  # worker -> the number of the payload it holds
        done: dict[int, ChunkResult] = {}
        sent = handed = 0
        exhausted = False
        while True:
            # Results wait in `done` for those before them: at most two per worker, to bound memory.
            while idle and not exhausted and sent - handed < 2 * self.count:
                item = next(items, None)
                if item is None:
                    exhausted = True
                    break
                connection = idle.pop()
                connection.send(item)
                busy[connection] = sent
                sent += 1
            if handed in done:
                yield done.pop(handed)
                handed += 1
                continue
            if exhausted and handed == sent:
                return
            for connection in wait(list(busy), timeout=0.1):
                done[busy.pop(connection)] = self._receive(connection)
                idle.append(connection)
            if self._stop_requested():
                raise KeyboardInterrupt

    def _receive(self, connection: Connection) -> ChunkResult:
        try:
            ok, value = connection.recv()
        except (EOFError, OSError):
            codes = [process.exitcode for process, _ in self._workers if process.exitcode is not None]
            raise RuntimeError(f"a worker process ended unexpectedly (exit code {codes[0] if codes else '?'}); "
                               "if it was killed for memory, try a smaller --batch-size") from None
        if not ok:
            raise value
        return value

    def close(self) -> None:
        for process, connection in self._workers:
            connection.close()
            process.kill()
        for process, _ in self._workers:
            process.join(timeout=5)
        if self._workers:
            _stop_resource_tracker()
        self._workers = []


def _stop_resource_tracker() -> None:
    """multiprocessing starts a resource-tracker process with the first worker and leaves it to end on its
    own when this process ends; an orphan is then reaped by whatever reaps orphans, which in a container
    may be nothing. Stopped here it is reaped here (it starts again if anything needs it)."""
    from multiprocessing import resource_tracker

    stop = getattr(resource_tracker._resource_tracker, "_stop", None)  # CPython 3.8 and later
    if stop is not None:
        stop()
