"""Throughput of every mapper (clean, desensitization, legacy) on the same generated corpus.

    .venv/bin/python benchmarks/operators.py [--docs 100000] [--batch-size 10000]

The corpus is read once into Arrow batches; each operator's `map_texts` is then timed over all of
them (one process, one core), so the figures are the operators' own cost, without I/O. For scale,
the time pyarrow takes to read the file is printed too, and for the two operators with an obvious
per-document peer (the `emoji` package's `replace_emoji`, OpenCC's `convert`), the peer's time on the
same texts.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import emoji
import opencc
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import corpus

from etlcore.operators.base import Mapper
from etlcore.registry import operators

REQUIRED = {"cut": {"max_length": 1000}}


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=10_000)
    args = parser.parse_args()
    path = corpus(args.docs)
    read_seconds = min(timed(lambda: pj.read_json(path)) for _ in range(2))
    texts = pj.read_json(path).column("text").combine_chunks().cast(pa.string())
    batches = [texts.slice(i, args.batch_size) for i in range(0, len(texts), args.batch_size)]
    megabytes = sum(b.nbytes for b in batches) / 1e6
    print(f"corpus: {args.docs:,} documents, {megabytes:,.0f} MB of text ({path.name})")
    floor = path.stat().st_size / 1e6 / read_seconds
    print(f"pyarrow.json.read_json of the file: {read_seconds:.2f} s = {floor:,.0f} MB/s (the I/O floor, for scale)\n")
    print(f"{'operator':<44}{'stage':<17}{'seconds':>8}{'MB/s':>9}{'docs/s':>12}{'changed':>9}")
    for name, cls in sorted(operators().items(), key=lambda item: (item[1].stage, item[0])):
        if issubclass(cls, Mapper):
            operator = cls(**{**{a.name: a.default for a in cls.args}, **REQUIRED.get(name, {})})
            operator.map_texts(batches[0][:100])  # build tables, load converters
            started = time.perf_counter()
            results = [operator.map_texts(batch) for batch in batches]
            seconds = time.perf_counter() - started
            changed = sum(pc.sum(pc.not_equal(new, old)).as_py() for new, old in zip(results, batches))
            print(f"{name:<44}{cls.stage:<17}{seconds:>8.2f}{megabytes / seconds:>9,.0f}"
                  f"{len(texts) / seconds:>12,.0f}{changed:>9,}")
    plain = [text for batch in batches for text in batch.to_pylist()]
    converter = opencc.OpenCC("t2s")
    peers = [
        ("peer: emoji.replace_emoji per document", lambda: [emoji.replace_emoji(t, "") for t in plain]),
        ("peer: OpenCC('t2s').convert per document", lambda: [converter.convert(t) for t in plain]),
    ]
    for name, function in peers:
        seconds = timed(function)
        print(f"{name:<61}{seconds:>8.2f}{megabytes / seconds:>9,.0f}{len(texts) / seconds:>12,.0f}")


if __name__ == "__main__":
    main()
