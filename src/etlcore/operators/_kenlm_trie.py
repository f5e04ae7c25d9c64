"""KenLM's quantised trie binary (`build_binary -q P -b B trie`, the format of etlcore's shipped models)
read into numpy arrays, and sentences scored from word ids by one compiled loop, equal to KenLM's
`Model.score(sentence, bos=True, eos=True)`.

The format, as KenLM 0.3.0 writes it (lm/binary_format.cc, vocab.cc, search_trie.cc, trie.cc,
quantize.cc): a header (magic, test values, order, model type, whether the vocabulary's strings follow,
the n-gram counts), the sorted vocabulary (word hashes; word id = position + 1, <unk> is 0), then the
search: the quantisation tables (per middle order a probability and a backoff table, then the longest
order's probability table), the unigrams (probability, backoff, first child; one per word id plus one
whose "first child" ends the last word's children) and one bit-packed array per higher order, each
entry its word id, quantised backoff and probability (the longest order: probability only) and (the
middle orders) the first child in the next order, children sorted by word id. The vocabulary's
strings, NUL-separated in word id order, end the file. The arrays below are that content decoded once
at load time, so that a lookup is a binary search in a plain array.

Scoring follows lm/model.cc (`FullScore`): the state holds the last words (most recent first) and
their backoffs; a word's probability is that of the longest n-gram found in the trie, plus the
backoffs of the context's words beyond it; float32 throughout, summed in float32 word by word as
KenLM's `ScoreSentence` does, so values are equal, not close.
"""

from __future__ import annotations

import functools
import math
import struct
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
from llvmlite import ir
from llvmlite.binding import llvm_version_info
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

_MAGIC = b"mmap lm http://kheafield.com/code format version 5\n\0"
_SANITY_SIZE = 88  # magic (padded to 8) + 3 test floats + 3 word-index test values + one uint64
_QUANT_TRIE = 3  # KenLM's ModelType: trie with quantisation, plain (not array-compressed) child pointers
_QUANTIZE_VERSION = 2
_UNIGRAM_SIZE = 16  # float prob, float backoff, uint64 first child
WORD, PROB, BACKOFF, CHILD = range(4)  # the columns of TrieModel.ngrams


def _align8(size: int) -> int:
    return (size + 7) // 8 * 8


def _required_bits(max_value: int) -> int:
    return int(max_value).bit_length()


@numba.njit(cache=True, inline="always")
def _read_bits(data: np.ndarray, bit: int, length: int) -> np.int64:
    """KenLM's ReadInt57: `length` bits (little-endian) starting at bit `bit` of `data`."""
    byte = bit >> 3
    value = np.uint64(0)
    for k in range(8):
        value |= np.uint64(data[byte + k]) << np.uint64(8 * k)
    return np.int64((value >> np.uint64(bit & 7)) & np.uint64((1 << length) - 1))


@numba.njit(cache=True)
def _decode_order(data: np.ndarray, start: int, entries: int, word_bits: int, backoff_bits: int, prob_bits: int,
                  next_bits: int, prob_table: np.ndarray, backoff_table: np.ndarray) -> tuple:
    """One bit-packed order: (word ids, probabilities, backoffs, first child of each entry and one more,
    which ends the last entry's children). The longest order has no backoff and no children
    (backoff_bits = next_bits = 0)."""
    total_bits = word_bits + backoff_bits + prob_bits + next_bits
    words = np.empty(entries, dtype=np.int32)
    probs = np.empty(entries, dtype=np.float32)
    backoffs = np.zeros(entries, dtype=np.float32)
    children = np.zeros(entries + 1 if next_bits else 0, dtype=np.int64)
    for i in range(entries):
        bit = start * 8 + i * total_bits
        words[i] = _read_bits(data, bit, word_bits)
        bit += word_bits
        if backoff_bits:
            backoffs[i] = backoff_table[_read_bits(data, bit, backoff_bits)]
            bit += backoff_bits
        probs[i] = prob_table[_read_bits(data, bit, prob_bits)]
        bit += prob_bits
        if next_bits:
            children[i] = _read_bits(data, bit, next_bits)
    if next_bits:
        children[entries] = _read_bits(data, start * 8 + entries * total_bits + total_bits - next_bits, next_bits)
    return words, probs, backoffs, children


