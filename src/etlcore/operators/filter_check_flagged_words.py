from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import regex

from etlcore.operators._words import words
from etlcore.operators.base import Arg, Filter
from etlcore.registry import register

HAN = regex.compile(r"\p{Han}")


# No word or phrase of a list is longer (etlcore's own: 13); a longer line means the file is something else.
LONGEST_ENTRY = 100


def default_list_paths() -> list[str]:
    folder = resources.files("etlcore") / "data" / "flagged_words"
    return [str(folder / "en.txt"), str(folder / "zh.txt")]


@functools.cache
def load_entries(paths: tuple[str, ...]) -> tuple[pa.Array, str | None]:
    """(entries matched as whole words, an RE2 pattern of the entries matched as substrings or None).
    A list file has one entry per line, lines starting with # are comments; entries are lower-cased."""
    entries = set()
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                entries.add(line.strip().lower())
    substrings = sorted((e for e in entries if HAN.search(e)), key=lambda e: (-len(e), e))
    whole_words = pa.array(sorted(entries.difference(substrings)), pa.large_string())
    pattern = "|".join(regex.escape(e) for e in substrings) if substrings else None
    return whole_words, pattern


@register
class FilterCheckFlaggedWords(Filter):
    """Reject a document whose share of flagged (pornographic or violent) words exceeds
    `flagged_words_max_cutoff`. Share = hits / words (as `filter_check_number_words` counts them), at most
    1, 0 for a document without words. Text and entries are compared in lower case. Hits: every word
    equal to an entry without a Han character, plus every occurrence in the text of an entry with a Han
    character, found as substrings (so Chinese entries are caught whatever the segmentation; longest
    entry first, occurrences do not overlap). The lists: `flagged_words_file` (your own list, one entry
    per line, # for comments), or by default etlcore's English and Chinese lists in
    etlcore/data/flagged_words (BigScience ROOTS' lists plus violence words; source and licence in each
    file). "看三级片，打飞机" is 4 words with 2 hits: 0.5."""

    name = "filter_check_flagged_words"
    stage = "filter"
    statistic = "flagged_ratio"
    args = (
        Arg("flagged_words_max_cutoff", float, "highest share of flagged words kept", required=True,
            minimum=0, maximum=1),
        Arg("flagged_words_file", str, "path of your own word list, instead of etlcore's", default="", is_path=True),
    )
    flagged_words_max_cutoff: float
    flagged_words_file: str

    @classmethod
    def check_together(cls, values: dict[str, Any]) -> list[str]:
        path = values.get("flagged_words_file")
        if not path:
            return []
        where = f"operator '{cls.name}' arg 'flagged_words_file'"
        if not Path(path).is_file():
            return [f"{where}: no such file: {path}"]
        data = Path(path).read_bytes()
        if b"\x00" in data:
            return [f"{where}: {path} is a binary file, not a word list (one word or phrase per line)"]
        try:
            lines = data.decode("utf-8").splitlines()
        except UnicodeDecodeError as exc:
            return [f"{where}: {path} is not UTF-8 text ({exc.reason} at byte {exc.start})"]
        for number, line in enumerate(lines, 1):
            entry = line.strip()
            if len(entry) > LONGEST_ENTRY and not entry.startswith("#"):
                return [f"{where}: {path} line {number} holds {len(entry)} characters; a word list has one word "
                        f"or phrase per line, at most {LONGEST_ENTRY} characters (# starts a comment)"]
        return []

    def compute(self, texts: pa.StringArray) -> np.ndarray:
        paths = (self.flagged_words_file,) if self.flagged_words_file else tuple(default_list_paths())
        whole_words, pattern = load_entries(paths)
        doc_words = words(texts)
        flat = pc.utf8_lower(doc_words.flatten())
        word_hits = pc.is_in(flat, value_set=whole_words).to_numpy(zero_copy_only=False)
        parents = pc.list_parent_indices(doc_words).to_numpy()
        hits = np.bincount(parents[word_hits], minlength=len(texts)).astype(np.float64)
        if pattern:
            hits += pc.count_substring_regex(pc.utf8_lower(texts), pattern).to_numpy(zero_copy_only=False)
        counts = pc.list_value_length(doc_words).to_numpy(zero_copy_only=False)
        return np.minimum(1.0, np.divide(hits, counts, out=np.zeros(len(texts)), where=counts > 0))

    def keep(self, values: np.ndarray) -> np.ndarray:
        return values <= self.flagged_words_max_cutoff
