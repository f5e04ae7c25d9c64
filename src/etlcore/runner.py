"""Run a pipeline over files: read in a stream, apply the stages, write atomically, account for every row.

Every input row ends in exactly one of the output, the rejects file or the invalid file, and
`input = output + rejected + invalid` is checked at the end. Only deduplication needs the whole
corpus: the rows that reach it are spooled to Parquet in the work dir while their fingerprints and ids
stay in memory, then streamed back once the decision is made.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from etlcore import __version__
from etlcore.checkpoints import Checkpoint, checkpoint_key
from etlcore.config import PipelineConfig, load_config
from etlcore.errors import EtlError
from etlcore.io.lock import RunLock
from etlcore.io.order import RejectsSink, without_positions
from etlcore.io.paths import check_creatable, check_run_targets, earlier_output
from etlcore.io.reader import FOLDER_MARKER, WORK_DIR_SUFFIX, InputFile, ReadOptions, expand_inputs
from etlcore.io.writer import (
    TEMPORARY_COMPRESSION,
    JsonlSink,
    NullSink,
    ParquetSink,
    open_sink,
    remove_stale_temporaries,
    write_atomic,
)
from etlcore.pipeline import Counts, Duplicates, OperatorFailed, Pipeline
from etlcore.progress import LiveCounts, Progress
from etlcore.registry import STAGES
from etlcore.report import DONE, FAILED, TERMINATED, RunInfo, detail_response, stage_results
from etlcore.simhash import LineCounts
from etlcore.sources import InputSource, ParquetSource, ParquetTexts
from etlcore.workers import ChunkResult, Step, Workers, even_block_bytes, worker_count

log = logging.getLogger("etlcore")


class _Interruptible:
    """Ctrl-C (SIGINT) and SIGTERM (what `kill`, Slurm, Kubernetes and systemd send first) ask the run
    to stop; it stops at the next chunk boundary, keeps its checkpoints and reports processStatus 3.
    A KeyboardInterrupt raised wherever the signal lands could be swallowed (inside a `__del__`, say)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.received: int | None = None  # the signal that asked to stop
        self._previous: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        return self.received is not None

    def install(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self._previous = {number: signal.signal(number, self._request) for number in self.SIGNALS}

    def _request(self, signum: int, frame: object) -> None:
        self.received = signum

    def check(self) -> None:
        if self.requested:
            raise KeyboardInterrupt

    def restore(self) -> None:
        for number, previous in self._previous.items():
            signal.signal(number, previous)
        self._previous = {}


@dataclass
class Tally:
    """Rows by where they ended; `input == output + rejected + invalid` when nothing is lost."""

    input: int = 0
    output: int = 0
    rejected: int = 0
    invalid: int = 0

    def balanced(self) -> bool:
        return self.input == self.output + self.rejected + self.invalid

    def line(self) -> str:
        mark = "ok" if self.balanced() else "MISMATCH"
        return (f"input = output + rejected + invalid: {self.input} = {self.output} + {self.rejected} + "
                f"{self.invalid} ({mark})")

    def stopped_line(self, status: int, read: Reading) -> str:
        """For a run that did not finish: the rows in hand when it stopped were dropped with its output,
        so the sum cannot hold and is not checked; it says in words how far the run got."""
        how = "failed" if status == FAILED else "stopped"
        if read.all:
            where = f" in {read.phase}" if read.phase else ""
            got = f"{how}{where}, after reading all {self.input} rows of the input"
        else:
            share = (f" ({int(read.share * 100)} % of the input)" if read.share is not None
                     else ", not all of the input")
            got = f"{how} after reading {self.input} rows{share}"
        return (f"input = output + rejected + invalid: not checked, the run {got}; nothing written "
                "(complete checkpoints are kept)")


@dataclass
class Reading:
    """How far a run got through its input, for the accounting line of a run that did not finish."""

    all: bool = False  # every input row was read (a pass over the input files ended, or a checkpoint has them)
    bytes: int = 0  # of the input files read so far
    total_bytes: int | None = None  # of all input files, when none is compressed
    phase: str = ""  # the stages of the pass running

    @property
    def share(self) -> float | None:
        return min(self.bytes / self.total_bytes, 1.0) if self.total_bytes else None


class RowsLost(RuntimeError):
    """The accounting did not hold at the end of a run: a bug, reported as the run's failure."""


def run(config: str | Path | dict[str, Any] | PipelineConfig, inputs: list[str | Path] | str | Path,
        output: str | Path | None, *, work_dir: str | Path | None = None, text_column: str = "text",
        id_column: str = "id", batch_size: int = 10_000, max_line_bytes: int = 16 * 1024 * 1024,
        workers: int | None = None, quiet: bool = True, engine: str = "local",
        ray_address: str | None = None, keep_checkpoints: bool = False) -> dict[str, Any]:
    """Run the pipeline over the inputs and write the output; return the Qianfan detail response.

    Raises `EtlError` (config, inputs, output) before any row is read; any failure after that is
    reported in the result (processStatus 4, failReason) instead of raised. `workers`: processes for
    the per-document stages (default: every core when the input is 32 MB or more and an operator is not
    light, else 1); the output's rows and the result are the same for every count. `engine`: "local" (processes
    on this machine) or "ray" (actors on the Ray cluster at `ray_address`, a local one if None; same output and result).
    The `save_pipeline_<stage>` checkpoints are deleted when the run succeeds, unless `keep_checkpoints`;
    a run that stopped or failed keeps them to resume from.
    """
    started = datetime.now()
    pipeline_config = config if isinstance(config, PipelineConfig) else load_config(config)
    input_list = [inputs] if isinstance(inputs, (str, Path)) else list(inputs)
    if output is None and work_dir is None:  # only check the input: count and report, write no output
        raise EtlError("a run without an output needs a work dir for its result and invalid rows")
    output = Path(output) if output is not None else None
    if output is not None:  # before its name is used: `--output .` names a folder, not a file
        check_creatable(output, "output", folder=False)
    work = Path(work_dir) if work_dir else output.with_name(output.name + WORK_DIR_SUFFIX)  # type: ignore[union-attr]
    # Before anything is read: folder walks leave out what etlcore wrote (this run's earlier output among
    # it), and nothing this run writes may land on an input or where it cannot be created.
    files = expand_inputs(input_list, skip=[output] if output is not None and earlier_output(output, work) else [])
    check_run_targets(files, output, work)
    if engine not in ("local", "ray"):
        raise EtlError(f"unknown engine '{engine}'; use 'local' or 'ray'")
    if engine == "ray":
        from etlcore.ray_engine import require_ray  # Ray is an optional extra, slow to import

        require_ray(ray_address)
    if Progress.wanted(quiet):
        from etlcore.kernels import cold

        if cold():
            print("etlcore: compiling kernels (first run only)…", file=sys.stderr, flush=True)
    options = ReadOptions(text_column, id_column, batch_size, max_line_bytes)
    pool: Workers | None = None
    if engine == "local":  # the worker processes start first, so that their start overlaps this process's set-up
        input_bytes = sum(f.path.stat().st_size for f in files)
        count = worker_count(workers, input_bytes, pipeline_config.light)
        options = dataclasses.replace(options, block_bytes=even_block_bytes(input_bytes, count))
        pool = Workers(pipeline_config, options, count)
    try:
        return _run_with(pool, pipeline_config, files, input_list, output, work, options, started, workers, quiet,
                         ray_address, keep_checkpoints)
    finally:
        if pool is not None:
            pool.close()


def _run_with(pool: Workers | None, pipeline_config: PipelineConfig, files: list[InputFile],
              input_list: list[str | Path], output: Path | None, work: Path, options: ReadOptions, started: datetime,
              workers: int | None, quiet: bool, ray_address: str | None, keep_checkpoints: bool) -> dict[str, Any]:
    """The run, once its inputs and targets are checked and its workers (if any) are starting."""
    text_column, id_column = options.text_column, options.id_column
    pipeline = Pipeline(pipeline_config, text_column, id_column)  # loads what operators need: may refuse
    interruptible = _Interruptible()
    # From here on a signal stops the run in order (at its first check), the warm-up and the workers' fork
    # included: one landing there would otherwise interrupt the fork's own bookkeeping and be lost.
    interruptible.install()
    try:
        if pool is not None:  # forks the workers where it can: before any file or lock is opened they could inherit
            pool.use(pipeline, stop_requested=lambda: interruptible.requested)
        sink: JsonlSink | ParquetSink | NullSink = NullSink()
        if output is not None:
            sink = open_sink(output, pa.schema([(id_column, pa.string()), (text_column, pa.string())]))
        work.mkdir(parents=True, exist_ok=True)
        if not work.name.endswith(WORK_DIR_SUFFIX):  # a folder walk (of this run's input folder, say) never reads
            (work / FOLDER_MARKER).touch()  # back a work dir of another name either
        locks = [RunLock.for_work_dir(work), *([RunLock.for_output(output)] if output is not None else [])]
        try:
            for lock in locks:
                lock.acquire()
        except EtlError:
            for lock in locks:
                lock.release()
            sink.abort()
            raise
        try:
            return _run_locked(pipeline, files, input_list, output, sink, work, options, started, pool, workers,
                               quiet, ray_address, interruptible, keep_checkpoints)
        finally:
            for lock in locks:
                lock.release()
    finally:
        interruptible.restore()


def _run_locked(pipeline: Pipeline, files: list[InputFile], input_list: list[str | Path], output: Path | None,
                sink: JsonlSink | ParquetSink | NullSink, work: Path, options: ReadOptions, started: datetime,
                local: Workers | None, workers: int | None, quiet: bool, ray_address: str | None,
                interruptible: _Interruptible, keep_checkpoints: bool) -> dict[str, Any]:
    """The run, once its work dir is this process's alone; `local`: the local engine's workers (None: Ray)."""
    pipeline_config = pipeline.config
    log_path = work / "logs" / f"run-{started:%Y%m%d-%H%M%S}.log"
    handler = _start_log(log_path)
    paths = {"output": str(output) if output else None, "rejects": str(work / "rejects.jsonl"),
             "invalid": str(work / "invalid.jsonl"), "result": str(work / "result.json"), "log": str(log_path)}
    remove_stale_temporaries(work)
    if output is not None:  # only the output's own temporaries: its folder may hold anything
        remove_stale_temporaries(output.parent, f".{output.name}.*tmp-*")
    checkpoints = {stage: Checkpoint(work, stage, checkpoint_key(pipeline_config, stage, files, options))
                   for stage in pipeline_config.checkpoints}
    job = _Job(pipeline, options, work, sink, RejectsSink(Path(paths["rejects"])), JsonlSink(Path(paths["invalid"])),
               checkpoints)
    input_bytes = sum(f.path.stat().st_size for f in files)
    uncompressed = not any(f.compression for f in files)
    job.reading.total_bytes = input_bytes if uncompressed else None
    status, failed_stage, reason = DONE, None, ""
    unusable: str | None = None  # every row read to the end was invalid
    clock = time.perf_counter()
    pool = None
    try:
        interruptible.check()
        if local is None:
            from etlcore.ray_engine import RayWorkers

            pool = RayWorkers(job.pipeline, job.options, workers, ray_address)
        else:
            pool = local
        engine = "ray" if local is None else "local"
        started_by = f" ({pool.start_method})" if local is not None and pool.count > 1 else ""
        stages = {stage: [operator.name for operator in operators]
                  for stage, operators in job.pipeline.operators.items()}
        log.info("etlcore %s: %d input files, engine %s, %d workers%s, config stages %s", __version__, len(files),
                 engine, pool.count, started_by, stages)
        job.progress = Progress(Progress.wanted(quiet), job.reading.total_bytes)
        job.run(files, pool, interruptible)
        if not job.tally.balanced():
            raise RowsLost(f"rows were lost: {job.tally.line()}")
        unusable = job.unusable() if output is not None else None
        if unusable:  # accounted for (the invalid file is written), but no output: the run failed
            status, reason = FAILED, unusable
            job.commit(output=False)
        else:
            job.commit()
        # A finished run's checkpoints only take room, often more than its input; an unusable run's hold no
        # row, and a re-run must read the input again and say the same, not "resumed".
        if unusable or not keep_checkpoints:
            shutil.rmtree(work / "checkpoints", ignore_errors=True)
    except KeyboardInterrupt:
        status, reason = TERMINATED, _stop_reason(interruptible.received)
        job.abort()
    except OperatorFailed as exc:
        status, failed_stage, reason = FAILED, exc.stage, str(exc)
        log.exception("run failed")
        job.abort()
    except Exception as exc:  # the run must still report what happened
        status, reason = FAILED, f"{type(exc).__name__}: {exc}"
        log.exception("run failed")
        job.abort()
    finally:
        job.progress.close()
        if pool is not None:
            pool.close()
    seconds = time.perf_counter() - clock
    # A run that stopped or failed dropped the rows in hand with its output: the sum is checked only for a
    # finished run, and shown for one that failed because it did not hold.
    lost = reason.startswith(RowsLost.__name__)
    finished = status == DONE or lost or (unusable is not None and reason == unusable)
    accounting = job.tally.line() if finished else job.tally.stopped_line(status, job.reading)
    log.info(accounting)
    result = stage_results(job.pipeline, job.counts, exported=job.tally.output if status == DONE else 0,
                           unprocessed=0 if status == DONE else job.tally.input - job.tally.invalid,
                           failed_stage=failed_stage, fail_reason=reason)
    info = RunInfo(
        signature=_signature(pipeline_config, files, output or work),
        source_name=", ".join(map(str, input_list)),
        dest_name=str(output or ""), log_path=str(log_path), started=started, finished=datetime.now(),
        entity_count=job.tally.input, process_status=status, exception=reason,
        extra={**_extras(job, seconds, paths, interruptible.received), "accounting": accounting,
               "summary": _summary(status, job.tally, seconds, reason)},
    )
    response = detail_response(info, pipeline_config.operations, result)
    write_atomic(Path(paths["result"]), orjson.dumps(response, option=orjson.OPT_INDENT_2))
    log.info(response["etlcore"]["summary"])
    if not quiet:
        report_on_stderr(response)
    logging.getLogger("etlcore").removeHandler(handler)
    handler.stream.close()
    return response


@dataclass(frozen=True)
class _Pass:
    """One stream over the data: from the input files or the previous pass's Parquet, through
    `stages`, into a checkpoint, the deduplication spool, or the output."""

    stages: tuple[str, ...]
    deduplicated: bool = False  # the source carries deduplication's decisions
    fingerprint: bool = False  # ends at deduplication
    checkpoint: str | None = None  # ends with the checkpoint of this stage


def plan_passes(todo: list[str], checkpoints: set[str]) -> list[_Pass]:
    """Cut the stages still to run into passes: after every checkpointed stage and around
    deduplication, which needs the whole corpus. The last pass writes the output."""
    passes: list[_Pass] = []
    current: list[str] = []
    deduplicated = False
    for position, stage in enumerate(todo):
        if stage == "deduplication":
            if current or not passes or not passes[-1].fingerprint:  # a checkpoint pass may fingerprint
                passes.append(_Pass(tuple(current), deduplicated, fingerprint=True))
            current, deduplicated = [], True
            if stage in checkpoints:
                passes.append(_Pass((), True, checkpoint=stage))
                deduplicated = False
            continue
        current.append(stage)
        if stage in checkpoints:
            next_is_dedup = todo[position + 1: position + 2] == ["deduplication"]
            passes.append(_Pass(tuple(current), deduplicated, fingerprint=next_is_dedup, checkpoint=stage))
            current, deduplicated = [], False
    if current or deduplicated or not passes or passes[-1].checkpoint or passes[-1].fingerprint:
        passes.append(_Pass(tuple(current), deduplicated))
    return passes


def pass_name(step: _Pass) -> str:
    """What a pass does, for the progress line: `clean + filter`, `deduplication + desensitization`, ..."""
    if step.fingerprint and not step.stages and not step.deduplicated:
        return "deduplication: fingerprints"
    name = " + ".join((["deduplication"] if step.deduplicated else []) + list(step.stages))
    return name or "writing the output"


class _Job:
    """The state of one run: the pipeline, the sinks, the counts."""

    def __init__(self, pipeline: Pipeline, options: ReadOptions, work: Path, sink: JsonlSink | ParquetSink | NullSink,
                 rejects: JsonlSink, invalid: JsonlSink, checkpoints: dict[str, Checkpoint]) -> None:
        self.pipeline, self.options, self.work = pipeline, options, work
        self.sink, self.rejects, self.invalid = sink, rejects, invalid
        self.checkpoints = checkpoints
        self.counts: Counts = pipeline.new_counts()
        self.tally = Tally()
        self.writing: ParquetSink | None = None  # a checkpoint or spool being written
        self.progress = Progress(enabled=False, total_bytes=None)
        self.live = LiveCounts(work)
        self.resumed_from: str | None = None
        self.stages_run: list[str] = []  # the stages this run ran (none: resumed after the last one)
        self.reading = Reading()
        self.invalid_reason: str | None = None  # of the first invalid row
        self.invalid_alike = True  # every invalid row so far for that same reason
        self.spool = work / "deduplication-input.parquet"
        self._ids = pa.array([], pa.string())  # of the documents deduplication decided on

    def run(self, files: list[InputFile], workers: Workers, interruptible: _Interruptible) -> None:
        todo = [s for s in STAGES if s != "deduplication" or self.pipeline.deduplicators]
        source = self._resume(todo)  # None: the input files
        self._report_live(force=True)
        if self.resumed_from:
            todo = todo[todo.index(self.resumed_from) + 1:]
        passes = plan_passes(todo, set(self.checkpoints) & set(todo))
        self.stages_run = [stage for stage in todo if self.pipeline.operators.get(stage)]
        self.reading.all = source is not None  # a checkpoint holds what came of every input row
        # As the progress line counts them: a pass that counts lines for deduplication is followed by one
        # that fingerprints.
        self._shown_passes = len(passes) + sum(1 for p in passes if p.fingerprint and self.pipeline.counts_lines)
        self._shown = 0
        fingerprints: list[list[np.ndarray]] = []
        ids: list[pa.Array] = []
        duplicates: Duplicates | None = None
        for number, step in enumerate(passes):
            final = number == len(passes) - 1
            self._start_pass(pass_name(step), source)
            if step.deduplicated:
                duplicates = self._decide(fingerprints, ids, source)
                fingerprints, ids = [], []
            reading = (InputSource(tuple(files)) if source is None
                       else ParquetSource(source, *((duplicates, self._ids) if step.deduplicated else ())))
            destination = None if final else self._destination(step, source)
            encode = final and isinstance(self.sink, JsonlSink)
            self.reading.phase = " + ".join(step.stages) if step.stages else "deduplication"
            counting = step.fingerprint and self.pipeline.counts_lines
            line_counts, documents = LineCounts() if counting else None, 0
            dedup = "lines" if counting else "fingerprint" if step.fingerprint else ""
            for result in workers.process(reading, Step(step.stages, dedup, encode)):
                self._take(result, destination, final)
                if result.line_hashes is not None:
                    line_counts.add(result.line_hashes)
                    documents += result.rows
                if dedup == "fingerprint":
                    self._keep_fingerprints(result, fingerprints, ids)
                interruptible.check()  # after taking it: a chunk done before the stop counts as read
            self.reading.all = True  # this pass, and any before it, read every input row
            if step.deduplicated and source == self.spool:
                self.spool.unlink(missing_ok=True)
            if destination is not None:
                destination.commit()
                self.writing = None
                if step.checkpoint:
                    self._save(self.checkpoints[step.checkpoint])
                source = destination.path
            if counting:  # fingerprints need the line counts of the whole corpus: a second look at its rows
                self._fingerprint(workers, source, line_counts, documents, fingerprints, ids, interruptible)

    def _fingerprint(self, workers: Workers, rows: Path, line_counts: LineCounts, documents: int,
                     fingerprints: list[list[np.ndarray]], ids: list[pa.Array], interruptible: _Interruptible) -> None:
        """Fingerprint the rows that reach deduplication, now that the lines of all of them are counted."""
        self._start_pass("deduplication: fingerprints", rows)
        saved = self.work / "deduplication-lines.npy"  # where every worker can map it
        np.save(saved, line_counts.table)
        try:
            step = Step((), "fingerprint", line_counts=str(saved), documents=documents)
            for result in workers.process(ParquetSource(rows), step):
                self.counts.add(result.counts)
                self._keep_fingerprints(result, fingerprints, ids)
                interruptible.check()
        finally:
            saved.unlink(missing_ok=True)

    def _start_pass(self, name: str, source: Path | None) -> None:
        """Show the next pass; one reading back a previous pass's Parquet knows how many rows it will see."""
        self._shown += 1
        expected = None
        if source is not None:
            expected = pq.ParquetFile(source).metadata.num_rows if source.exists() else 0
        self.progress.start_pass(self._shown, self._shown_passes, name, expected)

    def _keep_fingerprints(self, result: ChunkResult, fingerprints: list[list[np.ndarray]],
                           ids: list[pa.Array]) -> None:
        if result.table.num_rows:
            fingerprints.append(result.fingerprints)
            ids.append(result.table[self.options.id_column].combine_chunks())

    def _destination(self, step: _Pass, source: Path | None) -> ParquetSink | None:
        """Where a pass that is not the last writes its rows: its checkpoint, or the spool that
        deduplication reads back; nowhere when it only fingerprints rows already in Parquet."""
        if step.checkpoint:
            checkpoint = self.checkpoints[step.checkpoint]
            checkpoint.start()
            self.writing = ParquetSink(checkpoint.rows, pa.schema([]), TEMPORARY_COMPRESSION)
        elif not step.stages and source is not None:
            return None
        else:
            self.writing = ParquetSink(self.spool, pa.schema([]), TEMPORARY_COMPRESSION)
        return self.writing

    def _take(self, result: ChunkResult, destination: ParquetSink | None, final: bool) -> None:
        self.progress.advance(result.rows_in, result.bytes_read)
        if not self.reading.all:
            self.reading.bytes += result.bytes_read
        self.tally.input += result.rows_read
        self.tally.invalid += len(result.invalid)
        for row in result.invalid:
            if self.invalid_reason is None:
                self.invalid_reason = row.reason
            elif row.reason != self.invalid_reason:
                self.invalid_alike = False
        self.invalid.write_rows(row.to_json() for row in result.invalid)
        self.counts.add(result.counts)
        self.rejects.write_encoded(result.rejects, result.rejected)
        self.tally.rejected += result.rejected
        self._report_live()
        if final:
            if result.encoded is not None:
                self.sink.write_encoded(result.encoded, result.rows)
            else:
                self.sink.write(without_positions(result.table))
            self.tally.output += result.rows
        elif destination is not None:
            destination.write(result.table)

    def _report_live(self, force: bool = False) -> None:
        self.live.update(self.tally.input, self.tally.rejected, self.tally.invalid, force)

    def _decide(self, fingerprints: list[list[np.ndarray]], ids: list[pa.Array], rows: Path | None) -> Duplicates:
        """Decide over the fingerprints of the documents in `rows` (the Parquet they were spooled to, in
        the same order), from which a deduplicator that confirms pairs reads their texts back."""
        self.progress.phase(f"deciding over {sum(len(b[0]) for b in fingerprints if b):,} fingerprints")
        per_operator = [np.concatenate([b[i] for b in fingerprints]) if fingerprints
                        else np.zeros(0, np.uint64) for i in range(len(self.pipeline.deduplicators))]
        self._ids = pa.concat_arrays(ids) if ids else pa.array([], pa.string())
        texts = ParquetTexts(rows, self.pipeline.text_column) if rows is not None and rows.exists() else None
        return self.pipeline.deduplicate(per_operator, self.counts, texts)

    def _resume(self, todo: list[str]) -> Path | None:
        """Restore the state of the last complete checkpoint that still fits; the rows to go on from."""
        for stage in reversed(todo):
            checkpoint = self.checkpoints.get(stage)
            if checkpoint is not None and checkpoint.complete():
                counts, tally = checkpoint.load()
                # Counts of the stages up to the checkpoint; later stages may have changed since.
                for done in STAGES[: STAGES.index(stage) + 1]:
                    self.counts.operators[done] = counts.operators[done]
                self.counts.entered = counts.entered
                self.tally = Tally(**tally)
                self.rejects.append_file(checkpoint.rejects)
                self.invalid.append_file(checkpoint.invalid)
                self.resumed_from = stage
                log.info("resuming after the checkpoint of stage %s (%s)", stage, checkpoint.folder)
                return checkpoint.rows
        return None

    def _save(self, checkpoint: Checkpoint) -> None:
        self.rejects.flush()
        self.invalid.flush()
        checkpoint.save(self.counts, dataclasses.asdict(self.tally), self.rejects.temporary, self.invalid.temporary)
        log.info("checkpoint of stage %s written: %s", checkpoint.stage, checkpoint.folder)

    def unusable(self) -> str | None:
        """Why a run that read its input to the end still failed: every row was invalid (a --text-column
        no row has, a file that is not JSON lines), which must not pass for an empty corpus."""
        if not self.tally.input or self.tally.invalid != self.tally.input:
            return None
        where = f"{self.tally.invalid} rows; see {self.invalid.path}"
        if self.invalid_reason is None:  # resumed from a checkpoint: the reasons are in the file
            return f"every row of the input is invalid ({where})"
        if self.invalid_alike:
            return f"every row of the input is invalid: {self.invalid_reason} ({where})"
        return f"every row of the input is invalid, for different reasons; the first: {self.invalid_reason} ({where})"

    def commit(self, output: bool = True) -> None:
        """Keep what the run wrote; without `output` (a run that failed with every row invalid) only the
        rejects and the invalid rows."""
        if output:
            self.sink.commit()
        else:
            self.sink.abort()
        for sink in (self.rejects, self.invalid):
            sink.commit()
        self.live.clear()  # the result has the counts now

    def abort(self) -> None:
        for sink in (self.sink, self.rejects, self.invalid, self.writing):
            if sink is not None:
                sink.abort()
        self.spool.unlink(missing_ok=True)
        self.live.clear()


def _stop_reason(received: int | None) -> str:
    if received == signal.SIGTERM:
        return "stopped by SIGTERM"
    return "interrupted by the user"  # Ctrl-C, `etlcore task stop`, or a KeyboardInterrupt of the caller's


def _start_log(path: Path) -> logging.Handler:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Appended to, never through a symlink planted at its name (the work dir may be a task's, writable by others).
    stream = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666),
                       "a", encoding="utf-8")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("etlcore")
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return handler


