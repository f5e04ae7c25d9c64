r"""64-bit simhash fingerprints over Arrow batches, and the exact search for near-duplicate pairs.

Fingerprint recipe (the same on every machine and in every process):
0. Optional, when the line counts of the corpus are given (`FrequentLines`, which
   `deduplication_simhash` uses by default): the lines of a document (split at U+000A, each folded as
   in step 1 and hashed) that occur in at least `threshold` documents of the corpus are left out,
   unless they hold at least half of its code points. Boilerplate then does not separate a copy from
   its source, while a document made mostly of common lines (a syndicated story, a quoted post) keeps
   them: left out, they would leave its fingerprint to a short remainder that unrelated texts match.
1. Fold every code point through one table: its NFKC form, then its lower case, where each is a
   single code point (full-width Ａ，１ become a , 1; Ⅻ or ½, which NFKC expands, stay); then every
   punctuation mark, symbol, separator, control, format or unassigned code point and all whitespace
   (Unicode P, S, Z, C, \s, judged on the folded character) is deleted (`char` tokenization) or
   ends a word (`word` tokenization). Punctuation width, spacing and emoji do not change a fingerprint.
2. Features: `char`: every run of n consecutive code points (a text shorter than that is one
   feature); `word`: every run of n consecutive words, where a word is a maximal run of non-space
   characters outside the CJK blocks, or a single CJK character. n is `ngram`, except for a short text,
   one with fewer than `short_text` (default 200) folded code points, where it is `ngram` - 1 (at least
   1): one edited character changes n features, and simhash flips bits in proportion to the changed
   share of them, which for n = 3 is too large a share of a short text (measured on make_corpus.py's
   1 M corpus: one character edit per 300 keeps 0.96 instead of 0.87 of the copies of 100-200
   character texts within 6 bits, 0.67 instead of 0.51 under 100, and no more unrelated texts come
   that close).
3. Each feature is hashed to 64 bits (FNV-1a over its code points, then the SplitMix64 finaliser);
   every occurrence adds +1 to the 64 bit counters where its hash has a 1 and -1 where it has a 0; bit i
   of the fingerprint is 1 when counter i is positive. An empty normalised text has fingerprint 0.
The kernels are compiled with numba over the UTF-8 buffer of a whole batch: no Python loop per document.

Search (`near_duplicate_pairs`): every pair of fingerprints at Hamming distance <= k, exactly.
The 64 bits are cut into b = k + r blocks; two fingerprints within distance k agree on at least r
blocks (pigeonhole), so for every choice of r blocks the fingerprints are grouped by those blocks'
bits (a counting sort) and compared within each group by XOR and popcount. A pair is reported only by
the first choice of blocks on which it agrees, so each pair once. r is chosen by a cost model from the
number of fingerprints; the tables run on every core. Memory: the fingerprints (8 bytes each) and, per
search thread, a key, a grouped copy and a position per fingerprint (20 bytes) plus a counting array of
at most 2^16 entries; never the texts.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import combinations

import numba
import numpy as np
import pyarrow as pa
import regex

from etlcore.tablecache import code_point_cache
from etlcore.textstats import (
    FNV_OFFSET,
    FNV_PRIME,
    code_point_buffer,
    decode_utf8,
    mix64,
    nfkc_lower_table,
    utf8_buffers,
)

_DELETE = -1


@code_point_cache
def fold_table() -> np.ndarray:
    """Code point -> folded code point, or -1 (deleted), for U+0000..U+E007F; beyond, identity."""
    table = nfkc_lower_table()[:0xE0080].copy()
    folded = "".join(map(chr, np.where((table >= 0xD800) & (table <= 0xDFFF), 0x61, table).tolist()))
    table[[m.start() for m in regex.finditer(r"[\p{P}\p{S}\p{Z}\p{C}\s]", folded)]] = _DELETE
    return table


SHORT_TEXT = 200


def simhash_fingerprints(texts: list[str] | pa.Array | pa.ChunkedArray, ngram: int = 3,
                         tokenization: str = "char", frequent_lines: FrequentLines | None = None,
                         short_text: int = SHORT_TEXT, text_hashes: bool = False) -> np.ndarray:
    """One 64-bit simhash per text (numpy uint64), by the recipe of this module's docstring; with
    `frequent_lines`, the lines it counts as frequent are left out (step 0 of the recipe); texts of
    fewer than `short_text` folded code points use `ngram` - 1 (step 2; 0 turns that off).
    With `text_hashes`, shape (texts, 2): each fingerprint and a 64-bit hash of the whole folded text
    (step 1 only, every line kept), which tells copies that differ only in what folding deletes."""
    data, offsets = utf8_buffers(texts)
    if len(offsets) < 2:
        return np.zeros((0, 2) if text_hashes else 0, dtype=np.uint64)
    sketch, threshold = (frequent_lines.counts.table, frequent_lines.threshold) if frequent_lines else (_NO_SKETCH, 0)
    prints, hashes = _fingerprints(data, offsets, ngram, short_text, tokenization == "word", fold_table(), sketch,
                                   threshold)
    return np.stack([prints, hashes], axis=1) if text_hashes else prints


# -- frequent lines ------------------------------------------------------------------------------

SKETCH_BITS = 22
_NO_SKETCH = np.zeros((2, 1), dtype=np.uint32)
_NEWLINE = 0x0A


class LineCounts:
    """In how many documents of a corpus each line occurs, in fixed memory: a count-min sketch of two
    rows of 2^22 32-bit counters (32 MB), indexed by the low and the high half of the line's hash. A
    count is never too low; it is too high only when both of its counters are shared with other lines."""

    def __init__(self, table: np.ndarray | None = None) -> None:
        self.table = np.zeros((2, 1 << SKETCH_BITS), dtype=np.uint32) if table is None else table

    def add(self, hashes: np.ndarray) -> None:
        """Count each hash once: pass one hash per distinct line of a document (`line_hashes`)."""
        _count_lines(self.table, np.ascontiguousarray(hashes, dtype=np.uint64))

    def count(self, hashes: np.ndarray) -> np.ndarray:
        """The (sketched) document count of each line hash."""
        return _counts(self.table, np.ascontiguousarray(hashes, dtype=np.uint64))


@dataclass(frozen=True)
class FrequentLines:
    """Lines found in at least `threshold` documents: left out of fingerprints (boilerplate)."""

    counts: LineCounts
    threshold: int


def line_hashes(texts: list[str] | pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The hash of every distinct line of every text, concatenated: a line is the text between two
    U+000A, folded as in step 1 of the recipe (so punctuation width and spacing do not matter);
    lines that fold to nothing are not lines. Feed these to `LineCounts.add`."""
    data, offsets = utf8_buffers(texts)
    if len(offsets) < 2:
        return np.zeros(0, dtype=np.uint64)
    # The buffer of a slice is its parent's: count only this slice's bytes.
    bound = int(np.count_nonzero(data[offsets[0]: offsets[-1]] == _NEWLINE)) + len(offsets) - 1
    return _distinct_line_hashes(data, offsets, fold_table(), bound)


