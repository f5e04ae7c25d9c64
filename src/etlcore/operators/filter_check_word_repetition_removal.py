from __future__ import annotations

import numpy as np
import pyarrow as pa

from etlcore.operators._words import words
from etlcore.operators.base import Arg, Filter
from etlcore.registry import register
from etlcore.textstats import word_repetition_ratio


@register
class FilterCheckWordRepetitionRemoval(Filter):
    """Reject a document whose word repetition ratio exceeds `word_repetition_max_cutoff` (BigScience
    ROOTS): over the document's words (as `filter_check_number_words` counts them), take every run of
    `word_repetition_length` consecutive words (default 5, for Chinese and other languages alike);
    the ratio is the number of those n-grams that occur more than once in the document, counting every
    occurrence, divided by the number of n-grams; 0 when it has fewer words than n. Words are compared
    as written (no case folding). "a b c d e a b c d e" with n=5 has 6 n-grams, "a b c d e" twice: 2/6."""

    name = "filter_check_word_repetition_removal"
    stage = "filter"
    statistic = "word_rep_ratio"
    max_cutoff = "word_repetition_max_cutoff"
    args = (
        Arg("word_repetition_max_cutoff", float, "highest word repetition ratio kept", required=True,
            minimum=0, maximum=1),
        Arg("word_repetition_length", int, "words per n-gram", default=5, minimum=1, maximum=100),
    )
    word_repetition_max_cutoff: float
    word_repetition_length: int

    def compute(self, texts: pa.StringArray) -> np.ndarray:
        return word_repetition_ratio(words(texts), self.word_repetition_length)

    def keep(self, values: np.ndarray) -> np.ndarray:
        return values <= self.word_repetition_max_cutoff
