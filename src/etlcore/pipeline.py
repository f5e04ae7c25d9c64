"""The pipeline: the configured operators of the four stages applied to Arrow tables, with counts.

Stages run clean → filter → deduplication → desensitization, whatever the order of keys. A
`Pipeline` knows nothing of files: `head` runs the per-document stages before deduplication on one
table, `tail` the ones after it, and `deduplicate` decides over the fingerprints of the whole corpus.
`run_table` puts them together for data already in memory; `etlcore.runner` streams files through them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from etlcore.config import PipelineConfig, load_config
from etlcore.errors import EtlError
from etlcore.io.reader import check_table
from etlcore.operators.base import Deduplicator, Filter, Mapper, Operator
from etlcore.registry import STAGES
from etlcore.simhash import FrequentLines, LineCounts, line_hashes

# Texts that take every operator through its models and kernels (Chinese and English, markup, PII,
# emoji, traditional characters, repetition): what `Pipeline.warm_up` and `etlcore.kernels` run.
WARM_UP_TEXTS = [
    "The quick brown fox jumps over the lazy dog, and the dog sleeps on in the afternoon sun.",
    "The quick brown fox jumps over the lazy dog, and the dog sleeps on in the afternoon sun!",
    "Write to ann@example.com or call 13812345678; the server at 10.0.0.1 is down 😀.",
    "今天天气很好，我们一起去公园散步吧。公园里有很多人在跑步、打太极拳。",
    "今天天气很好，我们一起去公园散步吧。公园里有很多人在跑步、打太极拳！",
    "<p>Markup &amp; text</p> with a URL https://example.com/x and 乾燥 traditional characters.",
    "repeat repeat repeat repeat repeat repeat repeat repeat repeat repeat",
    "short",
]


class OperatorFailed(Exception):
    """An operator raised: the run fails with this stage and operator named in the result."""

    def __init__(self, stage: str, operator: str, error: str) -> None:
        super().__init__(f"operator '{operator}' in stage '{stage}' failed: {error}")
        self.stage, self.operator, self.error = stage, operator, error

    def __reduce__(self) -> tuple:  # so that it crosses from a worker process intact
        return OperatorFailed, (self.stage, self.operator, self.error)


@contextmanager
def _running(stage: str, operator: Operator, count: OperatorCount) -> Iterator[None]:
    """Time an operator and name it if it fails."""
    started = time.perf_counter()
    try:
        yield
    except Exception as exc:
        raise OperatorFailed(stage, operator.name, f"{type(exc).__name__}: {exc}") from exc
    finally:
        count.seconds += time.perf_counter() - started


@dataclass
class OperatorCount:
    name: str
    remaining: int = 0
    # Documents this operator turned down (drop_count). Each filter judges every document that entered
    # the stage, so a document two filters turn down counts in both; `rejected` counts it once, for the
    # first (the rejects file's etl_operator), so that the operators' `rejected` add up to the rejects.
    dropped: int = 0
    rejected: int = 0
    changed: int = 0  # documents whose text this operator changed (the legacy processed_entity)
    seconds: float = 0.0

    def add(self, other: OperatorCount) -> None:
        self.remaining += other.remaining
        self.dropped += other.dropped
        self.rejected += other.rejected
        self.changed += other.changed
        self.seconds += other.seconds


@dataclass
class Counts:
    """Everything a run counts: documents that entered each stage, and each operator's counts."""

    entered: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STAGES, 0))
    operators: dict[str, list[OperatorCount]] = field(default_factory=dict)

    def add(self, other: Counts) -> None:
        """Add the counts of another batch (counted in another process, say)."""
        for stage in STAGES:
            self.entered[stage] += other.entered[stage]
            for mine, theirs in zip(self.operators[stage], other.operators[stage]):
                mine.add(theirs)


@dataclass
class Duplicates:
    """Deduplication's decision for every document that reached it, in input order: a few bytes per
    document, never the texts or the reasons as strings."""

    deciding: np.ndarray  # index of the deduplicator that dropped the document, -1 if kept
    original: np.ndarray  # position of the kept document it duplicates
    distance: np.ndarray  # its Hamming distance to that document
    names: list[str]  # the deduplicators' names

    @property
    def keep(self) -> np.ndarray:
        return self.deciding < 0

    def rejected(self, table: pa.Table, start: int, ids: pa.Array) -> pa.Table | None:
        """The rejected rows of `table` (the documents from position `start` on), with their reasons."""
        rows = slice(start, start + table.num_rows)
        dropped = np.flatnonzero(self.deciding[rows] >= 0)
        if len(dropped) == 0:
            return None
        originals = ids.take(pa.array(self.original[rows][dropped])).to_pylist()
        reasons = [f"duplicate_of={original} distance={distance}"
                   for original, distance in zip(originals, self.distance[rows][dropped].tolist())]
        operators = [self.names[i] for i in self.deciding[rows][dropped].tolist()]
        return rejected_rows(table.take(pa.array(dropped)), "deduplication", operators,
                             pa.array(reasons, pa.string()))


