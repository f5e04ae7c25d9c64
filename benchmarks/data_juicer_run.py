"""Run data-juicer's recipe, one operator at a time, timed; called by vs_data_juicer.py in data-juicer's venv.

    /work/dj-venv/bin/python benchmarks/data_juicer_run.py RECIPE.json INPUT.jsonl --np N --part whole|filters
        [--out OUT.jsonl] [--stats STATS.jsonl]

RECIPE.json (written by vs_data_juicer.py) lists `process` entries as data-juicer's YAML does, each with
a `family` (clean, filter, deduplication, desensitization). `whole`: load the JSONL, run every operator in
order through its own `run` (as data-juicer's executor does), write the kept documents as JSONL. `filters`:
every filter on the same loaded documents, each alone, stats kept (`reduce=False`), written to STATS.jsonl
(one line per document: the filters' statistics). Prints one JSON line: per operator its wall seconds,
and the process's and its children's CPU seconds. Imports only data-juicer and the standard library.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path


def cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("recipe")
    parser.add_argument("input")
    parser.add_argument("--np", type=int, default=1)
    parser.add_argument("--part", choices=("whole", "filters"), default="whole")
    parser.add_argument("--out")
    parser.add_argument("--stats")
    args = parser.parse_args()

    started, started_cpu = time.perf_counter(), cpu()
    import datasets
    from data_juicer.core.data import NestedDataset
    from data_juicer.ops import load_ops

    datasets.disable_caching()
    datasets.disable_progress_bars()
    recipe = json.loads(Path(args.recipe).read_text(encoding="utf-8"))
    process = [{name: {**op_args, "num_proc": args.np, "auto_op_parallelism": False}}
               for entry in recipe["process"] for name, op_args in entry.items() if name != "family"]
    families = [entry["family"] for entry in recipe["process"]]
    if args.part == "filters":
        process = [p for p, family in zip(process, families) if family == "filter"]
    ops = load_ops(process)
    dataset = NestedDataset(datasets.load_dataset("json", data_files=args.input, split="train"))
    # One-off set-up that the first operator would pay, counted as load: the first map, and the torch
    # import of data-juicer's `free_models` (called after every operator).
    dataset.select(range(min(10, len(dataset)))).map(lambda x: x)
    from data_juicer.utils.model_utils import free_models
    free_models()
    timings = [{"name": "load (imports, JSONL read, models)", "family": "io",
                "seconds": time.perf_counter() - started, "cpu": cpu() - started_cpu}]

    def timed(name: str, family: str, function):
        clock, clock_cpu = time.perf_counter(), cpu()
        result = function()
        timings.append({"name": name, "family": family, "seconds": time.perf_counter() - clock,
                        "cpu": cpu() - clock_cpu})
        return result

    if args.part == "whole":
        for op, entry in zip(ops, recipe["process"]):
            dataset = timed(op._name, entry["family"], lambda op=op, dataset=dataset: op.run(dataset))
        kept = len(dataset)
        timed("write JSONL", "io", lambda: dataset.remove_columns(
            [c for c in dataset.column_names if c.startswith("__dj__")]).to_json(
            args.out, force_ascii=False, num_proc=args.np))
    else:
        from data_juicer.utils.constant import Fields
        stats = []
        for op in ops:  # models loaded and the stats column made outside the timings
            op.run(NestedDataset(dataset.select(range(min(50, len(dataset))))), reduce=False)
        for op in ops:
            with_stats = timed(op._name, "filter", lambda op=op: op.run(dataset, reduce=False))
            stats.append(with_stats[Fields.stats])
            kept = None
        with open(args.stats, "w", encoding="utf-8") as out:
            for row in zip(*stats):
                merged = {}
                for one in row:
                    merged.update(one)
                out.write(json.dumps(merged, ensure_ascii=False) + "\n")
    print(json.dumps({"documents": len(dataset) if args.part == "filters" else None, "kept": kept,
                      "seconds": time.perf_counter() - started, "cpu": cpu() - started_cpu, "operators": timings}))


if __name__ == "__main__":
    main()
