"""Helpers shared by the text operators: vectorised pre-selection, span removal, code-point classes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
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


HORIZONTAL_SPACE = " \t"
LINE_BREAKS = "\n\r"
# A space left before one of these by a removal is stranded ("at X." -> "at ."), and one left after an
# opening bracket too ("(X hi)" -> "( hi)"). Straight quotes open and close, so they are in neither.
CLOSING = frozenset(".,;:!?)]}…，。！？、；：）】》」』〉”’")
OPENING = frozenset("([{（【《「『〈“‘")


def join_kept(pieces: Sequence[str]) -> str:
    """Join the pieces of a text that are left around removed spans (`pieces[i]` came before the i-th
    removed span, the last piece after the last span), so that the spaces read as if the spans had
    never been there. At each removed span:
    - a space on both sides: the spaces after it go, those before it stay ("at X is" -> "at is");
    - nothing but the spaces after it at the start of a line or after an opening bracket: they go
      ("X hi" -> "hi", "(X hi)" -> "(hi)");
    - the spaces before it followed by closing punctuation, a line break or the end of the text: they
      go ("call X." -> "call.", "call X\n" -> "call\n").
    Spans with nothing or only spaces between them count as one. Text away from a removed span keeps
    its spacing."""
    out = [pieces[0]] if pieces[0] else []
    for index in range(1, len(pieces)):
        piece = pieces[index]
        before = out[-1][-1] if out else "\n"
        if before in HORIZONTAL_SPACE or before in LINE_BREAKS or before in OPENING:
            piece = piece.lstrip(HORIZONTAL_SPACE)
        is_last = index == len(pieces) - 1
        if not piece and not is_last:
            continue
        after = piece[0] if piece else "\n"
        if before in HORIZONTAL_SPACE and (after in CLOSING or after in LINE_BREAKS):
            _strip_trailing_space(out)
        if piece:
            out.append(piece)
    return "".join(out)


def _strip_trailing_space(out: list[str]) -> None:
    while out:
        stripped = out[-1].rstrip(HORIZONTAL_SPACE)
        if stripped:
            out[-1] = stripped
            return
        out.pop()


def remove_spans(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """`text` without the (start, end) spans (in order, not overlapping), spaces as `join_kept` says."""
    pieces, position = [], 0
    for start, end in spans:
        pieces.append(text[position:start])
        position = end
    if not pieces:
        return text
    pieces.append(text[position:])
    return join_kept(pieces)


def remove_all(texts: pa.StringArray, pattern: str) -> pa.StringArray:
    """Remove every match of the RE2 `pattern` (which never matches the empty string), spaces as
    `join_kept` says. The batch is searched and split in C++; only the texts holding a match are
    joined in Python. Returns `texts` itself when nothing matches."""
    candidates = pc.match_substring_regex(texts, pattern)
    rows = pc.indices_nonzero(candidates)
    if len(rows) == 0:
        return texts
    split = pc.split_pattern_regex(texts.take(rows), pattern)
    changed = [join_kept(pieces) for pieces in split.to_pylist()]
    return pc.replace_with_mask(texts, candidates, pa.array(changed, pa.string()))


def char_class(code_points: Iterable[int]) -> str:
    """An RE2/`regex` character class body (`\\x{41}-\\x{5A}...`) for a set of code points, as ranges."""
    present = np.zeros(0x110000, dtype=np.bool_)
    present[np.fromiter(code_points, dtype=np.int64)] = True
    points = np.flatnonzero(present)
    if not len(points):
        return ""
    breaks = np.flatnonzero(np.diff(points) != 1)  # a run ends where the next point is not one more
    firsts, lasts = points[np.r_[0, breaks + 1]], points[np.r_[breaks, len(points) - 1]]
    return "".join(f"\\x{{{first:X}}}" if first == last else f"\\x{{{first:X}}}-\\x{{{last:X}}}"
                   for first, last in zip(firsts.tolist(), lasts.tolist()))