class Pipeline:
    """The configured operators, built once, applied to tables."""

    def __init__(self, config: PipelineConfig | dict[str, Any] | str | Path,
                 text_column: str = "text", id_column: str = "id") -> None:
        self.config = config if isinstance(config, PipelineConfig) else load_config(config)
        self.text_column, self.id_column = text_column, id_column
        self.operators: dict[str, list[Operator]] = {
            stage: [step.build() for step in self.config.steps.get(stage, [])] for stage in STAGES
        }
        self.deduplicators: list[Deduplicator] = self.operators["deduplication"]  # type: ignore[assignment]

    @property
    def light(self) -> bool:
        """Whether every operator is light (`PipelineConfig.light`)."""
        return self.config.light

    def new_counts(self) -> Counts:
        return Counts(operators={stage: [OperatorCount(op.name) for op in ops]
                                 for stage, ops in self.operators.items()})

    def warm_up(self) -> None:
        """Load now what the operators load on first use (models, tables, compiled kernels), by running
        every stage and fingerprint over `WARM_UP_TEXTS`: worker processes forked afterwards share it
        all instead of each loading its own copy."""
        table = pa.table({self.id_column: [str(n) for n in range(len(WARM_UP_TEXTS))],
                          self.text_column: WARM_UP_TEXTS})
        counts: Counts = self.new_counts()
        for stage in ("clean", "filter", "desensitization"):  # each over every text: a filter may drop them all
            self.run_stages(table, (stage,), counts, [])
        if self.deduplicators:
            line_counts = LineCounts()
            line_counts.add(line_hashes(_text_array(table[self.text_column])))
            self.fingerprints(table, counts, line_counts, table.num_rows)

    # -- per-document stages ------------------------------------------------------------------

    def run_stages(self, table: pa.Table, stages: tuple[str, ...], counts: Counts,
                   rejects: list[pa.Table]) -> pa.Table:
        """Run per-document stages (clean, filter, desensitization; in order) on one table; dropped rows
        are appended to `rejects`. What leaves the filter stage enters deduplication."""
        for stage in stages:
            if stage == "filter":
                table = self._filter(table, counts, rejects)
                counts.entered["deduplication"] += table.num_rows
            else:
                table = self._map(stage, table, counts, rejects)
        return table

    def head(self, table: pa.Table, counts: Counts, rejects: list[pa.Table]) -> pa.Table:
        """Clean and filter one table."""
        return self.run_stages(table, ("clean", "filter"), counts, rejects)

    def tail(self, table: pa.Table, counts: Counts, rejects: list[pa.Table]) -> pa.Table:
        """Desensitize one table that came through deduplication."""
        return self.run_stages(table, ("desensitization",), counts, rejects)

    def _map(self, stage: str, table: pa.Table, counts: Counts, rejects: list[pa.Table]) -> pa.Table:
        counts.entered[stage] += table.num_rows
        position = table.column_names.index(self.text_column)
        texts = _text_array(table[self.text_column])
        mappers: list[Mapper] = self.operators[stage]  # type: ignore[assignment]
        for mapper, count in zip(mappers, counts.operators[stage]):
            with _running(stage, mapper, count):
                new = mapper.map_texts(texts) if len(texts) else texts
            if new is not texts:  # a mapper that changed nothing may hand back its input: no copy
                changed = pc.not_equal(new, texts)
                n_changed = pc.sum(changed).as_py() or 0
                if n_changed:
                    count.changed += n_changed
                    emptied = pc.and_(changed, _blank(new))
                    n_emptied = pc.sum(emptied).as_py() or 0
                    if n_emptied:
                        reasons = pa.array(["text empty after this operator"] * n_emptied, pa.string())
                        rejects.append(rejected_rows(table.filter(emptied), stage, mapper.name, reasons))
                        keep = pc.invert(emptied)
                        table, new = table.filter(keep), new.filter(keep)
                        count.dropped += n_emptied
                        count.rejected += n_emptied
                    texts = new
                    table = table.set_column(position, self.text_column, texts)
            count.remaining += len(texts)
        return table

    def _filter(self, table: pa.Table, counts: Counts, rejects: list[pa.Table]) -> pa.Table:
        """Every filter judges every document that entered the stage; a document is rejected by the
        first filter (in config order) that rejects it, with that filter's statistic as the reason."""
        counts.entered["filter"] += table.num_rows
        filters: list[Filter] = self.operators["filter"]  # type: ignore[assignment]
        if not filters or table.num_rows == 0:
            return table
        texts = _text_array(table[self.text_column])
        verdicts, values = [], []
        for filter_, count in zip(filters, counts.operators["filter"]):
            with _running("filter", filter_, count):
                value = np.asarray(filter_.compute(texts), dtype=np.float64)
                keep = np.asarray(filter_.keep(value), dtype=bool)
            count.dropped += int((~keep).sum())
            count.remaining += int(keep.sum())
            verdicts.append(keep)
            values.append(value)
        kept = np.logical_and.reduce(verdicts)
        if kept.all():
            return table
        dropped = np.flatnonzero(~kept)
        deciding = np.argmin(np.stack(verdicts)[:, dropped], axis=0)  # the first filter that says no
        for count, rejected in zip(counts.operators["filter"], np.bincount(deciding, minlength=len(filters))):
            count.rejected += int(rejected)
        reasons = [filters[f].reason(values[f][row]) for f, row in zip(deciding, dropped)]
        operators = [filters[f].name for f in deciding]
        rejects.append(rejected_rows(table.take(dropped), "filter", operators, pa.array(reasons)))
        return table.filter(pa.array(kept))

    # -- deduplication ------------------------------------------------------------------------

    @property
    def counts_lines(self) -> bool:
        """Whether deduplication first counts the lines of the corpus (see `Deduplicator.counts_lines`)."""
        return any(dedup.counts_lines for dedup in self.deduplicators)

    def line_hashes(self, table: pa.Table, counts: Counts) -> np.ndarray:
        """The lines of the documents of `table`, for `LineCounts.add` (one count serves every deduplicator)."""
        dedup = next(d for d in self.deduplicators if d.counts_lines)
        with _running("deduplication", dedup, counts.operators["deduplication"][self.deduplicators.index(dedup)]):
            return line_hashes(_text_array(table[self.text_column]))

    def fingerprints(self, table: pa.Table, counts: Counts, line_counts: LineCounts | None = None,
                     documents: int = 0) -> list[np.ndarray]:
        """One fingerprint array per deduplicator for the documents of `table`; `line_counts` over
        the `documents` that reach deduplication, for the deduplicators that count lines."""
        texts = _text_array(table[self.text_column])
        prints = []
        for dedup, count in zip(self.deduplicators, counts.operators["deduplication"]):
            frequent = (FrequentLines(line_counts, dedup.line_threshold(documents))
                        if dedup.counts_lines and line_counts is not None else None)
            with _running("deduplication", dedup, count):
                prints.append(dedup.fingerprint(texts, frequent))
        return prints

    def deduplicate(self, fingerprints: list[np.ndarray], counts: Counts,
                    texts: Callable[[np.ndarray], pa.Array] | None = None) -> Duplicates:
        """Decide over the whole corpus. Deduplicators run in turn, each on what the ones before it kept.
        `texts` reads the texts of the documents at sorted positions back, for those that confirm pairs."""
        n = len(fingerprints[0]) if fingerprints else 0
        duplicates = Duplicates(np.full(n, -1, dtype=np.int8), np.zeros(n, dtype=np.int64),
                                np.zeros(n, dtype=np.int16), [d.name for d in self.deduplicators])
        for number, (dedup, prints, count) in enumerate(zip(self.deduplicators, fingerprints,
                                                             counts.operators["deduplication"])):
            alive = np.flatnonzero(duplicates.keep)
            with _running("deduplication", dedup, count):
                if dedup.needs_texts:
                    alive_texts = None if texts is None else _positions_within(texts, alive)
                    kept_index, distance = dedup.find_duplicates(prints[alive], alive_texts)
                else:
                    kept_index, distance = dedup.find_duplicates(prints[alive])
            dropped = np.flatnonzero(kept_index >= 0)
            rows = alive[dropped]
            duplicates.deciding[rows] = number
            duplicates.original[rows] = alive[kept_index[dropped]]
            duplicates.distance[rows] = distance[dropped]
            count.dropped += len(dropped)
            count.rejected += len(dropped)
            count.remaining += int(duplicates.keep.sum())
        return duplicates

    # -- everything in memory -----------------------------------------------------------------

    def run_table(self, table: pa.Table) -> tuple[pa.Table, pa.Table, dict[str, Any]]:
        """Run the whole pipeline on an in-memory table: (kept, rejected, detail).

        Rows without an id get `table:<position>`; rows whose text is null are rejected at stage
        `read`. `detail` is the `result` object of the Qianfan detail response (SPEC section 4).
        """
        from etlcore.report import stage_results  # report depends on pipeline, not the other way

        counts, rejects = self.new_counts(), []
        checked = check_table(table, "table", range(1, table.num_rows + 1), self.text_column, self.id_column)
        if checked.invalid and checked.table.num_columns == 0:
            raise EtlError(checked.invalid[0].reason)
        if checked.invalid:
            bad = pa.table({"source": [r.source for r in checked.invalid], "line": [r.line for r in checked.invalid]})
            reasons = pa.array([r.reason for r in checked.invalid], pa.string())
            rejects.append(rejected_rows(bad, "read", "reader", reasons))
        table = self.head(checked.table, counts, rejects)
        if self.deduplicators:
            line_counts = LineCounts() if self.counts_lines else None
            if line_counts is not None:
                line_counts.add(self.line_hashes(table, counts))
            in_memory = _text_array(table[self.text_column])
            duplicates = self.deduplicate(self.fingerprints(table, counts, line_counts, table.num_rows), counts,
                                          lambda positions: in_memory.take(pa.array(positions)))
            rejected = duplicates.rejected(table, 0, _text_array(table[self.id_column]))
            if rejected is not None:
                rejects.append(rejected)
                table = table.filter(pa.array(duplicates.keep))
        table = self.tail(table, counts, rejects)
        empty = rejected_rows(table.slice(0, 0), "", [], pa.array([], pa.string()))
        rejected = pa.concat_tables([empty, *rejects], promote_options="permissive")
        return table, rejected, stage_results(self, counts, exported=table.num_rows)