@numba.njit(cache=True)
def _lines(cps: np.ndarray, count: int, table: np.ndarray, hashes: np.ndarray, starts: np.ndarray,
           ends: np.ndarray) -> int:
    """The lines of one document's code points (before folding) that do not fold to nothing: their
    hashes (FNV-1a over the folded code points kept, then SplitMix64) and where they are."""
    lines = 0
    start = 0
    h = FNV_OFFSET
    empty = True
    for i in range(count + 1):
        if i == count or cps[i] == _NEWLINE:
            if not empty:
                hashes[lines], starts[lines], ends[lines] = mix64(h), start, i
                lines += 1
            start, h, empty = i + 1, FNV_OFFSET, True
            continue
        cp = cps[i]
        folded = table[cp] if cp < len(table) else cp
        if folded != _DELETE:
            h = (h ^ np.uint64(folded)) * FNV_PRIME
            empty = False
    return lines


@numba.njit(cache=True)
def _distinct_line_hashes(data: np.ndarray, offsets: np.ndarray, table: np.ndarray, bound: int) -> np.ndarray:
    cps = code_point_buffer(offsets)
    hashes = np.empty(len(cps), dtype=np.uint64)  # a line holds at least one code point
    starts = np.empty(len(cps), dtype=np.int64)
    ends = np.empty(len(cps), dtype=np.int64)
    out = np.empty(bound, dtype=np.uint64)
    found = 0
    for d in range(len(offsets) - 1):
        count = decode_utf8(data, offsets[d], offsets[d + 1], cps)
        lines = _lines(cps, count, table, hashes, starts, ends)
        mine = np.sort(hashes[:lines])
        for i in range(lines):
            if i == 0 or mine[i] != mine[i - 1]:
                out[found] = mine[i]
                found += 1
    return out[:found]


