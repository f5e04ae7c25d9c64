from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import regex

from etlcore.operators.base import Arg, Mapper
from etlcore.registry import register

# A cut between these two characters may split a user-perceived character (UAX #29): the next one
# is a mark, a format character (ZWJ, tags), a variation selector, a skin tone, a regional indicator
# or the LF of a CRLF; or the previous one is a ZWJ, a CR, a regional indicator or a Hangul jamo.
_MAY_JOIN_NEXT = r"^[\p{M}\p{Cf}\x{FE00}-\x{FE0F}\x{1F3FB}-\x{1F3FF}\x{1F1E6}-\x{1F1FF}\n]"
_MAY_JOIN_PREVIOUS = r"^[\x{200D}\r\x{1F1E6}-\x{1F1FF}\x{1100}-\x{11FF}]"
_GRAPHEME = regex.compile(r"\X")
_WINDOW = 64


def _cut_on_grapheme(text: str, limit: int) -> str:
    """`text[:limit]`, moved back to the last grapheme-cluster boundary at or before `limit`."""
    start = max(0, limit - _WINDOW)
    best = 0 if start == 0 else None
    for match in _GRAPHEME.finditer(text, start, limit + _WINDOW):
        if match.end() > limit:
            break
        best = match.end()
    return text[: best if best is not None else limit]


@register
class Cut(Mapper):
    """Truncate every document to at most `max_length` characters (Unicode code points). The cut never
    splits a user-perceived character: when position `max_length` falls inside a grapheme cluster
    (an emoji ZWJ sequence, a letter with combining marks, a flag, CRLF), the cut moves back to the
    start of that cluster. Shorter documents are untouched. Feeds the legacy counter `cut`:
    `remaining_entity` = documents that left this operator, `unprocessed_entity` = documents that
    reached it but were not processed (0 unless the run stopped early)."""

    name = "cut"
    stage = "clean"
    light = True
    args = (Arg("max_length", int, "maximum document length in characters", required=True,
                minimum=1, maximum=100_000_000),)
    max_length: int

    def map_texts(self, texts: pa.StringArray) -> pa.StringArray:
        limit = self.max_length
        too_long = pc.greater(pc.utf8_length(texts), limit)
        rows = pc.indices_nonzero(too_long)
        if len(rows) == 0:
            return texts
        long_texts = texts.take(rows)  # slice only the documents that need it
        cut = pc.utf8_slice_codeunits(long_texts, 0, limit)
        suspect = pc.or_(pc.match_substring_regex(pc.utf8_slice_codeunits(long_texts, limit, limit + 1),
                                                  _MAY_JOIN_NEXT),
                         pc.match_substring_regex(pc.utf8_slice_codeunits(long_texts, limit - 1, limit),
                                                  _MAY_JOIN_PREVIOUS))
        suspects = pc.indices_nonzero(suspect).to_numpy()
        if len(suspects):
            fixed = [_cut_on_grapheme(long_texts[int(i)].as_py(), limit) for i in suspects]
            cut = pc.replace_with_mask(cut, suspect, pa.array(fixed, pa.string()))
        return pc.replace_with_mask(texts, too_long, cut)
