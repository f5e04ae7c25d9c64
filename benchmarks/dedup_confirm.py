"""`deduplication_simhash`'s `confirm_similarity`: what confirming candidate pairs by their texts changes.

    .venv/bin/python benchmarks/dedup_confirm.py [--docs 100000 1000000] [--distance 6]
                                                 [--thresholds 0 0.3 0.4 0.5 0.6 0.7] [--run-thresholds 0 0.5]

On make_corpus.py corpora (`benchmarks/corpus.py`), with the operator's defaults otherwise (line counts,
fingerprints as in benchmarks/dedup.py), for each threshold (0: fingerprints alone):
- removed: documents rejected as near-duplicates;
- unalike removed: of those, documents whose text is less than half alike their kept document
  (rapidfuzz `ratio` < 50, the measure benchmarks/dedup.py uses for unalike pairs) - a user's loss;
- unalike links: pairs that joined two documents (confirmed candidates, copies with the same folded
  text left out; unconfirmed: every candidate) whose texts are less than half alike;
- injected near-duplicates (make_corpus.py's truth) in the same cluster as their source, per edit kind;
- confirm s: the time the decision takes beyond the unconfirmed one, texts taken from memory.
Then `etlcore run` end to end, deduplication alone in the config, at each of `--run-thresholds`: the
whole run's seconds, the texts read back from the Parquet spool as the runner does.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.json as pj
from rapidfuzz.fuzz import ratio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import corpus

from etlcore.operators.deduplication_simhash import DeduplicationSimhash
from etlcore.simhash import FrequentLines, LineCounts, line_hashes, simhash_fingerprints


def fingerprints(texts: pa.Array, k: int) -> np.ndarray:
    """(fingerprint, hash of the folded text) per document, as the operator computes them when confirming."""
    batches = [texts.slice(i, 10_000) for i in range(0, len(texts), 10_000)]
    counts = LineCounts()
    for batch in batches:
        counts.add(line_hashes(batch))
    frequent = FrequentLines(counts, DeduplicationSimhash(distance=k).line_threshold(len(texts)))
    return np.concatenate([simhash_fingerprints(batch, frequent_lines=frequent, text_hashes=True)
                           for batch in batches])


def decide(fps: np.ndarray, texts: pa.Array, k: int, threshold: float) -> tuple[np.ndarray, list, float]:
    """(kept_index, the pairs that linked documents, seconds)."""
    operator = DeduplicationSimhash(distance=k, confirm_similarity=threshold)
    links: list[tuple[np.ndarray, np.ndarray]] = []
    if threshold > 0:
        import etlcore.operators.deduplication_simhash as module

        original = module.keep_first_of_clusters

        def recording(fps_: np.ndarray, k_: int, confirm=None, text_hashes=None):
            def confirm_and_record(a: np.ndarray, b: np.ndarray) -> np.ndarray:
                alike = confirm(a, b)
                links.append((a[alike], b[alike]))
                return alike
            return original(fps_, k_, confirm_and_record, text_hashes)

        module.keep_first_of_clusters = recording
        try:
            started = time.perf_counter()
            kept, _ = operator.find_duplicates(fps, lambda positions: texts.take(pa.array(positions)))
            seconds = time.perf_counter() - started
        finally:
            module.keep_first_of_clusters = original
        return kept, links, seconds
    started = time.perf_counter()
    kept, _ = operator.find_duplicates(fps[:, 0])
    seconds = time.perf_counter() - started
    return kept, links, seconds


def candidate_links(fps: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The pairs the unconfirmed mode links by: as `keep_first_of_clusters` would confirm them."""
    from etlcore.simhash import keep_first_of_clusters

    seen: list[tuple[np.ndarray, np.ndarray]] = []

    def everything(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        seen.append((a, b))
        return np.ones(len(a), dtype=np.bool_)

    keep_first_of_clusters(fps, k, everything)
    return np.concatenate([a for a, _ in seen]), np.concatenate([b for _, b in seen])


def measure(n: int, k: int, thresholds: list[float]) -> None:
    path = corpus(n)
    table = pj.read_json(path)
    texts = table.column("text").combine_chunks().cast(pa.large_string())
    python_texts = texts.to_pylist()
    ids = table.column("id").to_pylist()
    truth = json.loads(path.with_suffix(".truth.json").read_text(encoding="utf-8"))
    position = {doc: i for i, doc in enumerate(ids)}
    copies = [(position[doc], position[info["source"]], info["edit"]) for doc, info in truth["near_dup"].items()]
    fps = fingerprints(texts, k)
    decide(fps[:1000], texts, k, 0.5)  # compile the kernels first
    decide(fps[:1000], texts, k, 0)
    print(f"\n== {n:,} documents ({path.stat().st_size / 1e6:,.0f} MB), distance {k} ==")
    print("| confirm_similarity | removed | unalike removed | unalike links | "
          + " | ".join(sorted({edit for _, _, edit in copies})) + " | decision s |")
    print("|---" * (5 + len({edit for _, _, edit in copies})) + "|")
    base_seconds = None
    for threshold in thresholds:
        kept, links, seconds = decide(fps, texts, k, threshold)
        if threshold == 0:
            base_seconds = seconds
            a, b = candidate_links(fps[:, 0], k)
        else:
            a = np.concatenate([x for x, _ in links]) if links else np.zeros(0, np.int64)
            b = np.concatenate([y for _, y in links]) if links else np.zeros(0, np.int64)
        root = np.where(kept >= 0, kept, np.arange(len(kept)))
        removed = np.flatnonzero(kept >= 0)
        unalike_removed = sum(ratio(python_texts[d], python_texts[kept[d]]) < 50 for d in removed)
        unalike_links = sum(ratio(python_texts[x], python_texts[y]) < 50 for x, y in zip(a.tolist(), b.tolist()))
        together: dict[str, list[bool]] = {}
        for copy, source, edit in copies:
            together.setdefault(edit, []).append(bool(root[copy] == root[source]))
        extra = "" if base_seconds is None or threshold == 0 else f" (+{seconds - base_seconds:.2f})"
        print(f"| {threshold:g} | {len(removed):,} | {unalike_removed:,} | {unalike_links:,} | "
              + " | ".join(f"{np.mean(together[e]):.3f}" for e in sorted(together)) + f" | {seconds:.2f}{extra} |")


def end_to_end(n: int, k: int, thresholds: list[float]) -> None:
    path = corpus(n)
    print(f"\netlcore run, deduplication alone, {n:,} documents, 1 worker:")
    with tempfile.TemporaryDirectory() as tmp:
        for threshold in thresholds:
            config = Path(tmp) / f"config-{threshold}.json"
            config.write_text(json.dumps({"deduplication": [{"name": "deduplication_simhash", "args": {
                "distance": k, "confirm_similarity": threshold}}]}), encoding="utf-8")
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "etlcore", "run", str(path), "--config", str(config), "--output",
                            str(Path(tmp) / f"out-{threshold}.jsonl"), "--workers", "1", "--quiet"], check=True,
                           stdout=subprocess.DEVNULL)
            wall = time.perf_counter() - started
            result = json.loads((Path(tmp) / f"out-{threshold}.jsonl.etlcore" / "result.json").read_text())
            summary = result["etlcore"]
            print(f"  confirm_similarity {threshold:g}: run {wall:.2f} s, deduplication_simhash "
                  f"{summary['operators'][0]['seconds']:.2f} s, {summary['rejected_rows']:,} rejected")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, nargs="+", default=[100_000])
    parser.add_argument("--distance", type=int, default=6)
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0, 0.3, 0.4, 0.5, 0.6, 0.7])
    parser.add_argument("--run-thresholds", type=float, nargs="*", default=[0, 0.5])
    args = parser.parse_args()
    for n in args.docs:
        measure(n, args.distance, args.thresholds)
        if args.run_thresholds:
            end_to_end(n, args.distance, args.run_thresholds)


if __name__ == "__main__":
    main()
