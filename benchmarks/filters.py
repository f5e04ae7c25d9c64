"""Throughput of every filter on the same generated corpus, and of the whole filter stage.

    .venv/bin/python benchmarks/filters.py [--docs 100000] [--batch-size 10000]

(The perplexity filter against bare KenLM calls and data-juicer's method: `benchmarks/perplexity.py`.)

1. Each filter's `compute` + `keep` over all batches, one process, one core, fresh batches for each
   filter (so it pays for the segmentation or language id it needs), with the seed's cutoffs. The two
   shared steps (word segmentation, fastText language id) are timed alone too.
2. The whole filter stage through the engine (`etlcore.run`, JSONL in and out), 1 and 2 workers.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.json as pj

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import corpus

import etlcore
from etlcore.operators._langid import identify
from etlcore.operators._words import words
from etlcore.registry import operators

SEED_FILTERS = [
    ("filter_check_number_words", {"number_words_min_cutoff": 2.2, "number_words_max_cutoff": 10000}),
    ("filter_check_character_repetition_removal", {"default_character_repetition_max_cutoff": 0.2}),
    ("filter_check_word_repetition_removal", {"word_repetition_max_cutoff": 0.6}),
    ("filter_check_special_characters", {"special_characters_max_cutoff": 0.3}),
    ("filter_check_flagged_words", {"flagged_words_max_cutoff": 0.50556}),
    ("filter_check_lang_id", {"lang_id_min_cutoff": 0.5}),
    ("filter_check_perplexity", {"perplexity_max_cutoff": 1110}),
]


def fresh(batches: list[pa.Array]) -> list[pa.Array]:
    """New array objects over the same data: the per-batch caches start empty."""
    return [batch.slice(0) for batch in batches]


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def row(name: str, seconds: float, docs: int, megabytes: float, note: str = "") -> None:
    print(f"| {name} | {seconds:.2f} | {docs / seconds:,.0f} | {megabytes / seconds:.1f} | {note} |")


def per_filter(batches: list[pa.Array], docs: int, megabytes: float) -> None:
    print("\n| filter (one core) | s | docs/s | MB/s | rejected |\n|---|---|---|---|---|")
    registry = operators()
    row("shared: word segmentation (rjieba / whitespace)", timed(lambda: [words(b) for b in fresh(batches)]),
        docs, megabytes)
    row("shared: fastText language id", timed(lambda: [identify(b) for b in fresh(batches)]), docs, megabytes)
    for name, args in SEED_FILTERS:
        f = registry[name](**args)
        rejected = 0

        def run(f=f) -> None:
            nonlocal rejected
            rejected = sum(int((~f.keep(f.compute(b))).sum()) for b in fresh(batches))

        row(name, timed(run), docs, megabytes, f"{rejected:,}")


def engine(path: Path, docs: int, megabytes: float) -> None:
    config = {"operationsV2": {"filter": [{"name": n, "args": a} for n, a in SEED_FILTERS]}}
    print("\n| whole filter stage, etlcore.run JSONL → JSONL | s | docs/s | MB/s | speed-up |\n|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        one = timed(lambda: etlcore.run(config, [path], Path(tmp) / "one.jsonl", workers=1))
        two = timed(lambda: etlcore.run(config, [path], Path(tmp) / "two.jsonl", workers=2))
    row("1 worker", one, docs, megabytes, "1.00")
    row("2 workers", two, docs, megabytes, f"{one / two:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--part", choices=("all", "filters", "engine"), default="all")
    args = parser.parse_args()
    path = corpus(args.docs)
    texts = pj.read_json(path).column("text").combine_chunks().cast(pa.string())
    batches = [texts.slice(i, args.batch_size) for i in range(0, len(texts), args.batch_size)]
    megabytes = sum(b.nbytes for b in batches) / 1e6
    print(f"corpus: {args.docs:,} documents, {megabytes:,.0f} MB of text ({path.name})")
    for batch in batches[:1]:  # compile the numba kernels and load the models outside the timings
        for name, values in SEED_FILTERS:
            operators()[name](**values).compute(batch.slice(0, 100))
    if args.part in ("all", "filters"):
        per_filter(batches, len(texts), megabytes)
    if args.part in ("all", "engine"):
        engine(path, len(texts), megabytes)


if __name__ == "__main__":
    main()