def _positions_within(texts: Callable[[np.ndarray], pa.Array], alive: np.ndarray) -> Callable[[np.ndarray], pa.Array]:
    """The text reader of the whole corpus as one of the documents at `alive` (sorted positions)."""
    return lambda positions: texts(alive[positions])


def _text_array(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    return column.cast(pa.string()) if column.type != pa.string() else column


def _blank(texts: pa.Array) -> pa.Array:
    """True where the text is empty or whitespace only (the Unicode whitespace `utf8_trim_whitespace` trims,
    checked in place: no trimmed copy of the batch)."""
    return pc.or_(pc.equal(pc.binary_length(texts), 0), pc.utf8_is_space(texts))


VERDICT = ("etl_stage", "etl_operator", "etl_reason")  # where and why a row was rejected
PREVIOUS = "etl_previous"  # an earlier verdict a row already carried


def rejected_rows(table: pa.Table, stage: str, operator: str | list[str], reasons: pa.Array) -> pa.Table:
    """Rejected rows: their columns plus where and why they were dropped."""
    table = _keep_previous_verdict(table)
    n = table.num_rows
    operators = [operator] * n if isinstance(operator, str) else operator
    return (table.append_column("etl_stage", pa.array([stage] * n, pa.string()))
            .append_column("etl_operator", pa.array(operators, pa.string()))
            .append_column("etl_reason", reasons.cast(pa.string())))


def _keep_previous_verdict(table: pa.Table) -> pa.Table:
    """Rows that already carry a verdict (a rejects file fed back in after fixing a cutoff) keep it:
    their `etl_stage`, `etl_operator`, `etl_reason` and `etl_previous` move, under those names, into one
    field `etl_previous`, so the new verdict takes the top-level names and no earlier one is lost."""
    names = [name for name in (*VERDICT, PREVIOUS) if name in table.column_names]
    if not names:
        return table
    columns = [table[name].combine_chunks() for name in names]
    absent = columns[0].is_null()  # a row without any of them has no earlier verdict: null, not {}
    for column in columns[1:]:
        absent = pc.and_(absent, column.is_null())
    previous = pa.StructArray.from_arrays(columns, names=names, mask=absent)
    return table.drop_columns(names).append_column(PREVIOUS, previous)
