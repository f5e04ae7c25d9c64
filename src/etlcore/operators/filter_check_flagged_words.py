from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import regex

from etlcore.operators._words import segment, words
from etlcore.operators.base import Arg, Filter
from etlcore.registry import register

HAN = regex.compile(r"\p{Han}")


# No word or phrase of a list is longer (etlcore's own: 13); a longer line means the file is something else.
LONGEST_ENTRY = 100


def default_list_paths() -> list[str]:
    folder = resources.files("etlcore") / "data" / "flagged_words"
    return [str(folder / "en.txt"), str(folder / "zh.txt")]


@dataclass(frozen=True)
class FlaggedList:
    """A flagged-word list: entries without a Han character are matched as whole words; entries with
    one as occurrences in the text that begin or end on a word boundary (see the filter's rule).
    `chinese` is a `regex` pattern of those entries, longest first, for a case-blind search; RE2's
    `candidates` picks the documents holding one before any segmentation."""

    whole_words: pa.Array
    chinese: regex.Pattern | None
    candidates: str | None


@functools.cache
def load_entries(paths: tuple[str, ...]) -> FlaggedList:
    """A list file has one entry per line, lines starting with # are comments; entries are lower-cased."""
    entries = set()
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                entries.add(line.strip().lower())
    chinese = sorted((e for e in entries if HAN.search(e)), key=lambda e: (-len(e), e))
    whole_words = pa.array(sorted(entries.difference(chinese)), pa.large_string())
    if not chinese:
        return FlaggedList(whole_words, None, None)
    alternatives = "|".join(regex.escape(e) for e in chinese)
    return FlaggedList(whole_words, regex.compile(alternatives, regex.IGNORECASE), "(?i)" + alternatives)


def chinese_hits(text: str, pattern: regex.Pattern) -> int:
    """Occurrences of the Chinese entries in `text` (leftmost, longest entry first, not overlapping) that
    begin or end on a boundary of the text's tokens as segmented (jieba's, see `_words.segment`)."""
    edges, place = {0}, 0
    for token in segment(text):
        place += len(token)
        edges.add(place)
    return sum(1 for found in pattern.finditer(text) if found.start() in edges or found.end() in edges)


@register
class FilterCheckFlaggedWords(Filter):
    """Reject a document whose share of flagged (pornographic or violent) words exceeds
    `flagged_words_max_cutoff`. Share = hits / words (as `filter_check_number_words` counts them), at most
    1, 0 for a document without words. Text and entries are compared in lower case. Hits:
    - every word equal to an entry without a Han character;
    - every occurrence in the text of an entry with a Han character (leftmost, longest entry first, not
      overlapping) that begins or ends on a word boundary of the text's segmentation (jieba's tokens, as
      for Chinese words). An entry buried inside words at both of its ends is no hit: in 出口|交付 the
      口交 begins inside 出口 and ends inside 交付, in the one word 水乳交融 乳交 touches neither end. An
      entry that begins or ends a longer word is a hit: 卖淫嫖娼 is one word and begins with 卖淫, 大屠杀
      ends with 屠杀; so is an entry that jieba glued to a neighbour at one side only (全碎|尸 for 碎尸).
      Entries are found in the text as written, so words split by punctuation or spaces (口，交) do not
      join, unlike Qianfan's 2-word joins.
    Measured (benchmarks/flagged_quality.py): of the 19,484 lines of People's Daily 1998, 24 have a hit
    and none only by an entry inside words at both ends (27 and 3 with plain substrings); an entry put
    in at a random word boundary of 5,000 People's Daily paragraphs is found in 99.9 % of them (the
    rest: jieba glued it to words at both sides).
    The lists: `flagged_words_file` (your own list, one entry per line, # for comments), or by default
    etlcore's English and Chinese lists in etlcore/data/flagged_words (BigScience ROOTS' lists plus
    violence words; source and licence in each file). "看三级片，打飞机" is 4 words with 2 hits: 0.5."""

    name = "filter_check_flagged_words"
    stage = "filter"
    statistic = "flagged_ratio"
    max_cutoff = "flagged_words_max_cutoff"
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
        flagged = load_entries(paths)
        doc_words = words(texts)
        flat = pc.utf8_lower(doc_words.flatten())
        word_hits = pc.is_in(flat, value_set=flagged.whole_words).to_numpy(zero_copy_only=False)
        parents = pc.list_parent_indices(doc_words).to_numpy()
        hits = np.bincount(parents[word_hits], minlength=len(texts)).astype(np.float64)
        if flagged.candidates:
            holding = pc.match_substring_regex(texts, flagged.candidates)
            rows = np.flatnonzero(holding.to_numpy(zero_copy_only=False))
            for row, text in zip(rows, texts.take(pa.array(rows)).to_pylist()):
                hits[row] += chinese_hits(text, flagged.chinese)
        counts = pc.list_value_length(doc_words).to_numpy(zero_copy_only=False)
        return np.minimum(1.0, np.divide(hits, counts, out=np.zeros(len(texts)), where=counts > 0))

    def keep(self, values: np.ndarray) -> np.ndarray:
        return values <= self.flagged_words_max_cutoff
