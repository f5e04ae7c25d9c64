"""Analysis: every filter statistic for every document, without changing the data, and a report.

One pass over the inputs runs the config's clean stage (the filters judge cleaned text) and computes,
per document, each filter's statistic with that filter's own
`compute` (the code that filters with it, not a copy), its length, its most likely language, the
lines deduplication counts, and which kinds of personal data the desensitization operators would
change; a second pass fingerprints the cleaned documents as the deduplication operator does (its
frequent lines left out), for the near-duplicate clusters.
Written to the report folder:
- `statistics.parquet`: one row per document (id, length, language, one column per statistic);
- `summary.json`: counts, the funnel of documents through the config's stages, quantiles, the share
  each candidate cutoff would drop, language shares, near-duplicate cluster sizes, documents with
  personal data per desensitization operator of the config;
- `report.html` (`etlcore.analysis_report`): a one-screen summary, then a section per statistic.
A candidate cutoff's drop share is computed by the filter's own `keep` with that cutoff. The funnel
applies the filters in config order, each to what the ones before it kept, as a run does; its
deduplication step clusters the documents every filter kept by their fingerprints alone.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from etlcore.analysis_report import render
from etlcore.config import load_config
from etlcore.io.paths import check_report_target
from etlcore.io.reader import FOLDER_MARKER, Batch, InputFile, ReadOptions, expand_inputs, parse_chunk, read_chunks
from etlcore.io.writer import ParquetSink, write_atomic
from etlcore.operators._langid import identify
from etlcore.operators.base import Deduplicator, Filter
from etlcore.pipeline import Pipeline
from etlcore.registry import operators
from etlcore.simhash import FrequentLines, LineCounts, keep_first_of_clusters, line_hashes

QUANTILES = (0.005, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 0.995)
# A cutoff curve's points: every percentile of the data, and the report's axis ends (p0.5, p99.5).
CANDIDATE_QUANTILES = np.unique(np.append(np.linspace(0, 1, 101), [0.005, 0.995]))


def analyse(config: dict[str, Any], inputs: list[str | Path], report: Path, *, text_column: str = "text",
            id_column: str = "id", batch_size: int = 10_000, distance: float = 5.0) -> dict[str, Any]:
    """Analyse the inputs (see the module docstring): the statistics of the config's filters, with their
    args, and its cutoffs marked; near-duplicates within its deduplication distance (else `distance`)."""
    files = expand_inputs(list(inputs))  # an earlier report folder (marked) inside an input folder is left out
    check_report_target(files, report)
    filters = _filters(config)
    pipeline = Pipeline(config, text_column, id_column)
    registry = operators()
    dedup = (pipeline.deduplicators[0] if pipeline.deduplicators
             else registry["deduplication_simhash"](distance=distance))
    line_counts = LineCounts() if dedup.counts_lines else None
    # The kinds of personal data this config removes: each desensitization operator it names.
    pii = {operator.name: operator for operator in pipeline.operators["desensitization"]}
    options = ReadOptions(text_column, id_column, batch_size)
    report.mkdir(parents=True, exist_ok=True)
    (report / FOLDER_MARKER).touch()
    sink = ParquetSink(report / "statistics.parquet", pa.schema([]))
    values: dict[str, list[np.ndarray]] = {name: [] for name in filters}
    lengths, languages = [], []
    pii_documents = dict.fromkeys(pii, 0)
    rows = invalid = emptied = 0
    for batch, table, rejected in _cleaned(pipeline, files, options):
        invalid += len(batch.invalid)
        rows += batch.table.num_rows
        emptied += rejected
        if table.num_rows == 0:
            continue
        texts = table[text_column].combine_chunks().cast(pa.string())
        columns = {"id": table[id_column].combine_chunks().cast(pa.string()),
                   "length": pc.utf8_length(texts), "language": pa.array(identify(texts)[0][:, 0], pa.string())}
        for name, (filter_, _) in filters.items():
            column = np.asarray(filter_.compute(texts), dtype=np.float64)
            values[name].append(column)
            columns[name] = pa.array(column)
        for name, operator in pii.items():
            pii_documents[name] += pc.sum(pc.not_equal(operator.map_texts(texts), texts)).as_py() or 0
        lengths.append(columns["length"].to_numpy())
        languages.append(columns["language"].to_numpy(zero_copy_only=False))
        if line_counts is not None:
            line_counts.add(line_hashes(texts))
        sink.write(pa.table(columns))
    sink.commit()
    frequent = FrequentLines(line_counts, dedup.line_threshold(rows - emptied)) if line_counts else None
    fingerprints = [dedup.fingerprint(table[text_column].combine_chunks().cast(pa.string()), frequent)
                    for _, table, _ in _cleaned(pipeline, files, options) if table.num_rows]
    statistics = {name: np.concatenate(parts) if parts else np.zeros(0) for name, parts in values.items()}
    all_fingerprints = np.concatenate(fingerprints) if fingerprints else np.zeros(0, np.uint64)
    language_counts = _counts(np.concatenate(languages) if languages else np.zeros(0, dtype=object))
    summary = {
        "documents": rows, "invalid_rows": invalid, "emptied_by_clean": emptied,
        "funnel": _funnel(rows, invalid, emptied, filters, statistics,
                          pipeline.deduplicators[0] if pipeline.deduplicators else None, all_fingerprints),
        "statistics": {name: _describe(filter_, cutoffs, statistics[name])
                       for name, (filter_, cutoffs) in filters.items()},
        "length": _quantiles(np.concatenate(lengths) if lengths else np.zeros(0)),
        "languages": _shares(language_counts, rows - emptied),
        "language_documents": language_counts,
        "near_duplicate_clusters": _clusters(all_fingerprints, dedup.distance),
        "documents_with_personal_data": pii_documents,
    }
    write_atomic(report / "summary.json", orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    lengths_all = np.concatenate(lengths) if lengths else np.zeros(0)
    write_atomic(report / "report.html", render(summary, statistics, lengths_all).encode())
    return summary


def _filters(config: dict[str, Any]) -> dict[str, tuple[Filter, dict[str, float]]]:
    """Each filter of the config, built with its args, and the cutoffs to mark (its `*_cutoff` args)."""
    pipeline = load_config(config)
    built = {}
    for step in pipeline.steps.get("filter", []):
        filter_ = step.build()
        cutoffs = {k: v for k, v in step.args.items() if k.endswith("_cutoff")}
        built[filter_.statistic] = (filter_, cutoffs)
    return built


def _funnel(rows: int, invalid: int, emptied: int, filters: dict[str, tuple[Filter, dict[str, float]]],
            statistics: dict[str, np.ndarray], dedup: Deduplicator | None,
            fingerprints: np.ndarray) -> list[dict[str, Any]]:
    """Documents left after each step of a run of the config: reading, the clean stage, each filter
    in config order (judging what the filters before it kept), deduplication (by fingerprints alone)."""
    left = rows - emptied
    steps = [{"step": "input rows", "documents": rows + invalid, "dropped": 0},
             {"step": "readable", "documents": rows, "dropped": invalid},
             {"step": "clean", "documents": left, "dropped": emptied}]
    kept = np.ones(left, dtype=bool)
    for name, (filter_, _) in filters.items():
        before = int(kept.sum())
        kept &= np.asarray(filter_.keep(statistics[name]), dtype=bool)
        steps.append({"step": filter_.name, "statistic": name, "documents": int(kept.sum()),
                      "dropped": before - int(kept.sum())})
    if dedup is not None:
        survivors = fingerprints[kept]
        if survivors.ndim == 2:
            survivors = survivors[:, 0]
        first_of_cluster, _ = keep_first_of_clusters(survivors, math.floor(dedup.distance))
        remaining = int((first_of_cluster < 0).sum())
        steps.append({"step": dedup.name, "documents": remaining, "dropped": len(survivors) - remaining,
                      "fingerprints_only": True, "confirmed_by_texts_in_a_run": bool(dedup.needs_texts)})
    return steps


def _quantiles(values: np.ndarray) -> dict[str, float | None]:
    finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
    keys = ["min", *(f"p{q * 100:g}" for q in QUANTILES), "max"]
    if len(finite) == 0:
        return dict.fromkeys(keys)
    found = [finite.min(), *np.quantile(finite, QUANTILES), finite.max()]
    return {key: float(value) for key, value in zip(keys, found)}


def _candidates(values: np.ndarray, configured: float) -> np.ndarray:
    finite = values[np.isfinite(values)]
    grid = np.quantile(finite, CANDIDATE_QUANTILES) if len(finite) else np.zeros(0)
    return np.unique(np.append(grid, configured))


def _describe(filter_: Filter, cutoffs: dict[str, float], values: np.ndarray) -> dict[str, Any]:
    """Quantiles, and for each cutoff arg the share of documents each candidate value would drop,
    judged by the filter's own `keep` with that value."""
    def dropped() -> float:
        return float((~np.asarray(filter_.keep(values), dtype=bool)).mean()) if len(values) else 0.0

    at_configured = dropped()
    curves = {}
    for arg, configured in cutoffs.items():
        points = []
        for candidate in _candidates(values, configured):
            setattr(filter_, arg, float(candidate))
            points.append([float(candidate), dropped()])
        setattr(filter_, arg, configured)
        curves[arg] = {"configured": configured, "dropped_at_configured": at_configured, "candidates": points}
    return {"operator": filter_.name, "quantiles": _quantiles(values), "missing": int(np.isnan(values).sum()),
            "cutoffs": curves}


