from __future__ import annotations

import numpy as np
import pyarrow as pa

from etlcore.operators._words import special_table
from etlcore.operators.base import Arg, Filter
from etlcore.registry import register
from etlcore.textstats import class_counts, share


@register
class FilterCheckSpecialCharacters(Filter):
    """Reject a document whose share of special characters exceeds `special_characters_max_cutoff`.
    The share is special code points / all code points (0 for an empty text). The special set (BigScience
    ROOTS' set, also Baidu qianfan's) is: ASCII punctuation !"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~, the digits
    0-9, the ASCII whitespace (space, \\t \\n \\r \\x0b \\x0c), every emoji that is a single code point
    (from the `emoji` package), the code points U+0081-U+0085, U+0091-U+0093, U+0095-U+0099, U+009C,
    U+009D, U+00A0, U+00AD, U+093E, U+0940, U+0947, U+094D, U+09BE, U+2002, U+2003, U+2005,
    U+2008-U+200B, U+202F, U+3000, U+FEFF, and these:
        ￼’“”–ー▬…✦�£•€«»°·═×＾˘⇓↓↑←→（）§″′´¿−±∈¢ø‚„½¼¾¹²³―⁃，ˌ¸‹›ʺˈʻ¦‐⠀‰‑≤≥‖◆●■►▼▲▴∆▻¡★☆✱ːº。
        ¯˜¥ɪ≈†：∼⁄・♡✓⊕․．⋅÷１‟；،、¨◦˚゜ʼ≖¤℃√！【】‿∞➤～πه۩☛₨➩☻๑٪♥ıॽ《‘©﴿٬？▷Г♫∟™ª₪®「—❖」﴾》
    The one deliberate difference from ROOTS' and Qianfan's set (qianfan 0.4.12.3, consts.py; checked
    code point by code point, emoji included): the ideographs 一 上 士 and the katakana ン ッ ツ シ are
    not special here, because they are ordinary words ("一个", "上海", "シャツ"): Qianfan's word filters,
    which strip special characters off the ends of words, turn 一种 into 种 and count 一 or 上 standing
    alone as no word at all. (The other deliberate difference, in the word filters: English words are
    split on every Unicode space, Qianfan's on " ", "\\n" and "\\t" only.)
    "价格：100元！" has 8 code points, 5 special (：1 0 0 ！): 5/8."""

    name = "filter_check_special_characters"
    stage = "filter"
    statistic = "special_ratio"
    max_cutoff = "special_characters_max_cutoff"
    args = (Arg("special_characters_max_cutoff", float, "highest share of special characters kept",
                required=True, minimum=0, maximum=1),)
    special_characters_max_cutoff: float

    def compute(self, texts: pa.StringArray) -> np.ndarray:
        counts = class_counts(texts, special_table(), 2)
        return share(counts[:, 1], counts.sum(axis=1))

    def keep(self, values: np.ndarray) -> np.ndarray:
        return values <= self.special_characters_max_cutoff