@numba.njit(cache=True)
def _count_lines(table: np.ndarray, hashes: np.ndarray) -> None:
    mask = np.uint64(table.shape[1] - 1)
    for h in hashes:
        table[0, h & mask] += 1
        table[1, (h >> np.uint64(32)) & mask] += 1


@numba.njit(cache=True, inline="always")
def _count_of(sketch: np.ndarray, h: np.uint64) -> int:
    """The smaller of the line's two counters: never below its true count."""
    mask = np.uint64(sketch.shape[1] - 1)
    return min(sketch[0, h & mask], sketch[1, (h >> np.uint64(32)) & mask])


@numba.njit(cache=True)
def _counts(sketch: np.ndarray, hashes: np.ndarray) -> np.ndarray:
    out = np.empty(len(hashes), dtype=np.int64)
    for i in range(len(hashes)):
        out[i] = _count_of(sketch, hashes[i])
    return out


@numba.njit(cache=True, inline="always")
def _is_frequent(sketch: np.ndarray, h: np.uint64, threshold: int) -> bool:
    return _count_of(sketch, h) >= threshold


@numba.njit(cache=True, inline="always")
def _has_newline(data: np.ndarray, start: int, end: int) -> bool:
    for i in range(start, end):  # noqa: SIM110 - numba compiles no generator inside any()
        if data[i] == _NEWLINE:
            return True
    return False


