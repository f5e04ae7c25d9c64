"""fastText's `predict` for a quantised supervised model with hierarchical softmax (`lid.176.ftz`), as a
numba kernel over the Arrow UTF-8 buffer: no Python string per document, no allocation per token.

It reproduces fastText 0.9.2's float32 arithmetic step by step, so that labels and probabilities are
bit-equal to `fasttext.FastText._FastText.predict(text + "\\n", k, 0.0)` (tests compare the two):

- tokens as `Dictionary::readWord` splits a line (on space, \\t, \\n, \\v, \\f, \\r and NUL), then the
  end-of-sentence token "</s>"; a token spelled "</s>" ends the line there, one starting with
  "__label__" is a label and is skipped;
- per token: its dictionary row (if it is a word of the dictionary) and then the rows of its character
  n-grams of "<token>" (minn..maxn code points, UTF-8 aware, the single "<" or ">" left out), hashed with
  fastText's FNV-1a over *signed* chars, modulo `bucket`, kept only if the pruned model kept the bucket;
- the hidden vector: those rows summed in that order in float32, then multiplied by (float)(1.0 / rows);
- hierarchical softmax: the Huffman tree fastText builds from the label counts, searched depth first,
  left first, with `std_log(x) = (float)log(x + 1e-5)`, pruned below std_log(0) and below the k-th best,
  the k best kept in a heap that moves entries exactly as libstdc++'s push_heap/pop_heap/sort_heap do
  (so ties come out in fastText's order); probabilities are expf(score).

A quantised row is norm * centroid per sub-vector, a float32 product: the rows are multiplied out once
at load (the same products fastText computes per token), which leaves a dense float32 input matrix.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np

_MAGIC = 793712314
_LOSS_HIERARCHICAL_SOFTMAX = 1
_MODEL_SUPERVISED = 3
_EOS = b"</s>"
_LABEL = b"__label__"
_LABEL_BYTES = np.frombuffer(_LABEL, dtype=np.uint8)
_FNV_OFFSET = 2166136261
_FNV_PRIME = 16777619
_CENTROIDS_PER_SUBQUANTIZER = 256


@dataclass(frozen=True)
class FastTextModel:
    """What prediction needs from a `.ftz` file, as arrays a numba kernel takes."""

    labels: list[str]  # label words without "__label__", by label id
    word_bytes: np.ndarray  # uint8: every dictionary word's UTF-8 back to back
    word_offsets: np.ndarray  # int64, words + 1
    word_table: np.ndarray  # int32 open-addressing table (power of two) of word ids by hash, -1 empty
    input_rows: np.ndarray  # float32 (rows, dim): the dequantised input matrix
    bucket_rows: np.ndarray  # int32 (bucket,): input row of an n-gram bucket, -1 where pruned away
    bucket_kept: np.ndarray  # uint64 bit set over the buckets: kept ones (fits in a core's cache; 93 %
    # of the n-grams of real text fall in pruned buckets, and this answers them without a cache miss)
    output: np.ndarray  # float32 (labels - 1, dim): one row per inner node of the tree
    tree_left: np.ndarray  # int32 (2 * labels - 1,), -1 at leaves
    tree_right: np.ndarray
    minn: int
    maxn: int


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def read(self, layout: str) -> tuple:
        values = struct.unpack_from("<" + layout, self.data, self.at)
        self.at += struct.calcsize("<" + layout)
        return values

    def array(self, dtype: str, count: int) -> np.ndarray:
        values = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.at)
        self.at += values.nbytes
        return values

    def word(self) -> bytes:
        end = self.data.index(b"\0", self.at)
        word, self.at = self.data[self.at:end], end + 1
        return word

    def product_quantizer(self) -> tuple[int, int, np.ndarray]:
        dim, subquantizers, sub_dim, last_sub_dim = self.read("iiii")
        if last_sub_dim != sub_dim:  # then fastText's centroid layout differs for the last one
            raise ValueError("unsupported fastText model: uneven product quantizer")
        return subquantizers, sub_dim, self.array("<f4", dim * _CENTROIDS_PER_SUBQUANTIZER)


def fasttext_hash(word: bytes) -> int:
    """fastText's `Dictionary::hash`: FNV-1a over the bytes as signed chars, 32 bits."""
    h = _FNV_OFFSET
    for byte in word:
        h = ((h ^ (byte | 0xFFFFFF00 if byte >= 0x80 else byte)) * _FNV_PRIME) & 0xFFFFFFFF
    return h


