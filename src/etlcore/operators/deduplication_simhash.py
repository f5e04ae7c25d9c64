from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pyarrow as pa

from etlcore.operators.base import Arg, Deduplicator
from etlcore.registry import register
from etlcore.simhash import SHORT_TEXT, FrequentLines, keep_first_of_clusters, simhash_fingerprints, text_similarity

CONFIRM_DEFAULT = 0.5  # from benchmarks/dedup_confirm.py's figures (see the docstring and README)
MIN_FREQUENT_LINE_DOCUMENTS = 10  # fewer: a family of copies of one document, not boilerplate
PAIRS_PER_READ = 100_000  # candidate pairs confirmed per read of their texts: at most 200,000 texts per read
TEXT_CACHE_BYTES = 256 << 20  # texts kept between reads: the later rounds re-read the same documents


class _TextCache:
    """The texts read so far, up to TEXT_CACHE_BYTES; beyond, only the last read's."""

    def __init__(self, read: Callable[[np.ndarray], pa.Array]) -> None:
        self.read = read
        self.positions = np.zeros(0, np.int64)
        self.texts = pa.array([], pa.large_string())

    def prefetch(self, positions: np.ndarray) -> None:
        """Read these texts in one go when they fit the cache (the reader's `average_bytes` tells)."""
        average = getattr(self.read, "average_bytes", None)
        if average is not None and len(positions) * average <= TEXT_CACHE_BYTES:
            self.positions, self.texts = positions, self.read(positions).cast(pa.large_string())

    def __call__(self, positions: np.ndarray) -> pa.Array:
        missing = np.setdiff1d(positions, self.positions, assume_unique=True)
        if len(missing):
            fresh = self.read(missing).cast(pa.large_string())
            merged = np.concatenate([self.positions, missing])
            texts = pa.concat_arrays([self.texts, fresh])
            if texts.nbytes > TEXT_CACHE_BYTES:  # start over with this read alone
                merged = np.concatenate([positions[np.isin(positions, self.positions)], missing])
                texts = pa.concat_arrays([self.texts.take(pa.array(np.searchsorted(
                    self.positions, merged[:len(merged) - len(missing)]))), fresh])
            order = np.argsort(merged, kind="stable")
            self.positions, self.texts = merged[order], texts.take(pa.array(order))
        return self.texts.take(pa.array(np.searchsorted(self.positions, positions)))


