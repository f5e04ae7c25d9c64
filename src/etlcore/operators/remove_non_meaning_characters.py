from __future__ import annotations

import sys

import numpy as np
import pyarrow as pa
import regex

from etlcore.operators._text import char_class, remove_all
from etlcore.operators.base import Mapper
from etlcore.registry import register
from etlcore.tablecache import code_point_cache

_PRIVATE_USE = [*range(0xE000, 0xF900), *range(0xF0000, 0xFFFFE), *range(0x100000, 0x10FFFE)]
_NONCHARACTERS = [*range(0xFDD0, 0xFDF0), *(plane * 0x10000 + low for plane in range(17) for low in (0xFFFE, 0xFFFF))]
# Unassigned by the Unicode version of the `regex` package (newer than Python's own tables, so that
# recent CJK extensions and emoji count as assigned). Surrogates are excluded: Arrow text is UTF-8.
@code_point_cache
def _unassigned() -> np.ndarray:
    every_code_point = "".join(chr(cp) for cp in range(sys.maxunicode + 1) if not 0xD800 <= cp <= 0xDFFF)
    return np.array([ord(ch) for ch in regex.findall(r"\p{Cn}", every_code_point)], dtype=np.int64)


GARBLED = char_class([0xFFFD, *_PRIVATE_USE, *_NONCHARACTERS, *_unassigned()])

# Mojibake: UTF-8 bytes decoded as Latin-1 or Windows-1252. Its alphabet is U+0080–U+00FF plus the
# 27 characters Windows-1252 puts at 0x80–0x9F; a UTF-8 lead byte (0xC2–0xF4) shows as one of
# Â…ô and is followed by a continuation byte (0x80–0xBF).
_CP1252 = "€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ"
_ALPHABET = char_class([*range(0x80, 0x100), *map(ord, _CP1252)])
_LEAD = char_class(range(0xC2, 0xF5))
_CONTINUATION = char_class([*range(0x80, 0xC0), *map(ord, _CP1252)])
MOJIBAKE = f"[{_ALPHABET}]+[{_LEAD}][{_CONTINUATION}][{_ALPHABET}]*|[{_LEAD}][{_CONTINUATION}][{_ALPHABET}]+"

PATTERN = f"[{GARBLED}]+|{MOJIBAKE}"


@register
class RemoveNonMeaningCharacters(Mapper):
    """Remove garbled and meaningless code points:
    - U+FFFD REPLACEMENT CHARACTER;
    - private-use characters U+E000–U+F8FF, U+F0000–U+FFFFD, U+100000–U+10FFFD;
    - noncharacters U+FDD0–U+FDEF and U+nFFFE, U+nFFFF of every plane;
    - unassigned code points (general category Cn in the Unicode version of the `regex` package);
    - runs of mojibake: a run of 3 or more characters from U+0080–U+00FF and the Windows-1252
      punctuation (€ ‚ ƒ „ … † ‡ ˆ ‰ Š ‹ Œ Ž ‘ ’ “ ” • – — ˜ ™ š › œ ž Ÿ) that contains a UTF-8 lead
      byte shown as Â–ô followed by a continuation byte (U+0080–U+00BF or Windows-1252 punctuation),
      i.e. UTF-8 text that was decoded as Latin-1 or Windows-1252 ("ä¸­æ–‡" for "中文").
    A space the removal would leave doubled, at a line's start or end, or before closing punctuation
    goes too. Accented Latin text ("café", "Ærø", "naïve") is not mojibake and stays. Lone surrogates cannot reach
    an operator: the readers refuse them as broken text (invalid file)."""

    name = "remove_non_meaning_characters"
    stage = "clean"

    def map_texts(self, texts: pa.StringArray) -> pa.StringArray:
        return remove_all(texts, PATTERN)