def _counts(labels: np.ndarray) -> dict[str, int]:
    """Documents per label, the 20 most frequent, most frequent first."""
    names, counts = np.unique(labels.astype(str), return_counts=True)
    order = np.argsort(-counts, kind="stable")
    return {str(names[i]): int(counts[i]) for i in order[:20]}


def _shares(counts: dict[str, int], documents: int) -> dict[str, float]:
    return {name: round(count / documents, 4) for name, count in counts.items()} if documents else {}


def _cleaned(pipeline: Pipeline, files: list[InputFile],
             options: ReadOptions) -> Iterator[tuple[Batch, pa.Table, int]]:
    """Each batch of the inputs, its rows after the config's clean stage (the filters judge cleaned
    text, as in a run), and how many rows cleaning emptied."""
    counts = pipeline.new_counts()
    for chunk in read_chunks(files, options):
        batch = parse_chunk(chunk, options)
        rejects: list[pa.Table] = []
        table = pipeline.run_stages(batch.table, ("clean",), counts, rejects) if batch.table.num_rows else batch.table
        yield batch, table, sum(r.num_rows for r in rejects)


def _clusters(fingerprints: np.ndarray, distance: float) -> dict[str, Any]:
    """Sizes of the near-duplicate clusters (documents within `distance` bits, linked transitively)."""
    if fingerprints.ndim == 2:  # a deduplicator that confirms pairs adds each folded text's hash: not needed here
        fingerprints = fingerprints[:, 0]
    if len(fingerprints) == 0:
        return {"distance": math.floor(distance), "clusters": 0, "sizes": {}}
    kept, _ = keep_first_of_clusters(fingerprints, math.floor(distance))
    roots = np.where(kept < 0, np.arange(len(kept)), kept)
    sizes = np.bincount(roots)[np.unique(roots)]
    size_values, size_counts = np.unique(sizes, return_counts=True)
    return {"distance": math.floor(distance), "clusters": len(sizes),
            "documents_in_clusters_of_2_or_more": int(sizes[sizes > 1].sum()),
            "sizes": {str(int(s)): int(c) for s, c in zip(size_values, size_counts)}}