@dataclass(frozen=True, eq=False)
class TrieModel:
    """A KenLM quantised trie model as arrays. Unigrams by word id. Orders 2..N are rows of `ngrams`,
    concatenated: order n's entries are rows starts[n - 2] to starts[n - 1]; a row holds the entry's word
    id, probability, backoff (the longest order: 0) and first child, so that finding an entry and reading
    it touch the same cache line; an entry's children in order n + 1 are rows ngrams[i, CHILD] to
    ngrams[i + 1, CHILD] (the longest order has none; one more row ends the last ones)."""

    order: int
    vocabulary: dict[bytes, int]  # word -> id, <unk> 0
    hashes: np.ndarray  # uint64, sorted: word id - 1 -> MurmurHash64A of the word (KenLM's SortedVocabulary)
    begin_sentence: int
    end_sentence: int
    unigram_probs: np.ndarray  # float32 by word id
    unigram_backoffs: np.ndarray
    unigram_children: np.ndarray  # int32, word id -> first bigram (global position); one more entry
    starts: np.ndarray  # int64, order n's first row, n = 2..N, and the end
    ngrams: np.ndarray  # int32 rows: WORD, PROB and BACKOFF (float32 bits), CHILD

    def word_ids(self, words: list[bytes]) -> np.ndarray:
        """KenLM's word ids of `words` (0, <unk>, for a word the model does not know)."""
        get = self.vocabulary.get
        return np.fromiter((get(word, 0) for word in words), dtype=np.int32, count=len(words))

    def text_word_ids(self, data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """KenLM's word id of each UTF-8 text data[offsets[i]:offsets[i + 1]], found by its hash as
        KenLM's SortedVocabulary finds it (0 for a word the model does not know)."""
        return _text_word_ids(data, offsets, self.hashes)

    def arrays(self) -> tuple:
        return (self.unigram_probs, self.unigram_backoffs, self.unigram_children, self.ngrams,
                self.ngrams.view(np.float32))

    def score(self, word_ids: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """log10 probability of each sentence (its words' ids back to back, `counts` per sentence), as
        `kenlm.Model.score(sentence, bos=True, eos=True)` gives it (float32 values, as float64)."""
        return _score_sentences(word_ids, counts.astype(np.int64), self.order, self.begin_sentence,
                                self.end_sentence, *self.arrays()).astype(np.float64)


def is_quantised_trie(path: str) -> bool:
    """Whether `path` is a KenLM binary in the format `load_trie` reads (others go through kenlm)."""
    with open(path, "rb") as model:
        head = model.read(_SANITY_SIZE + 20)
    if len(head) < _SANITY_SIZE + 20 or not head.startswith(_MAGIC):
        return False
    _order, _multiplier, model_type, has_vocabulary, search_version = struct.unpack_from(
        "<Bxxxfi?xxxI", head, _SANITY_SIZE)
    return model_type == _QUANT_TRIE and has_vocabulary and search_version == 1 and _order >= 2


@functools.cache
def load_trie(path: str) -> TrieModel:
    """Read a KenLM quantised trie binary (`is_quantised_trie`) into arrays, once per process."""
    data = np.fromfile(path, dtype=np.uint8)
    raw = data.tobytes()
    if not is_quantised_trie(path):
        raise ValueError(f"{path}: not a KenLM quantised trie with its vocabulary")
    order = raw[_SANITY_SIZE]
    counts = struct.unpack_from(f"<{order}Q", raw, _SANITY_SIZE + 20)
    at = _align8(_SANITY_SIZE + 20 + 8 * order)  # the header's end

    stored_words = struct.unpack_from("<Q", raw, at)[0]
    if stored_words > counts[0]:
        raise ValueError(f"{path}: more words than unigrams")
    hashes = np.frombuffer(raw, dtype="<u8", count=stored_words, offset=at + 8).copy()
    at += 8 + 8 * counts[0]  # SortedVocabulary::Size(counts[0]): the entry count, then a hash per word

    version, prob_bits, backoff_bits = raw[at], raw[at + 1], raw[at + 2]
    if version != _QUANTIZE_VERSION or not 0 < prob_bits <= 25 or not 0 < backoff_bits <= 25:
        raise ValueError(f"{path}: unexpected quantisation header")
    tables = at + 8
    middle_tables = []
    for _ in range(order - 2):
        prob_table = np.frombuffer(raw, dtype="<f4", count=1 << prob_bits, offset=tables).copy()
        tables += 4 << prob_bits
        backoff_table = np.frombuffer(raw, dtype="<f4", count=1 << backoff_bits, offset=tables).copy()
        tables += 4 << backoff_bits
        middle_tables.append((prob_table, backoff_table))
    longest_table = np.frombuffer(raw, dtype="<f4", count=1 << prob_bits, offset=tables).copy()
    at += (order - 2) * ((4 << backoff_bits) + (4 << prob_bits)) + (4 << prob_bits) + 8

    unigram_records = counts[0] + 2
    unigrams = np.frombuffer(raw, dtype=np.dtype([("prob", "<f4"), ("backoff", "<f4"), ("next", "<u8")]),
                             count=unigram_records, offset=at)
    at += unigram_records * _UNIGRAM_SIZE

    word_bits = _required_bits(counts[0])
    starts = np.zeros(order, dtype=np.int64)
    for n in range(2, order + 1):
        starts[n - 1] = starts[n - 2] + counts[n - 1]
    parts = []
    for n in range(2, order + 1):
        entries, next_bits = counts[n - 1], (_required_bits(counts[n]) if n < order else 0)
        prob_table, backoff_table = middle_tables[n - 2] if n < order else (longest_table, longest_table)
        quantised_bits = prob_bits + (backoff_bits if n < order else 0)
        size = ((1 + entries) * (word_bits + quantised_bits + next_bits) + 7) // 8 + 8  # + 8: room to read 8 bytes
        if at + size > len(raw):  # the compiled decoder does not check bounds
            raise ValueError(f"{path}: shorter than its header says")
        parts.append(_decode_order(data, at, entries, word_bits, backoff_bits if n < order else 0, prob_bits,
                                   next_bits, prob_table, backoff_table))
        at += size

    strings = raw[at:].split(b"\0")
    if strings[0] != b"<unk>" or len(strings) < stored_words + 1:
        raise ValueError(f"{path}: the vocabulary's strings are not where the header says")
    vocabulary = {word: index for index, word in enumerate(strings[: stored_words + 1])}
    vocabulary[b"<unk>"] = 0

    if starts[-1] >= 2**31 - 1:
        raise ValueError(f"{path}: more n-grams than this reader indexes")
    ngrams = np.zeros((int(starts[-1]) + 1, 4), dtype=np.int32)
    values = ngrams.view(np.float32)
    for n in range(2, order + 1):
        first, last = int(starts[n - 2]), int(starts[n - 1])
        words, probs, backoffs, children = parts[n - 2]
        ngrams[first:last, WORD] = words
        values[first:last, PROB] = probs
        values[first:last, BACKOFF] = backoffs
        if n < order:
            # Children as rows: order n's entries point into order n + 1, which starts at row starts[n - 1].
            # Order n's closing entry (the end of its last entry's children) is the first row of order
            # n + 1, whose own children begin right after order n + 1 ends: the same row number.
            ngrams[first:last, CHILD] = children[:-1] + starts[n - 1]
            if children[-1] + starts[n - 1] != starts[n]:
                raise ValueError(f"{path}: order {n} does not end where order {n + 1} begins")
    ngrams[-1, WORD] = len(unigrams)  # above every word id
    ngrams[-1, CHILD] = starts[-1]
    return TrieModel(
        order=order, vocabulary=vocabulary, hashes=hashes, begin_sentence=vocabulary.get(b"<s>", 0),
        end_sentence=vocabulary.get(b"</s>", 0),
        unigram_probs=unigrams["prob"].copy(), unigram_backoffs=unigrams["backoff"].copy(),
        unigram_children=unigrams["next"].astype(np.int32), starts=starts, ngrams=ngrams)


_MURMUR_MULTIPLIER = np.uint64(0xC6A4A7935BD1E995)
_MURMUR_SHIFT = np.uint64(47)


@numba.njit(cache=True)
def murmur_hash_64a(data: np.ndarray, begin: int, end: int) -> np.uint64:
    """MurmurHash64A (Austin Appleby's MurmurHash2, 64-bit, seed 0) of data[begin:end]: the hash KenLM
    gives a vocabulary word (lm/vocab.cc HashForVocab)."""
    m, r = _MURMUR_MULTIPLIER, _MURMUR_SHIFT
    length = end - begin
    h = np.uint64(length) * m
    whole = begin + (length // 8) * 8
    for at in range(begin, whole, 8):
        k = np.uint64(0)
        for b in range(8):
            k |= np.uint64(data[at + b]) << np.uint64(8 * b)
        k *= m
        k ^= k >> r
        k *= m
        h ^= k
        h *= m
    if length & 7:
        for b in range(length & 7):
            h ^= np.uint64(data[whole + b]) << np.uint64(8 * b)
        h *= m
    h ^= h >> r
    h *= m
    h ^= h >> r
    return h


@numba.njit(cache=True)
def _text_word_ids(data: np.ndarray, offsets: np.ndarray, hashes: np.ndarray) -> np.ndarray:
    ids = np.zeros(len(offsets) - 1, dtype=np.int32)
    for i in range(len(ids)):
        key = murmur_hash_64a(data, offsets[i], offsets[i + 1])
        position = np.searchsorted(hashes, key)
        if position < len(hashes) and hashes[position] == key:
            ids[i] = position + 1  # <unk>, id 0, is not in the table
    return ids


@numba.njit(cache=True, inline="always")
def _extends(backoff: np.float32) -> bool:
    """KenLM's HasExtension: every backoff but -0.0 (which marks an n-gram no longer n-gram extends)."""
    return not (backoff == 0.0 and math.copysign(1.0, backoff) < 0.0)


@numba.njit(cache=True, inline="always")
def _find(ngrams: np.ndarray, begin: int, end: int, word: int, bound: int) -> int:
    """Row of `word` among the rows begin..end - 1 of `ngrams`, sorted by word (every word id below
    `bound`), or -1. Word ids
    are in the order of their hashes, so ids are spread evenly: interpolation search (as KenLM does)
    takes a few probes where bisection takes log2 of the range."""
    low, low_word, high, high_word = begin - 1, -1, end, bound  # row low < word < row high
    while high - low > 1:
        if not low_word < word < high_word:
            return -1
        pivot = low + 1 + (word - low_word - 1) * (high - low - 1) // (high_word - low_word - 1)
        found = ngrams[pivot, 0]
        if found < word:
            low, low_word = pivot, found
        elif found > word:
            high, high_word = pivot, found
        else:
            return pivot
    return -1


_CHUNK = 16_384  # positions scored together: their lookups overlap in memory, their records stay in cache
_AHEAD = 16  # positions ahead whose first probe is prefetched


@intrinsic
def _prefetch(typingctx: Any, array: Any, row: Any) -> Any:
    """Ask the processor to bring row `row` of a 2-D array into cache without waiting for it (LLVM's
    prefetch: read, high locality, data)."""

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        array_type = signature.args[0]
        array_value = context.make_array(array_type)(context, builder, args[0])
        index = context.cast(builder, args[1], signature.args[1], types.intp)
        pointer = cgutils.get_item_pointer(context, builder, array_type, array_value,
                                           [index, context.get_constant(types.intp, 0)], wraparound=False)
        i32, byte_pointer = ir.IntType(32), ir.IntType(8).as_pointer()
        pointer = builder.bitcast(pointer, byte_pointer)
        # The intrinsic's name carries its pointer type: "p0" where LLVM's pointers are opaque (LLVM 17 on),
        # "p0i8" for an i8* before.
        name = "llvm.prefetch.p0" if llvm_version_info[0] >= 17 else "llvm.prefetch.p0i8"
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32]), name)
        builder.call(function, [pointer, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return types.void(array, row), codegen


@numba.njit(cache=True, nogil=True)
def _score_sentences(word_ids: np.ndarray, counts: np.ndarray, order: int, begin_sentence: int, end_sentence: int,
                     unigram_probs: np.ndarray, unigram_backoffs: np.ndarray, unigram_children: np.ndarray,
                     ngrams: np.ndarray, values: np.ndarray) -> np.ndarray:
    """KenLM's FullScore word by word, in two passes over a chunk of sentences. The context a word is
    looked up with is always the words before it (the state only decides how many of them count), so
    the first pass finds, for every position at once and one order after the other, the longest n-gram
    ending there and each order's probability and backoff: these lookups do not depend on one another,
    so the processor overlaps their memory reads (walking word by word, each waits for the one before).
    The second pass walks each sentence as KenLM does, the state's length limiting the n-gram used."""
    bound = len(unigram_probs)
    scores = np.zeros(len(counts), dtype=np.float32)
    capacity = _CHUNK
    for count in counts:
        capacity = max(capacity, count + 2)
    sequence = np.empty(capacity, dtype=np.int32)  # <s> words </s> of each sentence of the chunk
    behind = np.empty(capacity, dtype=np.int32)  # words before each position in its sentence, <s> included
    probs = np.empty((capacity, order), dtype=np.float32)  # [position, n - 1]: the n-gram ending there
    backoffs = np.empty((capacity, order), dtype=np.float32)
    found = np.empty(capacity, dtype=np.int32)  # context words of the longest n-gram found
    begins = np.empty(capacity, dtype=np.int64)  # rows of the next order to search
    ends = np.empty(capacity, dtype=np.int64)
    active = np.empty(capacity, dtype=np.int32)
    first = at = 0
    while first < len(counts):
        size = 0
        last = first
        while last < len(counts) and size + counts[last] + 2 <= capacity:
            sequence[size], behind[size] = begin_sentence, 0
            for k in range(counts[last] + 1):
                sequence[size + 1 + k] = word_ids[at + k] if k < counts[last] else end_sentence
                behind[size + 1 + k] = k + 1
            size += counts[last] + 2
            at += counts[last]
            last += 1
        # Pass 1: the unigrams, then each longer order for the positions still matching.
        n_active = 0
        for p in range(size):
            word = sequence[p]
            probs[p, 0], backoffs[p, 0], found[p] = unigram_probs[word], unigram_backoffs[word], 0
            begins[p], ends[p] = unigram_children[word], unigram_children[word + 1]
            if behind[p] > 0 and begins[p] < ends[p]:
                active[n_active] = p
                n_active += 1
        for context in range(1, order):
            kept = 0
            for a in range(n_active):
                if a + _AHEAD < n_active:  # the first probe of a later position: its wait overlaps this one
                    ahead = active[a + _AHEAD]
                    _prefetch(ngrams, begins[ahead] + sequence[ahead - context] * (ends[ahead] - begins[ahead])
                              // bound)
                p = active[a]
                row = _find(ngrams, begins[p], ends[p], sequence[p - context], bound)
                if row < 0:
                    continue
                probs[p, context], found[p] = values[row, 1], context
                if context < order - 1:
                    backoffs[p, context] = values[row, 2]
                    begins[p], ends[p] = ngrams[row, 3], ngrams[row + 1, 3]
                    if behind[p] > context and begins[p] < ends[p]:
                        active[kept] = p
                        kept += 1
            n_active = kept
        # Pass 2: KenLM's state, sentence by sentence, from the begin-sentence state (<s>, length 1).
        p = 0
        for sentence in range(first, last):
            length, before = 1, p  # the state: its length, and the position whose backoffs it holds
            total = np.float32(0.0)
            for q in range(p + 1, p + counts[sentence] + 2):
                used = min(found[q], length)  # ScoreExceptBackoff looks no further back than the state
                prob = probs[q, used]
                for context in range(used, length):  # FullScore: the backoffs beyond the n-gram used
                    prob += backoffs[before, context]
                total += prob
                new_length = 1 if _extends(backoffs[q, 0]) else 0
                for context in range(1, min(used, order - 2) + 1):
                    if _extends(backoffs[q, context]):
                        new_length = context + 1
                length, before = new_length, q
            scores[sentence] = total
            p += counts[sentence] + 2
        first = last
    return scores
