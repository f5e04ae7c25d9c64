"""Compile etlcore's numba kernels ahead of the first run.

The text statistics, simhash and perplexity kernels are compiled by numba the first time they run and
cached beside their modules (`cache=True`, `__pycache__/*.nbi`, `*.nbc`), so the first run after an
install spends tens of seconds compiling and every later one none. `python -m etlcore.kernels`
(`scripts/setup.sh` runs it after installing) warms that cache by running the embedded default config,
every filter and deduplication included, over a few documents and encoding a table as big JSON Lines
outputs are; a run that finds the cache cold says `compiling kernels (first run only)…` on a terminal.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import orjson

# Kernels every run of the default config compiles: while one has no cached code, the cache is cold.
_WITNESSES = (("etlcore.textstats", "_unit_counts"), ("etlcore.simhash", "_fingerprints"),
              ("etlcore.operators.filter_check_perplexity", "_normalise"),
              ("etlcore.operators._words", "_split_and_strip_kernel"), ("etlcore.operators._fasttext", "_predict"),
              ("etlcore.operators._kenlm_trie", "_score_sentences"))



def cold() -> bool:
    """Whether the first run would compile kernels (no cached code for one every run needs)."""
    import importlib

    for module, name in _WITNESSES:
        try:
            kernel = getattr(importlib.import_module(module), name)
            if not kernel._cache._cache_file._load_index():  # numba's own index: empty when missing or stale
                return True
        except Exception:  # a numba without these internals: say nothing rather than fail a run
            return False
    return False


def warm() -> float:
    """Compile (or load) every kernel the default config uses; returns the seconds it took."""
    import etlcore
    from etlcore.cli import default_config
    from etlcore.pipeline import WARM_UP_TEXTS

    started = time.perf_counter()
    rows = [{"id": str(n), "text": f"{text}\n{text}" if n % 3 == 0 else text}
            for n, text in enumerate(WARM_UP_TEXTS * 4)]
    with tempfile.TemporaryDirectory(prefix="etlcore-kernels-") as folder:
        corpus = Path(folder) / "corpus.jsonl"
        corpus.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in rows))
        etlcore.run(default_config(), [corpus], Path(folder) / "out.jsonl", workers=1)
        words = {"deduplication": [{"name": "deduplication_simhash",
                                    "args": {"distance": 5, "tokenization": "word"}}]}
        etlcore.run(words, [corpus], Path(folder) / "words.jsonl", workers=1)
    _encode_a_big_table()
    return time.perf_counter() - started


def _encode_a_big_table() -> None:
    """The JSON Lines encoder's kernels: it works column by column only on tables of many rows."""
    import pyarrow as pa

    from etlcore.io.reader import JSON_TEXT
    from etlcore.io.writer import COLUMNWISE_FROM_ROWS, table_jsonl

    rows = COLUMNWISE_FROM_ROWS
    table = pa.table({"id": [str(n) for n in range(rows)], "text": ['a "quoted"\ttext, é 中文'] * rows,
                      "n": pa.array(range(rows), pa.int64()), "flag": [True] * rows, "none": pa.nulls(rows)})
    table = table.append_column(pa.field("meta", pa.string(), metadata=JSON_TEXT), pa.array(['{"k": [1]}'] * rows))
    table_jsonl(table)


def main() -> int:
    was_cold = cold()
    seconds = warm()
    print(f"etlcore: kernels {'compiled' if was_cold else 'already compiled'} ({seconds:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
