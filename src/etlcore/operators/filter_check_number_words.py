from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from etlcore.operators._words import words
from etlcore.operators.base import Arg, Filter
from etlcore.registry import register


@register
class FilterCheckNumberWords(Filter):
    """Keep a document when `number_words_min_cutoff` <= its number of words <= `number_words_max_cutoff`.
    Words (see `etlcore.operators._words`): a Chinese document (at least half of its letters are Han)
    is segmented with jieba's algorithm; any other is split on whitespace; tokens are stripped of
    special characters at both ends and tokens left empty (punctuation, digits-only, emoji) do not count.
    "你好，世界！" has 2 words; "Hello, world ... 42" has 2."""

    name = "filter_check_number_words"
    stage = "filter"
    statistic = "words"
    args = (
        Arg("number_words_min_cutoff", float, "fewest words a kept document has", required=True,
            minimum=1, maximum=10000),
        Arg("number_words_max_cutoff", float, "most words a kept document has", required=True,
            minimum=1, maximum=10000),
    )
    number_words_min_cutoff: float
    number_words_max_cutoff: float

    @classmethod
    def check_together(cls, values: dict[str, Any]) -> list[str]:
        low, high = values.get("number_words_min_cutoff"), values.get("number_words_max_cutoff")
        if low is not None and high is not None and low > high:
            return [f"operator '{cls.name}': number_words_min_cutoff {low:g} is greater than "
                    f"number_words_max_cutoff {high:g}"]
        return []

    def compute(self, texts: pa.StringArray) -> np.ndarray:
        return pc.list_value_length(words(texts)).to_numpy(zero_copy_only=False).astype(np.float64)

    def keep(self, values: np.ndarray) -> np.ndarray:
        return (values >= self.number_words_min_cutoff) & (values <= self.number_words_max_cutoff)
