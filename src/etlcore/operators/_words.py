"""What the word-based filters share: the special characters, which documents are Chinese, and the
words of each document. Each is computed once per batch, whichever filters ask for it.

- A document is Chinese when at least half of its letters (Unicode category L) are Han characters.
- Words: a Chinese document is segmented with jieba's algorithm (the `rjieba` package, HMM for unknown
  words on); any other document is split on whitespace. Every token then loses the special characters
  at both of its ends (see `SPECIAL_CHARACTERS`), and tokens that become empty (punctuation-only,
  whitespace, emoji) are not words.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Callable
from itertools import chain
from typing import TypeVar

import emoji
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import regex
import rjieba

from etlcore.textstats import class_counts, share

# ROOTS' special characters (bigscience-workshop/data-preparation, also in Baidu's `qianfan` local
# operators) less the ideographs 一 上 士 and the katakana ン ッ ツ シ, which are ordinary words there.
OTHER_SPECIAL = (
    "\u0092\u2009\u0093\u0097\u200a\u009d\u0099\u202f\u0096\u2005\u0095\u0091\u009c\u3000\u2002\u00a0"
    "\u2008\u0098\u0081\u2003\u0082\ufffc\u0083\u0084\u0085\u00ad\u200b\ufeff"
    "’“”–ー▬…✦�£•€«»°·═×＾˘⇓↓↑←→（）§″′´¿−±∈¢ø‚„½¼¾¹²³―⁃，ˌ¸‹›ʺˈʻ¦‐⠀‰‑≤≥‖"
    "◆●■►▼▲▴∆▻¡★☆✱ːº。¯˜¥ɪ≈†：∼⁄・♡✓⊕․．⋅÷１‟；،、¨\u093e\u09be\u0940\u094d\u0947◦˚゜ʼ≖¤℃√！【】‿∞➤～πه"
    "۩☛₨➩☻๑٪♥ıॽ《‘©﴿٬？▷Г♫∟™ª₪®「—❖」﴾》"
)
SPECIAL_CHARACTERS: frozenset[str] = frozenset(
    string.punctuation + string.digits + string.whitespace + OTHER_SPECIAL
    + "".join(e for e in emoji.EMOJI_DATA if len(e) == 1)
)
_SPECIAL_STRING = "".join(sorted(SPECIAL_CHARACTERS))


@functools.cache
def special_table() -> np.ndarray:
    """Boolean over all code points: is it in SPECIAL_CHARACTERS."""
    table = np.zeros(0x110000, dtype=np.bool_)
    table[[ord(c) for c in SPECIAL_CHARACTERS]] = True
    return table


@functools.cache
def _all_code_points() -> str:
    return "".join(map(chr, range(0xD800))) + "".join(map(chr, range(0xE000, 0x110000)))


def code_point_table(pattern: str) -> np.ndarray:
    """Boolean over all code points: does the single character match `pattern` (a `regex` pattern)."""
    table = np.zeros(0x110000, dtype=np.bool_)
    table[[ord(m.group()) for m in regex.finditer(pattern, _all_code_points())]] = True
    return table


@functools.cache
def _script_classes() -> np.ndarray:
    """Per code point: 1 a Han letter, 2 another letter, 3 a Han character that is not a letter (〇,
    radicals), 0 anything else."""
    han, letter = code_point_table(r"\p{Han}"), code_point_table(r"\p{L}")
    classes = np.zeros(0x110000, dtype=np.uint8)
    classes[letter] = 2
    classes[han & letter] = 1
    classes[han & ~letter] = 3
    return classes


T = TypeVar("T")


def per_batch(compute: Callable[[pa.Array], T]) -> Callable[[pa.Array], T]:
    """Remember the result for the last batch: the pipeline hands every filter the same array object,
    so a statistic several filters need is computed once per batch."""
    last: list = [None, None]

    @functools.wraps(compute)
    def cached(texts: pa.Array) -> T:
        if last[0] is not texts:
            last[:] = [texts, compute(texts)]
        return last[1]

    return cached


@per_batch
def is_chinese(texts: pa.Array) -> np.ndarray:
    """Per document: True when at least half of its letters are Han characters."""
    _, han_letters, other_letters, han_others = class_counts(texts, _script_classes(), 4).T
    return share(han_letters + han_others, han_letters + other_letters) >= 0.5


@per_batch
def words(texts: pa.Array) -> pa.LargeListArray:
    """Per document, its words (see the module docstring), as a list array in document order."""
    chinese = is_chinese(texts)
    tokens = pc.utf8_split_whitespace(texts).cast(pa.large_list(pa.large_string()))
    if chinese.any():
        rows = np.flatnonzero(chinese)
        segmented = [rjieba.cut(text) for text in texts.take(pa.array(rows)).to_pylist()]
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum([len(words) for words in segmented], out=offsets[1:])
        values = pa.array(chain.from_iterable(segmented), pa.large_string(), size=int(offsets[-1]))
        chinese_tokens = pa.LargeListArray.from_arrays(pa.array(offsets), values)
        # Put each Chinese document's tokens in its place: all documents in order, picking per row.
        order = np.empty(len(texts), dtype=np.int64)
        order[~chinese] = np.arange(int((~chinese).sum()))
        order[chinese] = np.arange(len(rows)) + int((~chinese).sum())
        tokens = pa.concat_arrays([tokens.filter(pa.array(~chinese)), chinese_tokens]).take(pa.array(order))
    return _strip_special(tokens)


def _strip_special(tokens: pa.LargeListArray) -> pa.LargeListArray:
    flat = pc.utf8_trim(tokens.flatten(), characters=_SPECIAL_STRING)
    keep = pc.greater(pc.utf8_length(flat), 0)
    parents = pc.list_parent_indices(tokens).to_numpy()
    counts = np.bincount(parents[np.asarray(keep)], minlength=len(tokens))
    offsets = np.zeros(len(tokens) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return pa.LargeListArray.from_arrays(pa.array(offsets), flat.filter(keep))
