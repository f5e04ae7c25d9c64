from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

from etlcore.operators.base import Arg, Deduplicator
from etlcore.registry import register
from etlcore.simhash import SHORT_TEXT, FrequentLines, keep_first_of_clusters, simhash_fingerprints

MIN_FREQUENT_LINE_DOCUMENTS = 10  # fewer: a family of copies of one document, not boilerplate


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
    Two documents are near-duplicates when their fingerprints differ in at most floor(`distance`) bits
    (the seed sends 5.6511, meaning 5); every such pair is found exactly (permuted-block tables, no
    probabilistic miss). Pairs form clusters
    (connected components, exact duplicates included); the first document of each cluster in input
    order is kept, every other one is rejected with `duplicate_of=<kept id>` and its Hamming distance
    to that kept document (which may exceed `distance` when it was linked through a chain a~b~c).
    Memory: 8 bytes of fingerprint and the id per document, plus the search tables and the line counts
    (a fixed 32 MB); never the texts."""

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
    )
    distance: float
    ngram: int
    short_text_chars: int
    tokenization: str
    frequent_line_share: float

    @property
    def counts_lines(self) -> bool:  # type: ignore[override]
        return self.frequent_line_share > 0

    def line_threshold(self, documents: int) -> int:
        return max(MIN_FREQUENT_LINE_DOCUMENTS, math.ceil(self.frequent_line_share * documents))

    def fingerprint(self, texts: pa.StringArray, frequent_lines: FrequentLines | None = None) -> np.ndarray:
        return simhash_fingerprints(texts, self.ngram, self.tokenization, frequent_lines, self.short_text_chars)

    def find_duplicates(self, fingerprints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return keep_first_of_clusters(fingerprints, math.floor(self.distance))
