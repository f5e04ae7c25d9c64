from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from etlcore.operators.base import Arg, Deduplicator, Filter, Mapper
from etlcore.registry import _OPERATORS, operators, register

REPO = Path(__file__).resolve().parents[1]
SEED_DETAIL = Path(__file__).parent / "data" / "seed_detail.json"


def write_jsonl(path: Path, rows: list[dict | bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join((r if isinstance(r, bytes) else orjson.dumps(r)) + b"\n" for r in rows))
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


class ToyLength(Filter):
    """Test filter: statistic = length in characters; keep when min_length <= length."""

    name = "toy_length"
    stage = "filter"
    statistic = "length"
    args = (Arg("min_length", float, "minimum length", required=True, minimum=0, maximum=1000),)

    def compute(self, texts: pa.StringArray) -> np.ndarray:
        return pc.utf8_length(texts).to_numpy(zero_copy_only=False).astype(np.float64)

    def keep(self, values: np.ndarray) -> np.ndarray:
        return values >= self.min_length


class ToyDigits(Filter):
    """Test filter: statistic = number of ASCII digits; keep when digits <= max_digits."""

    name = "toy_digits"
    stage = "filter"
    statistic = "digits"
    args = (Arg("max_digits", int, "maximum digits", required=True, minimum=0, maximum=100),)

    def compute(self, texts: pa.StringArray) -> np.ndarray:
        return pc.count_substring_regex(texts, "[0-9]").to_numpy(zero_copy_only=False).astype(np.float64)

    def keep(self, values: np.ndarray) -> np.ndarray:
        return values <= self.max_digits


class ToyExactDedup(Deduplicator):
    """Test deduplicator: fingerprint = hash of the lower-cased text; equal fingerprints are duplicates."""

    name = "toy_exact_dedup"
    stage = "deduplication"

    def fingerprint(self, texts: pa.StringArray, frequent_lines: object = None) -> np.ndarray:
        import hashlib

        return np.array([int.from_bytes(hashlib.blake2b(t.lower().encode(), digest_size=8).digest(), "little")
                         for t in texts.to_pylist()], dtype=np.uint64)

    def find_duplicates(self, fingerprints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        first: dict[int, int] = {}
        kept = np.full(len(fingerprints), -1, dtype=np.int64)
        for i, value in enumerate(fingerprints.tolist()):
            if value in first:
                kept[i] = first[value]
            else:
                first[value] = i
        return kept, np.zeros(len(fingerprints), dtype=np.int64)


class ToyMaskDigits(Mapper):
    """Test desensitization mapper: every ASCII digit becomes '*'."""

    name = "toy_mask_digits"
    stage = "desensitization"

    def map_texts(self, texts: pa.StringArray) -> pa.StringArray:
        return pc.replace_substring_regex(texts, "[0-9]", "*")


class ToyBoom(Filter):
    """Test filter that fails on any text containing 'boom'."""

    name = "toy_boom"
    stage = "filter"
    statistic = "boom"

    def compute(self, texts: pa.StringArray) -> np.ndarray:
        if any("boom" in t for t in texts.to_pylist()):
            raise ValueError("boom found")
        return np.zeros(len(texts))

    def keep(self, values: np.ndarray) -> np.ndarray:
        return values == 0


TOYS = (ToyLength, ToyDigits, ToyExactDedup, ToyMaskDigits, ToyBoom)


@pytest.fixture
def toy_operators() -> Iterator[None]:
    """Register the toy filters and deduplicator for one test (the real ones come with their issues)."""
    operators()
    for cls in TOYS:
        register(cls)
    yield
    for cls in TOYS:
        _OPERATORS.pop(cls.name)