def _huffman_tree(counts: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """fastText's `HierarchicalSoftmaxLoss::buildTree` over the label counts: (left, right) per node."""
    labels = len(counts)
    count = [*counts] + [10**15] * (labels - 1)
    left, right = [-1] * (2 * labels - 1), [-1] * (2 * labels - 1)
    leaf, node = labels - 1, labels
    for i in range(labels, 2 * labels - 1):
        smallest = [0, 0]
        for j in range(2):
            if leaf >= 0 and count[leaf] < count[node]:
                smallest[j], leaf = leaf, leaf - 1
            else:
                smallest[j], node = node, node + 1
        left[i], right[i] = smallest
        count[i] = count[smallest[0]] + count[smallest[1]]
    return np.array(left, dtype=np.int32), np.array(right, dtype=np.int32)


def load(path: str | Path) -> FastTextModel:
    """Read a quantised supervised fastText model (`.ftz`) with hierarchical softmax, one word per
    token (wordNgrams 1) and a dense output matrix; anything else is refused with ValueError."""
    reader = _Reader(Path(path).read_bytes())
    magic, _version = reader.read("ii")
    if magic != _MAGIC:
        raise ValueError(f"{path} is not a fastText model")
    (dim, _ws, _epoch, _min_count, _neg, word_ngrams, loss, model, bucket, minn, maxn, _lr_update_rate,
     _t) = reader.read("iiiiiiiiiiiid")
    if model != _MODEL_SUPERVISED or loss != _LOSS_HIERARCHICAL_SOFTMAX or word_ngrams != 1:
        raise ValueError(f"unsupported fastText model: model {model}, loss {loss}, wordNgrams {word_ngrams}")
    size, nwords, nlabels, _ntokens, pruneidx_size = reader.read("iiiqq")
    words, label_counts = [], []  # words first (entry type 0), then labels (1) with their counts
    for _ in range(size):
        words.append(reader.word())
        count, kind = reader.read("qb")
        if kind == 1:
            label_counts.append(count)
    if words[0] != _EOS or len(label_counts) != nlabels or size != nwords + nlabels:
        raise ValueError("unsupported fastText model: dictionary layout")
    pruned = reader.array("<i4", 2 * pruneidx_size).reshape(-1, 2)
    (quantised_input,) = reader.read("?")
    if not quantised_input or pruneidx_size <= 0:
        raise ValueError("unsupported fastText model: input matrix not quantised and pruned")
    qnorm, rows, columns, codesize = reader.read("?qqi")
    codes = reader.array("u1", codesize)
    subquantizers, sub_dim, centroids = reader.product_quantizer()
    if columns != dim or subquantizers * sub_dim != dim or codesize != rows * subquantizers:
        raise ValueError("unsupported fastText model: input matrix shape")
    norms = np.ones(rows, dtype=np.float32)
    if qnorm:
        norm_codes = reader.array("u1", rows)
        _, _, norm_centroids = reader.product_quantizer()
        norms = norm_centroids[norm_codes]
    (quantised_output,) = reader.read("?")
    if quantised_output:
        raise ValueError("unsupported fastText model: quantised output matrix")
    output_rows, output_columns = reader.read("qq")
    output = reader.array("<f4", output_rows * output_columns).reshape(output_rows, output_columns)
    # Row r, sub-vector m: norm_r * centroid(m, code), each a float32 product as fastText's addcode makes it.
    chosen = centroids.reshape(subquantizers, _CENTROIDS_PER_SUBQUANTIZER, sub_dim)[
        np.arange(subquantizers), codes.reshape(rows, subquantizers)]
    input_rows = (norms[:, None, None] * chosen).reshape(rows, dim).astype(np.float32)
    bucket_rows = np.full(bucket, -1, dtype=np.int32)
    bucket_rows[pruned[:, 0]] = nwords + pruned[:, 1]
    bucket_kept = np.packbits(bucket_rows >= 0, bitorder="little")
    bucket_kept = np.pad(bucket_kept, (0, -len(bucket_kept) % 8)).view("<u8").copy()
    table_size = 1 << max(4, (2 * nwords - 1).bit_length())
    word_table = np.full(table_size, -1, dtype=np.int32)
    for word_id, word in enumerate(words[:nwords]):
        slot = fasttext_hash(word) & (table_size - 1)
        while word_table[slot] >= 0:
            slot = (slot + 1) & (table_size - 1)
        word_table[slot] = word_id
    word_offsets = np.zeros(nwords + 1, dtype=np.int64)
    word_offsets[1:] = np.cumsum([len(word) for word in words[:nwords]])
    left, right = _huffman_tree(label_counts)
    labels = [word.decode("utf-8", "replace").removeprefix(_LABEL.decode()) for word in words[nwords:]]
    return FastTextModel(labels, np.frombuffer(b"".join(words[:nwords]), dtype=np.uint8), word_offsets,
                         word_table, np.ascontiguousarray(input_rows), bucket_rows, bucket_kept,
                         np.ascontiguousarray(output, dtype=np.float32), left, right, minn, maxn)


def predict(model: FastTextModel, data: np.ndarray, offsets: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per document of the UTF-8 buffer (`offsets`: documents + 1), its k best labels (int32 label ids,
    -1 where fewer) and their probabilities (float32, fastText's own values), best first."""
    documents = len(offsets) - 1
    labels = np.full((documents, k), -1, dtype=np.int32)
    probabilities = np.zeros((documents, k), dtype=np.float32)
    _predict(data, offsets, model.word_bytes, model.word_offsets, model.word_table, model.input_rows,
             model.bucket_rows, model.bucket_kept, model.output, model.tree_left, model.tree_right,
             model.minn, model.maxn, labels, probabilities)
    return labels, probabilities


@numba.njit(cache=True, nogil=True, inline="always")
def _is_separator(byte: np.uint8) -> bool:
    return byte == 32 or byte == 10 or byte == 13 or byte == 9 or byte == 11 or byte == 12 or byte == 0


@numba.njit(cache=True, nogil=True, inline="always")
def _fnv_step(h: int, byte: np.uint8) -> int:
    # 32-bit FNV-1a kept in an int64; a byte >= 0x80 is a negative char, sign-extended before the xor
    signed = np.int64(byte) | 0xFFFFFF00 if byte >= 0x80 else np.int64(byte)
    return ((h ^ signed) * _FNV_PRIME) & 0xFFFFFFFF


@numba.njit(cache=True, nogil=True, inline="always")
def _add_row(hidden: np.ndarray, rows: np.ndarray, row: int) -> None:
    for j in range(hidden.shape[0]):
        hidden[j] += rows[row, j]


@numba.njit(cache=True, nogil=True, inline="always")
def _std_log(x: np.float32) -> np.float32:
    return np.float32(math.log(np.float64(x) + 1e-5))


@numba.njit(cache=True, nogil=True, inline="always")
def _sift_up(scores: np.ndarray, ids: np.ndarray, hole: int, top: int, score: np.float32, label: int) -> None:
    # libstdc++'s __push_heap with fastText's comparePairs (a.first > b.first): a min-heap on score.
    parent = (hole - 1) // 2
    while hole > top and scores[parent] > score:
        scores[hole], ids[hole] = scores[parent], ids[parent]
        hole = parent
        parent = (hole - 1) // 2
    scores[hole], ids[hole] = score, label


@numba.njit(cache=True, nogil=True, inline="always")
def _pop_into(scores: np.ndarray, ids: np.ndarray, length: int) -> None:
    # libstdc++'s __pop_heap(first, first + length, first + length) and its __adjust_heap.
    score, label = scores[length], ids[length]
    scores[length], ids[length] = scores[0], ids[0]
    hole, child = 0, 0
    while child < (length - 1) // 2:
        child = 2 * (child + 1)
        if scores[child] > scores[child - 1]:
            child -= 1
        scores[hole], ids[hole] = scores[child], ids[child]
        hole = child
    if length % 2 == 0 and child == (length - 2) // 2:
        child = 2 * (child + 1)
        scores[hole], ids[hole] = scores[child - 1], ids[child - 1]
        hole = child - 1
    _sift_up(scores, ids, hole, 0, score, label)


@numba.njit(cache=True, nogil=True)
def _predict(data: np.ndarray, offsets: np.ndarray, word_bytes: np.ndarray, word_offsets: np.ndarray,
             word_table: np.ndarray, input_rows: np.ndarray, bucket_rows: np.ndarray, bucket_kept: np.ndarray,
             output: np.ndarray, tree_left: np.ndarray, tree_right: np.ndarray, minn: int, maxn: int,
             out_labels: np.ndarray, out_probabilities: np.ndarray) -> None:
    k = out_labels.shape[1]
    dim = input_rows.shape[1]
    labels = (tree_left.shape[0] + 1) // 2
    bucket = bucket_rows.shape[0]
    table_mask = word_table.shape[0] - 1
    hidden = np.zeros(dim, dtype=np.float32)
    heap_scores = np.zeros(k + 1, dtype=np.float32)
    heap_ids = np.zeros(k + 1, dtype=np.int32)
    stack_nodes = np.zeros(tree_left.shape[0] + 1, dtype=np.int32)
    stack_scores = np.zeros(tree_left.shape[0] + 1, dtype=np.float32)
    floor = _std_log(np.float32(0.0))  # std_log(threshold 0)
    longest = 0
    for d in range(offsets.shape[0] - 1):
        longest = max(longest, offsets[d + 1] - offsets[d])
    bounded_token = np.empty(longest + 2, dtype=np.uint8)  # "<" + token + ">"
    for d in range(offsets.shape[0] - 1):
        hidden[:] = 0
        rows = 0
        at, end = offsets[d], offsets[d + 1]
        ended = False  # a token "</s>" ends the line
        while at < end and not ended:
            while at < end and _is_separator(data[at]):
                at += 1
            if at == end:
                break
            start = at
            h = np.int64(_FNV_OFFSET)
            while at < end and not _is_separator(data[at]):
                h = _fnv_step(h, data[at])
                at += 1
            length = at - start
            if length >= 9:
                is_label = True
                for i in range(9):
                    if data[start + i] != _LABEL_BYTES[i]:
                        is_label = False
                        break
                if is_label:
                    continue
            if length == 4 and data[start] == 60 and data[start + 1] == 47 and data[start + 2] == 115 \
                    and data[start + 3] == 62:
                _add_row(hidden, input_rows, 0)
                rows += 1
                ended = True
                break
            slot = h & table_mask
            while word_table[slot] >= 0:
                word = word_table[slot]
                word_start = word_offsets[word]
                if word_offsets[word + 1] - word_start == length:
                    same = True
                    for i in range(length):
                        if word_bytes[word_start + i] != data[start + i]:
                            same = False
                            break
                    if same:
                        _add_row(hidden, input_rows, word)
                        rows += 1
                        break
                slot = (slot + 1) & table_mask
            # character n-grams of "<token>", in fastText's order: by start, then by length
            bounded = length + 2
            bounded_token[0], bounded_token[bounded - 1] = 60, 62
            bounded_token[1:bounded - 1] = data[start:at]
            for i in range(bounded):
                if bounded_token[i] & 0xC0 == 0x80:
                    continue
                g = np.int64(_FNV_OFFSET)
                j = i
                n = 1
                while j < bounded and n <= maxn:
                    g = _fnv_step(g, bounded_token[j])
                    j += 1
                    while j < bounded and bounded_token[j] & 0xC0 == 0x80:
                        g = _fnv_step(g, bounded_token[j])
                        j += 1
                    if n >= minn and not (n == 1 and (i == 0 or j == bounded)):
                        b = g % bucket
                        if (bucket_kept[b >> 6] >> np.uint64(b & 63)) & np.uint64(1):
                            _add_row(hidden, input_rows, bucket_rows[b])
                            rows += 1
                    n += 1
        if not ended:
            _add_row(hidden, input_rows, 0)  # "</s>", the end of the line
            rows += 1
        scale = np.float32(1.0 / rows)
        for j in range(dim):
            hidden[j] *= scale
        # hierarchical softmax, depth first from the root, left child first
        size = 0
        stack_nodes[0], stack_scores[0] = 2 * labels - 2, np.float32(0.0)
        depth = 1
        while depth > 0:
            depth -= 1
            node, score = stack_nodes[depth], stack_scores[depth]
            if score < floor:
                continue
            if size == k and score < heap_scores[0]:
                continue
            if tree_left[node] == -1 and tree_right[node] == -1:
                heap_scores[size], heap_ids[size] = score, node
                size += 1
                _sift_up(heap_scores, heap_ids, size - 1, 0, score, node)
                if size > k:
                    size -= 1
                    _pop_into(heap_scores, heap_ids, size)
                continue
            f = np.float32(0.0)
            inner = node - labels
            for j in range(dim):
                f += output[inner, j] * hidden[j]
            f = np.float32(1.0 / (np.float32(1.0) + np.float32(math.exp(-f))))
            stack_nodes[depth], stack_scores[depth] = tree_right[node], score + _std_log(f)
            stack_nodes[depth + 1] = tree_left[node]
            stack_scores[depth + 1] = score + _std_log(np.float32(1.0 - np.float64(f)))
            depth += 2
        # libstdc++'s sort_heap: best first
        last = size
        while last > 1:
            last -= 1
            _pop_into(heap_scores, heap_ids, last)
        for place in range(size):
            out_labels[d, place] = heap_ids[place]
            out_probabilities[d, place] = np.float32(math.exp(heap_scores[place]))