@numba.njit(cache=True)
def _blank_frequent_lines(cps: np.ndarray, count: int, table: np.ndarray, sketch: np.ndarray, threshold: int,
                          hashes: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> None:
    """Overwrite the frequent lines of one document with newlines (which folding deletes), unless
    they hold at least half of its code points: a document made mostly of common lines keeps them."""
    lines = _lines(cps, count, table, hashes, starts, ends)
    frequent_code_points = 0
    for i in range(lines):
        if _is_frequent(sketch, hashes[i], threshold):
            frequent_code_points += ends[i] - starts[i]
    if frequent_code_points == 0 or 2 * frequent_code_points >= count:
        return
    for i in range(lines):
        if _is_frequent(sketch, hashes[i], threshold):
            cps[starts[i]: ends[i]] = _NEWLINE


@numba.njit(cache=True, inline="always")
def _is_cjk(cp: int) -> bool:
    return (0x2E80 <= cp <= 0x9FFF or 0xAC00 <= cp <= 0xD7AF or 0xF900 <= cp <= 0xFAFF
            or 0x20000 <= cp <= 0x3FFFF)


@numba.njit(cache=True)
def _fold(out: np.ndarray, count: int, table: np.ndarray) -> None:
    """Code points into folded code points (-1 for deleted ones), in place."""
    for i in range(count):
        cp = out[i]
        out[i] = table[cp] if cp < len(table) else cp


@numba.njit(cache=True)
def _word_hashes(cps: np.ndarray, count: int, out: np.ndarray) -> int:
    """Hash of each word (see the module docstring) into `out`; returns how many words."""
    words = 0
    h = FNV_OFFSET
    in_word = False
    for i in range(count):
        cp = cps[i]
        if cp == _DELETE or _is_cjk(cp):
            if in_word:
                out[words] = h
                words += 1
                in_word = False
                h = FNV_OFFSET
            if cp != _DELETE:
                out[words] = (FNV_OFFSET ^ np.uint64(cp)) * FNV_PRIME
                words += 1
        else:
            h = (h ^ np.uint64(cp)) * FNV_PRIME
            in_word = True
    if in_word:
        out[words] = h
        words += 1
    return words


@numba.njit(cache=True)
def _fingerprints(data: np.ndarray, offsets: np.ndarray, ngram: int, short_text: int, words: bool,
                  table: np.ndarray, sketch: np.ndarray, threshold: int) -> np.ndarray:
    n = len(offsets) - 1
    result = np.zeros(n, dtype=np.uint64)
    text_hashes = np.zeros(n, dtype=np.uint64)
    longest = 0
    for d in range(n):
        longest = max(longest, offsets[d + 1] - offsets[d])
    units = np.empty(longest + 1, dtype=np.uint64)  # code points, or word hashes
    cps = np.empty(longest + 1, dtype=np.int64)
    planes = np.zeros(40, dtype=np.uint64)
    hashes = np.empty(longest + 1, dtype=np.uint64)
    starts = np.empty(longest + 1, dtype=np.int64)
    ends = np.empty(longest + 1, dtype=np.int64)
    for d in range(n):
        count = decode_utf8(data, offsets[d], offsets[d + 1], cps)
        h = FNV_OFFSET
        for i in range(count):
            folded = table[cps[i]] if cps[i] < len(table) else cps[i]
            if folded != _DELETE:
                h = (h ^ np.uint64(folded)) * FNV_PRIME
        text_hashes[d] = mix64(h)
        if threshold > 0 and _has_newline(data, offsets[d], offsets[d + 1]):  # one line is never left out
            _blank_frequent_lines(cps, count, table, sketch, threshold, hashes, starts, ends)
        _fold(cps, count, table)
        kept = 0
        for i in range(count):
            if cps[i] != _DELETE:
                units[kept] = np.uint64(cps[i])
                kept += 1
        n_gram = max(1, ngram - 1) if kept < short_text else ngram
        count = _word_hashes(cps, count, units) if words else kept
        if count == 0:
            continue
        # Bit-sliced counting: planes[p] holds bit p of the number of hashes with a 1 in each of the
        # 64 lanes, so adding a hash costs a binary increment (about two word operations), not 64 adds.
        planes[:] = 0
        width = min(n_gram, count)
        features = count - width + 1
        for start in range(features):
            h = FNV_OFFSET
            for j in range(width):
                h = (h ^ units[start + j]) * FNV_PRIME
            carry = mix64(h)
            p = 0
            while carry:
                overflow = planes[p] & carry
                planes[p] ^= carry
                carry = overflow
                p += 1
        fingerprint = np.uint64(0)
        for bit in range(64):
            ones = 0
            for p in range(40):
                ones |= int((planes[p] >> np.uint64(bit)) & np.uint64(1)) << p
            if 2 * ones > features:
                fingerprint |= np.uint64(1) << np.uint64(bit)
        result[d] = fingerprint
    return result, text_hashes


# -- confirming a pair by its texts -------------------------------------------------------------

@numba.njit(cache=True)
def _folded(data: np.ndarray, start: int, end: int, table: np.ndarray, cps: np.ndarray) -> int:
    """The folded code points of data[start:end] (deleted ones dropped) into the front of `cps`."""
    count = decode_utf8(data, start, end, cps)
    _fold(cps, count, table)
    kept = 0
    for i in range(count):
        if cps[i] != _DELETE:
            cps[kept] = cps[i]
            kept += 1
    return kept


@numba.njit(cache=True)
def _gram_set(cps: np.ndarray, count: int, n: int) -> np.ndarray:
    """Sorted distinct hashes of the n-grams of cps[:count] (the whole text when shorter than n)."""
    width = min(n, count)
    grams = np.empty(max(0, count - width + 1), dtype=np.uint64)
    for start in range(len(grams)):
        h = FNV_OFFSET
        for j in range(width):
            h = (h ^ np.uint64(cps[start + j])) * FNV_PRIME
        grams[start] = mix64(h)
    return np.unique(grams)


@numba.njit(cache=True, nogil=True)
def _jaccard(data: np.ndarray, offsets: np.ndarray, left: np.ndarray, right: np.ndarray, table: np.ndarray,
             ngram: int, short_text: int) -> np.ndarray:
    out = np.zeros(len(left), dtype=np.float64)
    cps_a = code_point_buffer(offsets)
    cps_b = code_point_buffer(offsets)
    grams_a = np.zeros(0, dtype=np.uint64)
    count_a, last_a, last_n = 0, -1, -1
    for p in range(len(left)):
        a, b = left[p], right[p]
        if a != last_a:  # pairs come grouped by their first document: fold it and its n-grams once
            count_a = _folded(data, offsets[a], offsets[a + 1], table, cps_a)
            last_a, last_n = a, -1
        count_b = _folded(data, offsets[b], offsets[b + 1], table, cps_b)
        if count_a == 0 or count_b == 0:
            out[p] = 1.0 if count_a == count_b else 0.0
            continue
        if count_a == count_b:  # most candidates are copies: the same folded text needs no n-gram sets
            same = True
            for i in range(count_a):
                if cps_a[i] != cps_b[i]:
                    same = False
                    break
            if same:
                out[p] = 1.0
                continue
        n = max(1, ngram - 1) if min(count_a, count_b) < short_text else ngram
        if n != last_n:
            grams_a, last_n = _gram_set(cps_a, count_a, n), n
        grams_b = _gram_set(cps_b, count_b, n)
        common, i, j = 0, 0, 0
        while i < len(grams_a) and j < len(grams_b):
            if grams_a[i] == grams_b[j]:
                common += 1
                i += 1
                j += 1
            elif grams_a[i] < grams_b[j]:
                i += 1
            else:
                j += 1
        out[p] = common / (len(grams_a) + len(grams_b) - common)
    return out


def text_similarity(texts: list[str] | pa.Array, left: np.ndarray, right: np.ndarray, ngram: int = 3,
                    short_text: int = SHORT_TEXT) -> np.ndarray:
    """Per pair (texts[left[p]], texts[right[p]]): the Jaccard similarity of the sets of character
    n-grams of the two folded texts (folded as in step 1 of the recipe: NFKC, lower case, punctuation,
    symbols and whitespace deleted). n is `ngram`, or `ngram` - 1 when either text has fewer than
    `short_text` folded code points, as for the fingerprints; a text shorter than n is one n-gram.
    Two texts that fold to nothing are alike (1); one such text is unlike any other (0)."""
    data, offsets = utf8_buffers(texts)
    left, right = np.ascontiguousarray(left, dtype=np.int64), np.ascontiguousarray(right, dtype=np.int64)
    threads = min(os.cpu_count() or 1, max(1, len(left) // 1000))
    parts = np.array_split(np.arange(len(left)), threads)
    table = fold_table()
    with ThreadPoolExecutor(threads) as pool:  # the kernel releases the GIL
        results = pool.map(lambda part: _jaccard(data, offsets, left[part], right[part], table, ngram, short_text),
                           parts)
    return np.concatenate([np.zeros(0), *results])


# -- search ---------------------------------------------------------------------------------------

def _blocks(count: int) -> list[tuple[int, int]]:
    """(shift, width) of `count` blocks covering the 64 bits, as even as possible."""
    widths = [64 // count + (1 if i < 64 % count else 0) for i in range(count)]
    shifts = np.cumsum([0, *widths[:-1]]).tolist()
    return list(zip(shifts, widths))


_KEY_BITS = 16  # a counting array of 2^16 entries stays in the CPU cache


def _plan(n: int, k: int) -> int:
    """How many blocks must agree (r), by a cost model: per table a pass over the fingerprints plus
    the comparisons inside groups of n / 2^(key bits) fingerprints."""
    best, best_cost = 1, float("inf")
    for r in range(1, 5):
        tables = math.comb(k + r, r)
        key_bits = min(sum(w for _, w in _blocks(k + r)[:r]), _KEY_BITS)
        cost = tables * (4 * n + n * (n / 2**key_bits) / 2)
        if cost < best_cost:
            best, best_cost = r, cost
    return best


@numba.njit(cache=True, inline="always")
def _popcount(x: np.uint64) -> int:
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return int((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


@numba.njit(cache=True)
def _key(fingerprint: np.uint64, shifts: np.ndarray, widths: np.ndarray) -> int:
    key = 0
    for b in range(len(shifts)):
        part = (fingerprint >> np.uint64(shifts[b])) & np.uint64((1 << widths[b]) - 1)
        key = (key << widths[b]) | int(part)
    return key


@numba.njit(cache=True)
def _agreeing_blocks(x: np.uint64, all_shifts: np.ndarray, all_widths: np.ndarray) -> np.ndarray:
    agree = np.zeros(len(all_shifts), dtype=np.bool_)
    for b in range(len(all_shifts)):
        agree[b] = ((x >> np.uint64(all_shifts[b])) & np.uint64((1 << all_widths[b]) - 1)) == 0
    return agree


@numba.njit(cache=True)
def _first_combination_is(agree: np.ndarray, chosen: np.ndarray) -> bool:
    """Whether `chosen` (sorted block indices) is the first r-combination of the agreeing blocks."""
    r = len(chosen)
    taken = 0
    for b in range(len(agree)):
        if agree[b]:
            if b != chosen[taken]:
                return False
            taken += 1
            if taken == r:
                return True
    return False


@numba.njit(cache=True, nogil=True)
def _table_pairs(fps: np.ndarray, k: int, chosen: np.ndarray, all_shifts: np.ndarray, all_widths: np.ndarray,
                 key_shift: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One table: group the fingerprints by the chosen blocks (a counting sort on their bits) and
    compare within each group; keep the pairs within k for which this is the first agreeing choice."""
    n = len(fps)
    shifts = all_shifts[chosen]
    widths = all_widths[chosen]
    size = 1 << (int(widths.sum()) - key_shift)
    starts = np.zeros(size + 1, dtype=np.int32)
    keys = np.empty(n, dtype=np.int32)
    for i in range(n):
        keys[i] = _key(fps[i], shifts, widths) >> key_shift
        starts[keys[i] + 1] += 1
    for b in range(size):
        starts[b + 1] += starts[b]
    grouped = np.empty(n, dtype=np.uint64)
    order = np.empty(n, dtype=np.int64)
    fill = starts.copy()
    for i in range(n):
        grouped[fill[keys[i]]] = fps[i]
        order[fill[keys[i]]] = i
        fill[keys[i]] += 1
    capacity = 1024
    out_i = np.empty(capacity, np.int64)
    out_j = np.empty(capacity, np.int64)
    out_d = np.empty(capacity, np.int64)
    found = 0
    for b in range(size):
        end = starts[b + 1]
        for a in range(starts[b], end):
            fa = grouped[a]
            for c in range(a + 1, end):
                x = fa ^ grouped[c]
                distance = _popcount(x)
                if distance > k or not _first_combination_is(_agreeing_blocks(x, all_shifts, all_widths), chosen):
                    continue
                if found == capacity:
                    capacity *= 2
                    out_i, out_j, out_d = _grow(out_i, capacity), _grow(out_j, capacity), _grow(out_d, capacity)
                i, j = order[a], order[c]
                out_i[found], out_j[found], out_d[found] = min(i, j), max(i, j), distance
                found += 1
    return out_i[:found], out_j[:found], out_d[:found]


@numba.njit(cache=True, nogil=True)
def _grow(array: np.ndarray, capacity: int) -> np.ndarray:
    bigger = np.empty(capacity, array.dtype)
    bigger[: len(array)] = array
    return bigger


def near_duplicate_pairs(fingerprints: np.ndarray, k: int,
                         threads: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair (i < j) of positions whose fingerprints differ in at most k bits, with its distance.
    Exact: no pair is missed, none is reported twice. The tables run on `threads` threads (default:
    every core), the compiled kernel releasing the GIL."""
    fps = np.ascontiguousarray(fingerprints, dtype=np.uint64)
    empty = np.zeros(0, np.int64)
    if len(fps) < 2:
        return empty, empty.copy(), empty.copy()
    r = _plan(len(fps), k)
    blocks = _blocks(k + r)
    all_shifts = np.array([s for s, _ in blocks], dtype=np.int64)
    all_widths = np.array([w for _, w in blocks], dtype=np.int64)

    def table(chosen: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        chosen_array = np.array(chosen, dtype=np.int64)
        key_shift = max(0, int(all_widths[chosen_array].sum()) - _KEY_BITS)
        return _table_pairs(fps, k, chosen_array, all_shifts, all_widths, key_shift)

    with ThreadPoolExecutor(threads or os.cpu_count() or 1) as pool:
        results = list(pool.map(table, combinations(range(k + r), r)))
    return tuple(np.concatenate([result[part] for result in results]) for part in range(3))


def brute_force_pairs(fingerprints: np.ndarray, k: int) -> set[tuple[int, int]]:
    """All pairs (i < j) within distance k, by comparing every pair: the reference for tests."""
    fps = np.asarray(fingerprints, dtype=np.uint64)
    pairs: set[tuple[int, int]] = set()
    for i in range(len(fps) - 1):
        x = np.bitwise_xor(fps[i + 1:], fps[i])
        distance = np.bitwise_count(x)
        for j in np.flatnonzero(distance <= k):
            pairs.add((i, i + 1 + int(j)))
    return pairs


@numba.njit(cache=True)
def _find(parent: np.ndarray, x: int) -> int:
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


@numba.njit(cache=True)
def _components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Union-find over n items joined by the pairs; returns each item's root."""
    parent = np.arange(n)
    for p in range(len(left)):
        a, b = _find(parent, left[p]), _find(parent, right[p])
        if a != b:
            parent[max(a, b)] = min(a, b)
    for x in range(n):
        parent[x] = _find(parent, x)
    return parent


def confirmed_links(group: np.ndarray, left: np.ndarray, right: np.ndarray,
                    confirm: Callable[[np.ndarray, np.ndarray], np.ndarray], text_hashes: np.ndarray | None = None,
                    prepare: Callable[[np.ndarray], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The pairs of documents that `confirm` accepts, checked in rounds (each one call of `confirm`):
    - documents with the same fingerprint (`group`: each document's fingerprint number) and the same
      text hash (`text_hashes`, when given: a hash of the folded text) link to the first of them without
      a check, so exact duplicates are always caught;
    - the other documents with the same fingerprint: in each round the first document of a fingerprint
      not yet placed becomes a representative, and every other such document is checked against it;
      those it does not confirm go to the next round. After CONFIRM_ROUNDS rounds the documents still
      not placed stay on their own (with their exact copies);
    - fingerprints within the distance (`left`, `right`, fingerprint numbers): every representative of
      the one against every representative of the other.
    `prepare`, when given, is told once, before the first check, every document that may be checked
    (sorted positions), so that their texts can be read in one go."""
    positions = np.arange(len(group))
    by_group = positions[np.argsort(group, kind="stable")]  # by fingerprint, in input order within each
    linked_a, linked_b, representatives = [], [], []
    if text_hashes is None:
        pending = by_group
    else:
        keys = np.stack([group[by_group].astype(np.uint64), text_hashes[by_group]], axis=1)
        _, first, copy_of = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        firsts = by_group[first]  # np.unique keeps the first occurrence: the earliest document of each text
        copy_of = copy_of.ravel()
        copies = firsts[copy_of] != by_group
        linked_a.append(firsts[copy_of][copies])
        linked_b.append(by_group[copies])
        pending = by_group[~copies]
    if prepare is not None and len(pending):
        groups = group[pending]
        sizes = np.bincount(groups, minlength=int(group.max()) + 1)
        near = np.zeros(len(sizes), dtype=np.bool_)
        near[left], near[right] = True, True
        prepare(np.sort(pending[(sizes[groups] > 1) | near[groups]]))
    for _ in range(CONFIRM_ROUNDS):
        if len(pending) == 0:
            break
        groups = group[pending]
        heads = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
        head_of = pending[heads][np.cumsum(np.r_[True, groups[1:] != groups[:-1]]) - 1]
        representatives.append(pending[heads])
        others = np.ones(len(pending), dtype=np.bool_)
        others[heads] = False
        a, b = head_of[others], pending[others]
        alike = np.asarray(confirm(a, b), dtype=np.bool_) if len(a) else np.zeros(0, np.bool_)
        linked_a.append(a[alike])
        linked_b.append(b[alike])
        pending = b[~alike]
    if len(left):
        reps = np.concatenate(representatives)
        reps = reps[np.argsort(group[reps], kind="stable")]
        starts = np.searchsorted(group[reps], np.arange(int(group.max()) + 2))
        a_parts, b_parts = [], []
        for u, v in zip(left.tolist(), right.tolist()):
            reps_u, reps_v = reps[starts[u]:starts[u + 1]], reps[starts[v]:starts[v + 1]]
            a_parts.append(np.repeat(reps_u, len(reps_v)))
            b_parts.append(np.tile(reps_v, len(reps_u)))
        a, b = np.concatenate(a_parts), np.concatenate(b_parts)
        alike = np.asarray(confirm(a, b), dtype=np.bool_) if len(a) else np.zeros(0, np.bool_)
        linked_a.append(a[alike])
        linked_b.append(b[alike])
    empty = np.zeros(0, np.int64)
    return (np.concatenate([empty, *linked_a]).astype(np.int64), np.concatenate([empty, *linked_b]).astype(np.int64))


PairCheck = Callable[[np.ndarray, np.ndarray], np.ndarray]
CONFIRM_ROUNDS = 8  # most unalike texts one fingerprint is split into; the rest of them are kept apart


def keep_first_of_clusters(fingerprints: np.ndarray, k: int, confirm: PairCheck | None = None,
                           text_hashes: np.ndarray | None = None,
                           prepare: Callable[[np.ndarray], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Near-duplicate clusters (connected components of the pairs within distance k, exact duplicates
    included) and, per document in input order: the index of its cluster's first document (-1 for that
    first document itself, which is kept), and its Hamming distance to that kept document.

    With `confirm` (document positions a, b -> bool per pair), only confirmed pairs link documents; see
    `confirmed_links` for which pairs are checked (documents with equal `text_hashes` and fingerprints
    link unchecked)."""
    fps = np.asarray(fingerprints, dtype=np.uint64)
    if len(fps) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    unique, first, inverse = np.unique(fps, return_index=True, return_inverse=True)
    left, right, _ = near_duplicate_pairs(unique, k)
    if confirm is not None:
        linked_a, linked_b = confirmed_links(inverse.ravel(), left, right, confirm, text_hashes, prepare)
        kept = _components(len(fps), linked_a, linked_b)  # each root is its component's smallest position
        kept_index = np.where(kept == np.arange(len(fps)), -1, kept)
        return kept_index, np.bitwise_count(fps ^ fps[kept]).astype(np.int64)
    roots = _components(len(unique), left, right)
    earliest = np.full(len(unique), len(fps), dtype=np.int64)
    np.minimum.at(earliest, roots, first)  # the first document of each cluster
    kept = earliest[roots[inverse.ravel()]]
    kept_index = np.where(kept == np.arange(len(fps)), -1, kept)
    distance = np.bitwise_count(fps ^ fps[kept]).astype(np.int64)
    return kept_index, distance
