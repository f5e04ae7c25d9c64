"""Helpers shared by the text operators: vectorised pre-selection, code-point classes."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pyarrow as pa
import pyarrow.compute as pc


def map_where(texts: pa.StringArray, candidate_pattern: str, change: Callable[[str], str]) -> pa.StringArray:
    """Apply `change` (a Python function) only to the texts matching `candidate_pattern` (RE2, run over
    the whole batch in C++). Returns `texts` itself when no text is a candidate."""
    candidates = pc.match_substring_regex(texts, candidate_pattern)
    rows = pc.indices_nonzero(candidates)
    if len(rows) == 0:
        return texts
    changed = [change(text) for text in texts.take(rows).to_pylist()]
    return pc.replace_with_mask(texts, candidates, pa.array(changed, pa.string()))


def replace_all(texts: pa.StringArray, pattern: str, replacement: str) -> pa.StringArray:
    """RE2 replacement over the whole batch; returns `texts` itself when nothing matches."""
    if not pc.any(pc.match_substring_regex(texts, pattern)).as_py():
        return texts
    return pc.replace_substring_regex(texts, pattern, replacement)


def char_class(code_points: Iterable[int]) -> str:
    """An RE2/`regex` character class body (`\\x{41}-\\x{5A}...`) for a set of code points, as ranges."""
    points = sorted(set(code_points))
    parts, start = [], None
    for i, point in enumerate(points):
        if start is None:
            start = point
        if i + 1 == len(points) or points[i + 1] != point + 1:
            parts.append(f"\\x{{{start:X}}}" if start == point else f"\\x{{{start:X}}}-\\x{{{point:X}}}")
            start = None
    return "".join(parts)
