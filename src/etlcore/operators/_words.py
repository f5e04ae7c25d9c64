"""What the word-based filters share: the special characters, which documents are Chinese, and the
words of each document. Each is computed once per batch, whichever filters ask for it.

- The language rule (`is_chinese`, the one rule every filter uses: words, the character n-gram length,
  the perplexity model) weighs units, not letters. Each Han character is one unit; each run of
  consecutive letters of an alphabetic script (Latin, Cyrillic, Greek, ...: a word, combining marks
  included, and ASCII digits inside or after it: MP3, ACER422G32, one word for jieba and whitespace
  alike) is one unit; other digits are no units; each kana or Hangul letter is one unit; full-width
  letters (ＡＢＣ) are no units but count with the full-width forms below. A document is Chinese when
  Han characters are at least half of its units ("我买了MacBook Pro，很好用" is 6 Han units against 2:
  MacBook, Pro), or when it holds at least 20 Han characters and they are at least a fifth of its
  units: a Chinese paragraph followed by a longer English quote ("大年初一一大早，笔者来到山东省肥城市汶阳镇
  大武村饲养小区。" + 36 English words: 27 Han units against 36) is Chinese. Why the second clause:
  Latin words are common in Chinese text (names, terms, quotes, code), whole Chinese sentences are rare
  in English text, where Han characters come as a name, a term or a title of a few characters; 20 Han
  characters are a sentence (four in five People's Daily sentences hold at least 20, the median 33),
  and a fifth keeps an English text of more than 80 words with one such sentence English. Measured by
  benchmarks/language_quality.py (mixed zh/en documents, seed 16, with Qianfan's reference values):
  99.5 % of the 1,000 Chinese documents get the reference's words and repetition statistics (98.1 % by
  the half rule alone, 98.0 % before digits joined a run; the 5 left hold no Han character, e.g.
  English-only reviews in the review set); 99.0-99.7 % of those of 5 further seeds are called Chinese
  (97.7-99.2 % by the half rule alone). English fortunes with Chinese put in are called Chinese exactly
  as often as by the half rule alone: a 2-4 character word 0 of 1,320, a 4-8 character phrase 1.9 % of
  900, 8-16 characters 26.6 % (a flat threshold of 0.4 instead of one half: 99.0 % of the Chinese
  documents, but 11.4 % and 51.3 %); with a 16-32 character sentence 86.6 % (67.2 % by the half rule
  alone): a mixed document, Chinese on purpose.
  A document without letters is Chinese when it holds CJK punctuation or full-width forms
  (U+3001-U+303F, U+FE30-U+FE4F, U+FF01-U+FF65: "，。！１２３") and at least as many of them as
  ASCII digits and punctuation: "####１２８５·１６２" is Chinese (7 full-width digits against 4 #).
  Any other document (no letters and no such marks: empty, emoji, "……") is not Chinese.
- Words: a Chinese document is segmented with jieba's dictionary and algorithm as the `rjieba` package
  (a Rust port) implements it, HMM for unknown words on. rjieba keeps a run of Latin letters and digits
  joined by + # & . _ % - whole where jieba's HMM step splits it (`TF-SD|卡套` against jieba's
  `TF|-|SD|卡套`); such tokens are split as jieba splits them (`segment`), which makes the tokens
  jieba 0.42.1's on all 14,400 People's Daily paragraphs and on all but 2 of 35,123 product-review
  lines (1.79 % of them differed before). Any other document is split on every Unicode whitespace
  (Qianfan's reference only on " ", "\\n" and "\\t": a deliberate difference). Every token then
  loses the special characters at both of its ends (see `SPECIAL_CHARACTERS`), and tokens that become
  empty (punctuation-only, whitespace, emoji) are not words.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Callable
from itertools import chain
from typing import TypeVar

import emoji
import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import regex
import rjieba

from etlcore.tablecache import code_point_cache
from etlcore.textstats import code_point_at, unit_counts, utf8_buffers

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


# Classes of code points for the language rule.
_NEUTRAL, _HAN_CLASS, _ALPHABETIC, _SYLLABIC, _CJK_MARK, _ASCII_MARK, _COMBINING, _ASCII_DIGIT = range(8)
_LANGUAGE_CLASSES = 8


@code_point_cache
def _language_classes() -> np.ndarray:
    """Per code point its class for `is_chinese` (later assignments win)."""
    classes = np.zeros(0x110000, dtype=np.uint8)
    ascii_marks = np.zeros(0x110000, dtype=np.bool_)
    ascii_marks[0x21:0x7F] = True
    classes[ascii_marks] = _ASCII_MARK
    classes[ord("0"):ord("9") + 1] = _ASCII_DIGIT
    for first, last in ((0x3001, 0x303F), (0xFE30, 0xFE4F), (0xFF01, 0xFF65)):
        classes[first:last + 1] = _CJK_MARK
    classes[code_point_table(r"\p{M}")] = _COMBINING
    classes[code_point_table(r"\p{L}")] = _ALPHABETIC
    classes[code_point_table(r"[\p{scx=Hiragana}\p{scx=Katakana}\p{scx=Hangul}]") & code_point_table(r"\p{L}")] = (
        _SYLLABIC)
    classes[code_point_table(r"\p{Han}")] = _HAN_CLASS
    classes[0xFF01:0xFF66] = _CJK_MARK  # full-width letters too: "ＩＳＯ９００１" is Chinese typesetting
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


# A Chinese passage: at least this many Han characters, making at least this share of the units.
PASSAGE_HAN = 20
PASSAGE_SHARE_DENOMINATOR = 5


def language_unit_counts(texts: pa.Array) -> np.ndarray:
    """Per document, its units and marks by class (`_HAN_CLASS`, `_ALPHABETIC`, ...; shape (documents,
    `_LANGUAGE_CLASSES`)): a run of letters of an alphabetic script counts once, ASCII digits inside
    or after it belong to it ("ACER422G32" is one unit), other ASCII digits are ASCII marks."""
    joined = np.zeros(_LANGUAGE_CLASSES, dtype=np.bool_)
    joined[_ALPHABETIC] = True
    return unit_counts(texts, _language_classes(), _LANGUAGE_CLASSES, joined, _COMBINING, _ASCII_DIGIT)


@per_batch
def is_chinese(texts: pa.Array) -> np.ndarray:
    """Per document: is it Chinese, by the units rule of the module docstring: Han characters at least
    half of the units, or at least `PASSAGE_HAN` of them making at least 1/`PASSAGE_SHARE_DENOMINATOR`
    of the units; without units, by its CJK against its ASCII marks."""
    counts = language_unit_counts(texts)
    han = counts[:, _HAN_CLASS]
    units = han + counts[:, _ALPHABETIC] + counts[:, _SYLLABIC]
    cjk_marks, ascii_marks = counts[:, _CJK_MARK], counts[:, _ASCII_MARK] + counts[:, _ASCII_DIGIT]
    by_marks = (cjk_marks > 0) & (cjk_marks >= ascii_marks)
    by_units = (2 * han >= units) | ((han >= PASSAGE_HAN) & (PASSAGE_SHARE_DENOMINATOR * han >= units))
    return np.where(units > 0, by_units, by_marks)


# jieba's HMM step (`finalseg.cut`) splits a run of characters that are not Han into the matches of
# this pattern and what lies between them ("e-mail" -> e - mail, "48.8GB" -> 48.8 GB); rjieba keeps
# such a run whole. Its tokens are split the same way after the fact, so that the words are jieba's.
_JIEBA_SKIP = regex.compile(r"([a-zA-Z0-9]+(?:\.\d+)?%?)")
_JOINED_RUN = regex.compile(r"[A-Za-z0-9][+#&._%-]|[+#&._%-][A-Za-z0-9]")
_HAN = regex.compile(r"\p{Han}")


def segment(text: str) -> list[str]:
    """jieba's tokens of `text`: rjieba's, with its joined runs of letters, digits and + # & . _ % -
    split as jieba's HMM step splits them."""
    tokens = rjieba.cut(text)
    if not _JOINED_RUN.search(text):
        return tokens
    split: list[str] = []
    for token in tokens:
        # Such a run is ASCII: `isascii` (C speed) spares the regex searches on every Chinese word.
        if len(token) > 1 and token.isascii() and _JOINED_RUN.search(token):
            split += [piece for piece in _JIEBA_SKIP.split(token) if piece]
        else:
            split.append(token)
    return split


