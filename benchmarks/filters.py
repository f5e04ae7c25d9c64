"""Throughput of every filter on the same generated corpus, and the perplexity filter against its limit.

    .venv/bin/python benchmarks/filters.py [--docs 100000] [--batch-size 10000]

1. Each filter's `compute` + `keep` over all batches, one process, one core, fresh batches for each
   filter (so it pays for the segmentation or language id it needs), with the seed's cutoffs. The two
   shared steps (word segmentation, fastText language id) are timed alone too.
2. Perplexity against raw `kenlm.Model.score` on the same pre-tokenised lines (the physical limit:
   `score` mapped over a list of the lines, no other work), and against data-juicer's method (per document:
   SentencePiece pieces, joined, scored line by line with KenLM) re-run with the same KenLM models and a
   SentencePiece model trained here on the same texts (`pip install sentencepiece` first).
3. The whole filter stage through the engine (`etlcore.run`, JSONL in and out), 1 and 2 workers.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.json as pj

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import corpus

import etlcore
from etlcore.operators._langid import identify
from etlcore.operators._words import words
from etlcore.operators.filter_check_perplexity import default_model_path, lm_tokens, load_model, model_languages
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


def perplexity_limits(batches: list[pa.Array]) -> None:
    models = {language: load_model(default_model_path(language)) for language in ("zh", "en")}
    per_batch_lines = []
    for batch in batches:
        lines = {"zh": [], "en": []}
        for language, text in zip(model_languages(batch), lm_tokens(batch)[0].to_pylist()):
            lines[language] += text.split("\n") if text else []
        per_batch_lines.append(lines)
    tokens = sum(len(line.split()) for lines in per_batch_lines for group in lines.values() for line in group)

    def raw(lines: dict[str, list[str]]) -> None:  # the tightest call of `score` from Python
        for language, group in lines.items():
            collections.deque(map(models[language].score, group), maxlen=0)

    f = operators()["filter_check_perplexity"](perplexity_max_cutoff=1110)
    # Per batch, both right after fastText ran on it (as in a pipeline where lang_id runs first, which
    # also leaves the caches cold for KenLM): raw `score` over its lines, then the filter.
    raw_batches, filter_batches = [], []
    for _ in range(3):
        raw_seconds = filter_seconds = 0.0
        for batch, lines in zip(batches, per_batch_lines):
            identify(batch.slice(0))
            raw_seconds += timed(lambda lines=lines: raw(lines))
            fresh_batch = batch.slice(0)
            identify(fresh_batch)
            filter_seconds += timed(lambda b=fresh_batch: f.compute(b))
        raw_batches.append(raw_seconds)
        filter_batches.append(filter_seconds)
    all_lines = {language: [line for lines in per_batch_lines for line in lines[language]] for language in models}
    tight = min(timed(lambda: raw(all_lines)) for _ in range(3))
    standalone = timed(lambda: [f.compute(b) for b in fresh(batches)])
    raw_seconds, with_language = min(raw_batches), min(filter_batches)
    print(f"\nperplexity: {tokens:,} tokens in {sum(len(g) for lines in per_batch_lines for g in lines.values()):,} "
          "lines (best of 3)")
    print("| perplexity | s | M tokens/s | × raw score per batch |\n|---|---|---|---|")
    for name, seconds in [("raw kenlm.Model.score, each batch's pre-tokenised lines", raw_seconds),
                          ("raw kenlm.Model.score, all lines in one tight loop", tight),
                          ("etlcore filter, language shared with lang_id", with_language),
                          ("etlcore filter alone (with its fastText language id)", standalone)]:
        print(f"| {name} | {seconds:.2f} | {tokens / seconds / 1e6:.2f} | {raw_seconds / seconds:.2f} |")
    data_juicer, pieces = data_juicer_method(batches, models)
    if data_juicer:
        print(f"| data-juicer's method (SentencePiece + KenLM per document; {pieces:,} pieces) | "
              f"{data_juicer:.2f} | {pieces / data_juicer / 1e6:.2f} | {raw_seconds / data_juicer:.2f} |")
        print(f"etlcore (language shared) is {data_juicer / with_language:.2f}× data-juicer's method")


def data_juicer_method(batches: list[pa.Array], models: dict) -> tuple[float, int]:
    """(seconds, pieces scored) of data-juicer's per-document method; (0, 0) without sentencepiece."""
    try:
        import sentencepiece
    except ImportError:
        print("(data-juicer's method skipped: pip install sentencepiece)")
        return 0.0, 0
    texts = [t for b in batches for t in b.to_pylist()]
    with tempfile.TemporaryDirectory() as tmp:
        sentencepiece.SentencePieceTrainer.train(sentence_iterator=iter(texts[:20000]), model_prefix=f"{tmp}/sp",
                                                 vocab_size=8000, minloglevel=2, input_sentence_size=20000)
        processor = sentencepiece.SentencePieceProcessor(model_file=f"{tmp}/sp.model")
    languages = np.concatenate([model_languages(b) for b in batches])

    def run() -> None:
        for text, language in zip(texts, languages):
            joined = " ".join(processor.encode_as_pieces(text))
            log10_sum, length = 0.0, 0
            for line in joined.splitlines():
                log10_sum += models[language].score(line)
                length += len(line.split()) + 1
            _ = 10.0 ** (-log10_sum / length) if length else 0.0

    pieces = sum(len(processor.encode_as_pieces(text)) for text in texts)
    return timed(run), pieces


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
    parser.add_argument("--part", choices=("all", "filters", "perplexity", "engine"), default="all")
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
    if args.part in ("all", "perplexity"):
        perplexity_limits(batches)
    if args.part in ("all", "engine"):
        engine(path, len(texts), megabytes)


if __name__ == "__main__":
    main()
