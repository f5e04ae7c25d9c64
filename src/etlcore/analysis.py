"""Analysis: every filter statistic for every document, without changing the data, and a report.

One pass over the inputs runs the config's clean stage (the filters judge cleaned text) and computes,
per document, each filter's statistic with that filter's own
`compute` (the code that filters with it, not a copy), its length, its most likely language, the
lines deduplication counts, and which kinds of personal data the desensitization operators would
change; a second pass fingerprints the cleaned documents as the deduplication operator does (its
frequent lines left out), for the near-duplicate clusters.
Written to the report folder:
- `statistics.parquet`: one row per document (id, length, language, one column per statistic);
- `summary.json`: counts, quantiles, the share each candidate cutoff would drop, language shares,
  near-duplicate cluster sizes, documents with personal data by kind;
- `report.html`: self-contained (plots inlined as PNG), a histogram, quantiles and a cutoff curve per
  statistic with the config's cutoffs marked, and the rest of the summary.
A candidate cutoff's drop share is computed by the filter's own `keep` with that cutoff.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from etlcore.config import load_config
from etlcore.io.paths import check_report_target
from etlcore.io.reader import Batch, InputFile, ReadOptions, expand_inputs, parse_chunk, read_chunks
from etlcore.io.writer import ParquetSink, write_atomic
from etlcore.operators._langid import identify
from etlcore.operators.base import Filter
from etlcore.pipeline import Pipeline
from etlcore.registry import operators
from etlcore.simhash import FrequentLines, LineCounts, keep_first_of_clusters, line_hashes

PII_OPERATORS = ("replace_emails", "replace_ip", "replace_identifier", "remove_id_card", "remove_phone_number")
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def analyse(config: dict[str, Any], inputs: list[str | Path], report: Path, *, text_column: str = "text",
            id_column: str = "id", batch_size: int = 10_000, distance: float = 5.0) -> dict[str, Any]:
    """Analyse the inputs (see the module docstring): the statistics of the config's filters, with their
    args, and its cutoffs marked; near-duplicates within its deduplication distance (else `distance`)."""
    files = expand_inputs(list(inputs), skip=[report])  # a report folder inside an input folder is not read back
    check_report_target(files, report)
    filters = _filters(config)
    pipeline = Pipeline(config, text_column, id_column)
    registry = operators()
    dedup = (pipeline.deduplicators[0] if pipeline.deduplicators
             else registry["deduplication_simhash"](distance=distance))
    line_counts = LineCounts() if dedup.counts_lines else None
    pii = {name: registry[name]() for name in PII_OPERATORS}
    options = ReadOptions(text_column, id_column, batch_size)
    report.mkdir(parents=True, exist_ok=True)
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
    summary = {
        "documents": rows, "invalid_rows": invalid, "emptied_by_clean": emptied,
        "statistics": {name: _describe(filter_, cutoffs, statistics[name])
                       for name, (filter_, cutoffs) in filters.items()},
        "length": _quantiles(np.concatenate(lengths) if lengths else np.zeros(0)),
        "languages": _shares(np.concatenate(languages) if languages else np.zeros(0, dtype=object)),
        "near_duplicate_clusters": _clusters(np.concatenate(fingerprints) if fingerprints
                                             else np.zeros(0, np.uint64), dedup.distance),
        "documents_with_personal_data": pii_documents,
    }
    write_atomic(report / "summary.json", orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    lengths_all = np.concatenate(lengths) if lengths else np.zeros(0)
    write_atomic(report / "report.html", _html(summary, statistics, lengths_all).encode())
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


def _quantiles(values: np.ndarray) -> dict[str, float | None]:
    finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
    if len(finite) == 0:
        return {f"p{round(q * 100)}": None for q in QUANTILES}
    return {f"p{round(q * 100)}": float(v) for q, v in zip(QUANTILES, np.quantile(finite, QUANTILES))}


def _candidates(values: np.ndarray, configured: float) -> np.ndarray:
    finite = values[np.isfinite(values)]
    grid = np.quantile(finite, np.linspace(0, 1, 41)) if len(finite) else np.zeros(0)
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


def _shares(labels: np.ndarray) -> dict[str, float]:
    if len(labels) == 0:
        return {}
    names, counts = np.unique(labels.astype(str), return_counts=True)
    order = np.argsort(-counts)
    return {str(names[i]): round(float(counts[i]) / len(labels), 4) for i in order[:20]}


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


def _pyplot() -> Any:
    """matplotlib's pyplot drawing off screen (imported only when a report is drawn)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(figure: Any) -> str:
    plt = _pyplot()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return f'<img alt="" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def _statistic_plot(name: str, values: np.ndarray, described: dict[str, Any]) -> str:
    figure, (histogram, curve) = _pyplot().subplots(1, 2, figsize=(10, 3.2))
    finite = values[np.isfinite(values)]
    top = float(np.quantile(finite, 0.99)) if len(finite) else 0.0
    long_tail = len(finite) > 0 and finite.max() > 5 * top > 0
    histogram.hist(finite[finite <= top] if long_tail else finite, bins=50, color="#4477aa")
    histogram.set_title(f"{name}: documents per value" + (" (up to p99)" if long_tail else ""))
    histogram.set_xlabel(name)
    for arg, data in described["cutoffs"].items():
        histogram.axvline(data["configured"], color="#cc3311", linestyle="--", label=f"{arg} = {data['configured']}")
        points = np.array(data["candidates"]) if data["candidates"] else np.zeros((0, 2))
        curve.plot(points[:, 0], points[:, 1] * 100, marker=".", label=arg)
        curve.axvline(data["configured"], color="#cc3311", linestyle="--")
    if described["cutoffs"]:
        histogram.legend(fontsize=8)
        curve.legend(fontsize=8)
    curve.set_title("documents dropped at each candidate cutoff")
    curve.set_xlabel("cutoff")
    curve.set_ylabel("% dropped")
    return _png(figure)