# Separates the tokens of a document in one joined string, which Arrow splits into a list array in
# one call (instead of an Arrow string built from millions of Python strings). A document holding it
# is segmented the slow way.
_TOKEN_SEPARATOR = "\x00"


def segmented_joined(texts: list[str]) -> list[str] | None:
    """Per text, its jieba tokens (`segment`) joined by `_TOKEN_SEPARATOR`, possibly with empty tokens
    and whitespace tokens between lines (both are no words); None when a text holds the separator.

    jieba (and rjieba) cut a text into blocks at every character outside its Han-and-alphanumeric
    class, whitespace included, and segment each block alone: a text's tokens are its lines' tokens
    with the newlines between them. So each distinct line is segmented once per batch: repeated lines
    (boilerplate, quotes, copies) cost a dictionary look-up."""
    if any(_TOKEN_SEPARATOR in text for text in texts):
        return None
    line_tokens: dict[str, str] = {}
    joined = []
    newline = _TOKEN_SEPARATOR + "\n" + _TOKEN_SEPARATOR
    for text in texts:
        parts = []
        for line in text.split("\n"):
            tokens = line_tokens.get(line)
            if tokens is None:
                tokens = line_tokens[line] = _TOKEN_SEPARATOR.join(segment(line))
            parts.append(tokens)
        joined.append(newline.join(parts))
    return joined


