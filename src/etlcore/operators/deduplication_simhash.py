from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

from etlcore.operators.base import Arg, Deduplicator
from etlcore.registry import register
from etlcore.simhash import keep_first_of_clusters, simhash_fingerprints


@register
class DeduplicationSimhash(Deduplicator):
    """Near-duplicate removal with 64-bit simhash. Each document's fingerprint follows the recipe in
    `etlcore.simhash` (per code point NFKC and lower case; punctuation, symbols and whitespace
    dropped; features = character `ngram`s, or word n-grams with `tokenization: word`; FNV-1a +
    SplitMix64 hashes; each occurrence counts). Two documents are near-duplicates when their
    fingerprints differ in at most floor(`distance`) bits (the seed sends 5.6511, meaning 5); every
    such pair is found exactly (permuted-block tables, no probabilistic miss). Pairs form clusters
    (connected components, exact duplicates included); the first document of each cluster in input
    order is kept, every other one is rejected with `duplicate_of=<kept id>` and its Hamming distance
    to that kept document (which may exceed `distance` when it was linked through a chain a~b~c).
    Memory: 8 bytes of fingerprint and the id per document, plus the search tables; never the texts."""

    name = "deduplication_simhash"
    stage = "deduplication"
    args = (
        Arg("distance", float, "maximum Hamming distance of near-duplicates (fractions are floored)",
            required=True, minimum=4, maximum=6),
        Arg("ngram", int, "n-gram length of the features", default=3, minimum=1, maximum=64),
        Arg("tokenization", str, "features over characters or words", default="char", choices=("char", "word")),
    )
    distance: float
    ngram: int
    tokenization: str

    def fingerprint(self, texts: pa.StringArray) -> np.ndarray:
        return simhash_fingerprints(texts, self.ngram, self.tokenization)

    def find_duplicates(self, fingerprints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return keep_first_of_clusters(fingerprints, math.floor(self.distance))
