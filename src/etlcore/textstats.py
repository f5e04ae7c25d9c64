"""Per-document text statistics over whole Arrow batches, as numba kernels over the UTF-8 buffers.

Every function takes a batch (a string array, or a list array of words) and returns one float64 per
document. The filters and the analysis report call these same functions. Lengths count code points,
as Python's `len` does. Equal n-grams are found by comparing 64-bit hashes of them (FNV-1a over the
code points or bytes, then SplitMix64), so two different n-grams are taken as equal with probability
about 2^-64 per pair.
"""

from __future__ import annotations

import unicodedata

import numba
import numpy as np
import pyarrow as pa

from etlcore.tablecache import code_point_cache

FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)


@code_point_cache
def nfkc_lower_table() -> np.ndarray:
    """Code point -> its NFKC form, then that in lower case, wherever each is a single code point
    (full-width Ａ and １ become a and 1; ﬁ or ½, which NFKC expands, stay); int32 over all code points.
    One table lookup per code point instead of normalising whole strings."""
    table = np.arange(0x110000, dtype=np.int32)
    table[0x41:0x5B] += 32
    for cp in range(0x80, 0xE0080):  # nothing above has a compatibility or case mapping
        if 0xD800 <= cp <= 0xDFFF:
            continue
        char = chr(cp)
        compatible = unicodedata.normalize("NFKC", char)
        char = compatible if len(compatible) == 1 else char
        lower = char.lower()
        table[cp] = ord(lower if len(lower) == 1 else char)
    return table


