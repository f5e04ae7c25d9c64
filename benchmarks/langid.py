"""Language id: etlcore's compiled fastText predictor against fastText's own `predict` (fasttext-predict),
same model (lid.176.ftz), same batches, one process, CPU time, interleaved rounds, best of N.

    .venv/bin/python benchmarks/langid.py [--docs 20000] [--batch-size 10000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.json as pj

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import corpus

from etlcore.operators._langid import identify, identify_with_fasttext


def cpu_seconds(function, batches: list[pa.Array]) -> tuple[float, list]:
    started = time.process_time()
    results = [function(batch.slice(0)) for batch in batches]  # fresh arrays: no per-batch cache hit
    return time.process_time() - started, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    texts = pj.read_json(corpus(args.docs)).column("text").combine_chunks()
    batches = [texts.slice(start, args.batch_size) for start in range(0, len(texts), args.batch_size)]
    megabytes = sum(batch.nbytes for batch in batches) / 1e6
    identify(batches[0].slice(0, 10))  # load the models and compiled code before timing
    identify_with_fasttext(batches[0].slice(0, 10))
    best = {"fastText predict": float("inf"), "etlcore": float("inf")}
    same = True
    for _ in range(args.rounds):
        seconds, reference = cpu_seconds(identify_with_fasttext, batches)
        best["fastText predict"] = min(best["fastText predict"], seconds)
        seconds, results = cpu_seconds(identify, batches)
        best["etlcore"] = min(best["etlcore"], seconds)
        same = same and all(np.array_equal(ours[0], theirs[0]) and np.array_equal(ours[1], theirs[1])
                            for ours, theirs in zip(results, reference, strict=True))
    load = os.getloadavg()
    print(f"{len(texts):,} documents ({megabytes:.1f} MB), batches of {args.batch_size:,}, best of {args.rounds}, "
          f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    for name, seconds in best.items():
        print(f"| {name} | {seconds:.2f} s CPU | {len(texts) / seconds:,.0f} docs/s |")
    print(f"speed-up {best['fastText predict'] / best['etlcore']:.1f}x; codes and probabilities equal: {same}")


if __name__ == "__main__":
    main()