def _signature(config: PipelineConfig, files: list[InputFile], output: Path) -> str:
    """Hash of config, input files (path, size, mtime) and output: stable ids for the same job."""
    digest = hashlib.sha256(orjson.dumps(config.operations, option=orjson.OPT_SORT_KEYS))
    for file in files:
        stat = file.path.stat()
        digest.update(f"{file.path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    digest.update(str(output.resolve()).encode())
    return digest.hexdigest()


def _extras(job: _Job, seconds: float, paths: dict[str, str], stop_signal: int | None) -> dict[str, Any]:
    return {
        "version": __version__,
        "input_rows": job.tally.input,
        "output_rows": job.tally.output,
        "rejected_rows": job.tally.rejected,
        "invalid_rows": job.tally.invalid,
        "seconds": round(seconds, 3),
        "documents_per_second": round(job.tally.input / seconds, 1) if seconds else None,
        # changed: texts a mapper changed; dropped: documents the operator turned down (a filter judges every
        # document of its stage); rejected: the rows of the rejects file naming it (they add up to rejected_rows)
        "operators": [{"stage": stage, "name": c.name, "seconds": round(c.seconds, 3), "changed": c.changed,
                       "dropped": c.dropped, "rejected": c.rejected}
                      for stage, counts in job.counts.operators.items() for c in counts],
        "paths": paths,
        "resumed_after": job.resumed_from,  # the stage whose checkpoint this run went on from, if any
        "stages_run": job.stages_run,  # the configured stages this run ran (none: resumed after the last)
        "stopped_by": signal.Signals(stop_signal).name if stop_signal else None,  # SIGINT or SIGTERM
    }


def _summary(status: int, tally: Tally, seconds: float, reason: str) -> str:
    if status == DONE:
        return (f"done: {tally.input} rows in {seconds:.2f}s, {tally.output} written, {tally.rejected} rejected, "
                f"{tally.invalid} invalid")
    word = "failed" if status == FAILED else "stopped"
    return f"{word} after {seconds:.2f}s: {reason}"


def report_on_stderr(response: dict[str, Any], summary: bool = True) -> None:
    """What a person running etlcore reads on stderr after a run: the stage it resumed after, the
    accounting line, and the summary (a failure's reason even without `summary`). A library call
    prints nothing unless asked (`quiet=False`); the same lines are in the log and the result JSON."""
    extra = response.get("etlcore", {})
    if "accounting" not in extra:  # an analysis task: no run, no accounting
        return
    lines = []
    if summary and extra.get("resumed_after"):
        nothing = "" if extra.get("stages_run") else ": nothing left to do"
        lines.append(f"etlcore: resumed after {extra['resumed_after']}{nothing}")
    lines.append(extra["accounting"])
    if summary or response["result"]["processStatus"] == FAILED:
        lines.append(f"etlcore: {extra['summary']}")
    sys.stderr.write("".join(line + "\n" for line in lines))