def utf8_buffers(texts: pa.Array | pa.ChunkedArray | list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(UTF-8 bytes as uint8, int64 offsets with one more entry than texts) of a string batch, no copy
    where Arrow already holds it as large strings."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if not isinstance(texts, pa.Array):
        texts = pa.array(texts, pa.string())
    texts = texts.cast(pa.large_string())
    _, offsets_buffer, data_buffer = texts.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[texts.offset: texts.offset + len(texts) + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
    return data, offsets


@numba.njit(cache=True, inline="always")
def mix64(h: np.uint64) -> np.uint64:
    """SplitMix64 finaliser: spreads FNV's weak low bits over all 64."""
    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


@numba.njit(cache=True, inline="always")
def code_point_at(data: np.ndarray, i: int) -> tuple[int, int]:
    """(code point, its width in bytes) of the UTF-8 sequence starting at data[i]."""
    byte = data[i]
    if byte < 0x80:
        return int(byte), 1
    if byte < 0xE0:
        cp, width = int(byte & 0x1F), 2
    elif byte < 0xF0:
        cp, width = int(byte & 0x0F), 3
    else:
        cp, width = int(byte & 0x07), 4
    for j in range(1, width):
        cp = (cp << 6) | int(data[i + j] & 0x3F)
    return cp, width


@numba.njit(cache=True)
def decode_utf8(data: np.ndarray, start: int, end: int, out: np.ndarray) -> int:
    """UTF-8 bytes data[start:end] into code points in `out`; returns how many."""
    count = 0
    i = start
    while i < end:
        cp, width = code_point_at(data, i)
        out[count] = cp
        count += 1
        i += width
    return count


@numba.njit(cache=True)
def code_point_buffer(offsets: np.ndarray) -> np.ndarray:
    """Room for the code points of the longest text of a batch (at most one per UTF-8 byte)."""
    longest = (offsets[1:] - offsets[:-1]).max() if len(offsets) > 1 else 0
    return np.empty(max(1, longest), dtype=np.int64)


@numba.njit(cache=True)
def _repetition_of_top(hashes: np.ndarray) -> float:
    """ROOTS character repetition: sort the n-gram counts in decreasing order, take the first
    min(floor(sqrt(distinct)), distinct - singletons) of them, divide their sum by the number of n-grams."""
    total = len(hashes)
    if total == 0:
        return 0.0
    hashes.sort()
    counts = np.empty(total, dtype=np.int64)
    distinct = 0
    run = 1
    for i in range(1, total + 1):
        if i < total and hashes[i] == hashes[i - 1]:
            run += 1
        else:
            counts[distinct] = run
            distinct += 1
            run = 1
    counts = np.sort(counts[:distinct])[::-1]
    singletons = 0
    for c in counts:
        singletons += c == 1
    top = min(int(np.sqrt(distinct)), distinct - singletons)
    return counts[:top].sum() / total


@numba.njit(cache=True)
def _char_repetition(data: np.ndarray, offsets: np.ndarray, ngram: np.ndarray) -> np.ndarray:
    n_docs = len(offsets) - 1
    out = np.zeros(n_docs, dtype=np.float64)
    cps = code_point_buffer(offsets)
    for d in range(n_docs):
        count = decode_utf8(data, offsets[d], offsets[d + 1], cps)
        n = ngram[d]
        grams = count - n + 1
        if grams <= 0:
            continue
        hashes = np.empty(grams, dtype=np.uint64)
        for i in range(grams):
            h = FNV_OFFSET
            for j in range(i, i + n):
                h = (h ^ np.uint64(cps[j])) * FNV_PRIME
            hashes[i] = mix64(h)
        out[d] = _repetition_of_top(hashes)
    return out


def character_repetition_ratio(texts: pa.Array, ngram: np.ndarray) -> np.ndarray:
    """Per document: the ROOTS character repetition ratio of its character `ngram[d]`-grams (0 for a
    text shorter than n)."""
    data, offsets = utf8_buffers(texts)
    return _char_repetition(data, offsets, np.asarray(ngram, dtype=np.int64))


@numba.njit(cache=True)
def _class_counts(data: np.ndarray, offsets: np.ndarray, classes: np.ndarray, n_classes: int) -> np.ndarray:
    n_docs = len(offsets) - 1
    out = np.zeros((n_docs, n_classes), dtype=np.int64)
    cps = code_point_buffer(offsets)
    for d in range(n_docs):
        count = decode_utf8(data, offsets[d], offsets[d + 1], cps)
        for i in range(count):
            out[d, classes[cps[i]]] += 1
    return out


def class_counts(texts: pa.Array, classes: np.ndarray, n_classes: int) -> np.ndarray:
    """Per document, how many of its code points fall in each class: shape (documents, n_classes).
    `classes` maps every one of the 0x110000 code points to a class number below `n_classes`."""
    data, offsets = utf8_buffers(texts)
    return _class_counts(data, offsets, np.asarray(classes, dtype=np.uint8), n_classes)


@numba.njit(cache=True)
def _unit_counts(data: np.ndarray, offsets: np.ndarray, classes: np.ndarray, n_classes: int,
                 joined: np.ndarray, extending: int, bridging: int) -> np.ndarray:
    n_docs = len(offsets) - 1
    out = np.zeros((n_docs, n_classes), dtype=np.int64)
    cps = code_point_buffer(offsets)
    for d in range(n_docs):
        count = decode_utf8(data, offsets[d], offsets[d + 1], cps)
        previous = -1
        for i in range(count):
            c = int(classes[cps[i]])
            if c == extending or (c == bridging and previous >= 0 and joined[previous]):
                continue
            if not (joined[c] and c == previous):
                out[d, c] += 1
            previous = c
    return out


def unit_counts(texts: pa.Array, classes: np.ndarray, n_classes: int, joined: np.ndarray,
                extending: int, bridging: int = -1) -> np.ndarray:
    """Like `class_counts`, but a run of consecutive code points of a class with `joined[class]` counts
    once; code points of class `extending` (combining marks) count nowhere and do not break a run; code
    points of class `bridging` (digits) inside or after such a run count nowhere and do not break it
    ("ACER422G32" is one run), elsewhere they count in their own class."""
    data, offsets = utf8_buffers(texts)
    return _unit_counts(data, offsets, np.asarray(classes, dtype=np.uint8), n_classes,
                        np.asarray(joined, dtype=np.bool_), extending, bridging)


def share(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """part / whole per document, 0 where whole is 0."""
    return np.divide(part, whole, out=np.zeros(len(part)), where=whole > 0)


@numba.njit(cache=True)
def _word_repetition(data: np.ndarray, word_offsets: np.ndarray, doc_offsets: np.ndarray, n: int) -> np.ndarray:
    n_docs = len(doc_offsets) - 1
    out = np.zeros(n_docs, dtype=np.float64)
    for d in range(n_docs):
        first = doc_offsets[d]
        words = doc_offsets[d + 1] - first
        grams = words - n + 1
        if grams <= 0:
            continue
        word_hash = np.empty(words, dtype=np.uint64)
        for w in range(words):
            h = FNV_OFFSET
            for i in range(word_offsets[first + w], word_offsets[first + w + 1]):
                h = (h ^ np.uint64(data[i])) * FNV_PRIME
            word_hash[w] = mix64(h)
        hashes = np.empty(grams, dtype=np.uint64)
        for g in range(grams):
            h = FNV_OFFSET
            for w in range(g, g + n):
                h = (h ^ word_hash[w]) * FNV_PRIME
            hashes[g] = mix64(h)
        hashes.sort()
        repeated = 0
        run = 1
        for i in range(1, grams + 1):
            if i < grams and hashes[i] == hashes[i - 1]:
                run += 1
            else:
                if run > 1:
                    repeated += run
                run = 1
        out[d] = repeated / grams
    return out


def word_repetition_ratio(words: pa.ListArray, n: int) -> np.ndarray:
    """Per document (one list of words each): the ROOTS word repetition ratio, the share of its word
    n-grams (occurrences) that occur more than once in it (0 when it has fewer than n words)."""
    if isinstance(words, pa.ChunkedArray):
        words = words.combine_chunks()
    words = words.cast(pa.large_list(pa.large_string()))
    doc_offsets = np.asarray(words.offsets, dtype=np.int64)
    data, word_offsets = utf8_buffers(words.values)
    return _word_repetition(data, word_offsets, doc_offsets, int(n))