def _bar_plot(title: str, labels: list[str], heights: list[float], xlabel: str) -> str:
    figure, axes = _pyplot().subplots(figsize=(10, 3))
    axes.bar(labels, heights, color="#228833")
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    return _png(figure)


def _html(summary: dict[str, Any], statistics: dict[str, np.ndarray], lengths: np.ndarray) -> str:
    def table(rows: dict[str, Any]) -> str:
        cells = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>"
                        for k, v in rows.items())
        return f"<table>{cells}</table>"

    parts = [f"<h1>etlcore analysis</h1><p>{summary['documents']:,} documents, {summary['invalid_rows']:,} "
             f"unreadable rows; statistics of the text after the clean stage ({summary['emptied_by_clean']:,} "
             "documents emptied by it).</p>"]
    for name, described in summary["statistics"].items():
        dropped = ", ".join(f"{arg} = {data['configured']:g} drops {data['dropped_at_configured']:.1%}"
                            for arg, data in described["cutoffs"].items())
        parts.append(f"<h2>{html.escape(name)} <small>({described['operator']})</small></h2><p>{dropped}; "
                     f"{described['missing']} documents without a value.</p>"
                     f"{table(described['quantiles'])}{_statistic_plot(name, statistics[name], described)}")
    parts.append("<h2>Length (characters)</h2>" + table(summary["length"]))
    if len(lengths):
        figure, axes = _pyplot().subplots(figsize=(10, 3))
        axes.hist(lengths, bins=60, color="#4477aa")
        axes.set_xlabel("characters")
        parts.append(_png(figure))
    languages = summary["languages"]
    parts.append("<h2>Languages (fastText, most likely)</h2>" + table({k: f"{v:.1%}" for k, v in languages.items()}))
    parts.append(_bar_plot("share of documents", list(languages), [v * 100 for v in languages.values()], "language"))
    clusters = summary["near_duplicate_clusters"]
    parts.append(f"<h2>Near-duplicate clusters (within {clusters['distance']} bits)</h2>"
                 + table({f"clusters of {k}": v for k, v in clusters["sizes"].items()}))
    sizes = {k: v for k, v in clusters["sizes"].items() if k != "1"}
    if sizes:
        parts.append(_bar_plot("clusters by size (2 or more documents)", list(sizes), list(sizes.values()),
                               "documents in the cluster"))
    parts.append("<h2>Documents with personal data, by kind</h2>" + table(summary["documents_with_personal_data"]))
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:2px 8px;"
             "text-align:left}img{max-width:100%}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>etlcore analysis</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "–" if value is None else str(value)
