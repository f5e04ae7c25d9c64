from __future__ import annotations

import numpy as np
import pyarrow as pa

from etlcore.operators._words import is_chinese
from etlcore.operators.base import Arg, Filter
from etlcore.registry import register
from etlcore.textstats import character_repetition_ratio


@register
class FilterCheckCharacterRepetitionRemoval(Filter):
    """Reject a document whose character repetition ratio exceeds
    `default_character_repetition_max_cutoff` (BigScience ROOTS): count every run of n consecutive
    code points of the text as written (n = `character_repetition_length_zh`, default 3, for a Chinese
    document, `character_repetition_length`, default 10, otherwise); sort the distinct n-grams' counts in
    decreasing order and take the first k = min(floor(sqrt(distinct)), distinct - n-grams seen once) of
    them; the ratio is their sum divided by the number of n-grams; 0 for a text shorter than n.
    Chinese, the rule every filter shares: Han characters are at least half of the document's units,
    or at least 20 of them are at least a fifth of its units (each Han character one unit, each run of
    letters of an alphabetic script such as a Latin word one unit, ASCII digits inside or after it
    included, each kana or Hangul letter one unit);
    a text without letters is Chinese when its CJK punctuation and full-width forms are at least as many
    as its ASCII digits and punctuation (and there is one):
    "#########１２８５……………·１６２·１２３１７６２２０３９５６" is Chinese, n = 3, ratio 0.294.
    "哈哈哈哈哈" (n=3): 3 n-grams, 1 distinct seen 3 times, k = min(1, 1) = 1, ratio 3/3 = 1."""

    name = "filter_check_character_repetition_removal"
    stage = "filter"
    statistic = "char_rep_ratio"
    max_cutoff = "default_character_repetition_max_cutoff"
    args = (
        Arg("default_character_repetition_max_cutoff", float, "highest character repetition ratio kept",
            required=True, minimum=0, maximum=1),
        Arg("character_repetition_length", int, "n-gram length for documents that are not Chinese",
            default=10, minimum=1, maximum=1000),
        Arg("character_repetition_length_zh", int, "n-gram length for Chinese documents",
            default=3, minimum=1, maximum=1000),
    )
    default_character_repetition_max_cutoff: float
    character_repetition_length: int
    character_repetition_length_zh: int

    def compute(self, texts: pa.StringArray) -> np.ndarray:
        ngram = np.where(is_chinese(texts), self.character_repetition_length_zh, self.character_repetition_length)
        return character_repetition_ratio(texts, ngram)

    def keep(self, values: np.ndarray) -> np.ndarray:
        return values <= self.default_character_repetition_max_cutoff