@per_batch
def words(texts: pa.Array) -> pa.LargeListArray:
    """Per document, its words (see the module docstring), as a list array in document order."""
    texts = texts.fill_null("")
    chinese = is_chinese(texts)
    if chinese.any():
        rows = np.flatnonzero(chinese)
        chinese_texts = texts.take(pa.array(rows)).to_pylist()
        joined = segmented_joined(chinese_texts)
        others = texts.filter(pa.array(~chinese))
        if joined is not None and not pc.any(pc.match_substring(others, _TOKEN_SEPARATOR)).as_py():
            # Every document as one string of its tokens joined by the separator, split and stripped in
            # one pass over the bytes.
            all_joined = np.empty(len(texts), dtype=object)
            all_joined[rows] = joined
            all_joined[~chinese] = pc.binary_join(pc.utf8_split_whitespace(others), _TOKEN_SEPARATOR).to_pylist()
            return _split_and_strip(pa.array(all_joined, pa.large_string()), ord(_TOKEN_SEPARATOR))
        segmented = [segment(text) for text in chinese_texts]
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum([len(words) for words in segmented], out=offsets[1:])
        values = pa.array(chain.from_iterable(segmented), pa.large_string(), size=int(offsets[-1]))
        chinese_tokens = pa.LargeListArray.from_arrays(pa.array(offsets), values)
        # Put each Chinese document's tokens in its place: all documents in order, picking per row.
        tokens = pc.utf8_split_whitespace(texts).cast(pa.large_list(pa.large_string()))
        order = np.empty(len(texts), dtype=np.int64)
        order[~chinese] = np.arange(int((~chinese).sum()))
        order[chinese] = np.arange(len(rows)) + int((~chinese).sum())
        return _strip_special(pa.concat_arrays([tokens.filter(pa.array(~chinese)), chinese_tokens]).take(
            pa.array(order)))
    return _strip_special(pc.utf8_split_whitespace(texts).cast(pa.large_list(pa.large_string())))


def _strip_special(tokens: pa.LargeListArray) -> pa.LargeListArray:
    """`tokens` each without the special characters at its ends, those left empty dropped."""
    stripped = _split_and_strip(tokens.flatten(), _NO_SEPARATOR)
    # A document's new offset is the number of tokens kept before its first one.
    offsets = tokens.offsets.to_numpy()
    kept_before = stripped.offsets.to_numpy()
    return pa.LargeListArray.from_arrays(pa.array(kept_before[offsets - offsets[0]]), stripped.flatten())


# No byte equals it: each string is one token.
_NO_SEPARATOR = 256


def _split_and_strip(pieces: pa.Array, separator: int) -> pa.LargeListArray:
    """Per string of `pieces`, its tokens (the parts between `separator` bytes) without the special
    characters at their ends, tokens left empty dropped."""
    data, offsets = utf8_buffers(pieces)
    piece_offsets, token_offsets, token_bytes = _split_and_strip_kernel(data, offsets, special_table(), separator)
    values = pa.LargeStringArray.from_buffers(len(token_offsets) - 1, pa.py_buffer(token_offsets),
                                              pa.py_buffer(token_bytes))
    return pa.LargeListArray.from_arrays(pa.array(piece_offsets), values)


@numba.njit(cache=True, nogil=True)
def _split_and_strip_kernel(data: np.ndarray, offsets: np.ndarray, special: np.ndarray,
                            separator: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(per piece the index of its first kept token, plus the total; the kept tokens' offsets into the
    third: their bytes, one after the other)."""
    pieces = len(offsets) - 1
    first, last = offsets[0], offsets[pieces]
    separators = 0
    for i in range(first, last):
        if data[i] == separator:
            separators += 1
    piece_offsets = np.empty(pieces + 1, dtype=np.int64)
    token_offsets = np.empty(separators + pieces + 1, dtype=np.int64)
    token_bytes = np.empty(last - first, dtype=np.uint8)
    token_offsets[0] = 0
    tokens = 0
    written = 0
    for piece in range(pieces):
        piece_offsets[piece] = tokens
        end = offsets[piece + 1]
        start = offsets[piece]
        while True:
            stop = start
            while stop < end and data[stop] != separator:
                stop += 1
            left = start
            while left < stop:
                cp, width = code_point_at(data, left)
                if not special[cp]:
                    break
                left += width
            right = stop
            while right > left:
                begin = right - 1
                while data[begin] & 0xC0 == 0x80:
                    begin -= 1
                cp, _ = code_point_at(data, begin)
                if not special[cp]:
                    break
                right = begin
            if right > left:
                for i in range(left, right):
                    token_bytes[written] = data[i]
                    written += 1
                tokens += 1
                token_offsets[tokens] = written
            if stop >= end:
                break
            start = stop + 1
    piece_offsets[pieces] = tokens
    return piece_offsets, token_offsets[:tokens + 1].copy(), token_bytes[:written].copy()