@register
class DeduplicationSimhash(Deduplicator):
    """Near-duplicate removal with 64-bit simhash. Each document's fingerprint follows the recipe in
    `etlcore.simhash` (lines frequent in the corpus left out; per code point NFKC and lower case;
    punctuation, symbols and whitespace dropped; features = character `ngram`s, or word n-grams with
    `tokenization: word`, and (`ngram` - 1)-grams for a text of fewer than `short_text_chars` folded
    characters, so that one edited character does not move a short copy too far from its source;
    FNV-1a + SplitMix64 hashes; each occurrence counts). A line (the text between
    two newlines, folded the same way) is frequent when it occurs in at least `frequent_line_share` of
    the documents that reach deduplication and in at least 10 of them: boilerplate such as a copyright
    or "reposted from" line then does not separate a copy from its source. A document whose frequent
    lines hold at least half of its characters keeps them (a syndicated story is its content, not its
    boilerplate); 0 turns this off (each fingerprint then depends on its text alone).
    Candidates: two documents whose fingerprints differ in at most floor(`distance`) bits (the seed sends
    5.6511, meaning 5); every such pair is found exactly (permuted-block tables, no probabilistic miss).
    Confirmation, on by default (`confirm_similarity` 0.5; 0 turns it off and leaves the fingerprints
    alone to decide, as the seed defines near-duplicates): a candidate pair is a near-duplicate only
    when the Jaccard similarity of the sets of character `ngram`s of the two folded texts (NFKC, lower
    case, punctuation, symbols and whitespace deleted; every line kept) is at least `confirm_similarity`;
    the texts are read back from the rows spooled for deduplication: all that may be compared in one go
    when they fit a 256 MB cache, else 100,000 pairs at a time. Documents with one fingerprint and one
    folded text (a 64-bit hash of it is kept with each fingerprint) link unchecked, so exact duplicates
    are always caught; the others with one fingerprint are checked against the first of them, those
    unlike it against the first of the rest, and so on for up to 8 rounds (unlike documents left after
    that stay on their own); two fingerprints within the distance link when one of their representatives
    confirms against one of the other's. Measured on make_corpus.py's corpora at distance 6
    (benchmarks/dedup_confirm.py): at 1 M documents the links between texts less than half alike
    (rapidfuzz ratio < 50) fall from 7,077 to 244 and such removals from 3,512 to 1,147, while the
    injected near-duplicates found with their source go from 0.988 to 0.977 (appended boilerplate line)
    and 0.955 to 0.950 (a character edit in 300) and stay at 1.000 (punctuation width, extra spaces);
    `etlcore run` with deduplication alone takes the operator from 17.7 s to 34.9 s at 1 M documents
    and its peak RSS from 693 MB to 1,671 MB (2.7 s to 4.2 s at 100 k).
    Pairs form clusters
    (connected components, exact duplicates included); the first document of each cluster in input
    order is kept, every other one is rejected with `duplicate_of=<kept id>` and its Hamming distance
    to that kept document (which may exceed `distance` when it was linked through a chain a~b~c).
    Memory: 8 bytes of fingerprint (16 with the folded text's hash when confirming) and the id per
    document, plus the search tables and the line counts (a fixed 32 MB); texts only of candidate pairs,
    in the bounds above."""

    name = "deduplication_simhash"
    stage = "deduplication"
    args = (
        Arg("distance", float, "maximum Hamming distance of near-duplicates (fractions are floored)",
            required=True, minimum=4, maximum=6),
        Arg("ngram", int, "n-gram length of the features", default=3, minimum=1, maximum=64),
        Arg("short_text_chars", int, "texts with fewer folded characters use (ngram - 1)-grams; 0: off",
            default=SHORT_TEXT, minimum=0, maximum=1_000_000),
        Arg("tokenization", str, "features over characters or words", default="char", choices=("char", "word")),
        Arg("frequent_line_share", float, "lines in at least this share of the documents (and in 10) are left "
            "out of fingerprints; 0: off", default=0.001, minimum=0, maximum=1),
        Arg("confirm_similarity", float, "a candidate pair joins a cluster only when the Jaccard similarity of "
            "its texts' character n-gram sets is at least this; 0: off (fingerprints alone)",
            default=CONFIRM_DEFAULT, minimum=0, maximum=1),
    )
    distance: float
    ngram: int
    short_text_chars: int
    tokenization: str
    frequent_line_share: float
    confirm_similarity: float

    @property
    def counts_lines(self) -> bool:  # type: ignore[override]
        return self.frequent_line_share > 0

    def line_threshold(self, documents: int) -> int:
        return max(MIN_FREQUENT_LINE_DOCUMENTS, math.ceil(self.frequent_line_share * documents))

    def fingerprint(self, texts: pa.StringArray, frequent_lines: FrequentLines | None = None) -> np.ndarray:
        """The simhash per text; when confirming pairs, shape (texts, 2): with a hash of each folded text."""
        return simhash_fingerprints(texts, self.ngram, self.tokenization, frequent_lines, self.short_text_chars,
                                    text_hashes=self.needs_texts)

    @property
    def needs_texts(self) -> bool:  # type: ignore[override]
        return self.confirm_similarity > 0

    def find_duplicates(self, fingerprints: np.ndarray,
                        texts: Callable[[np.ndarray], pa.Array] | None = None) -> tuple[np.ndarray, np.ndarray]:
        if not self.needs_texts:
            return keep_first_of_clusters(fingerprints, math.floor(self.distance))
        if len(fingerprints) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        if texts is None:
            raise ValueError(f"{self.name}: confirm_similarity needs the texts of the candidate pairs")
        prints, text_hashes = fingerprints[:, 0], fingerprints[:, 1]
        cached = _TextCache(texts)

        def confirm(left: np.ndarray, right: np.ndarray) -> np.ndarray:
            alike = text_hashes[left] == text_hashes[right]  # the same folded text: no need to read it
            unsure = np.flatnonzero(~alike)
            for start in range(0, len(unsure), PAIRS_PER_READ):
                chunk = unsure[start:start + PAIRS_PER_READ]
                a, b = left[chunk], right[chunk]
                positions = np.unique(np.concatenate([a, b]))
                similarity = text_similarity(cached(positions), np.searchsorted(positions, a),
                                             np.searchsorted(positions, b), self.ngram, short_text=0)
                alike[chunk] = similarity >= self.confirm_similarity
            return alike

        return keep_first_of_clusters(prints, math.floor(self.distance), confirm, text_hashes, cached.prefetch)
