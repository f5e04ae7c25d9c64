from __future__ import annotations

import pyarrow as pa

from etlcore.operators._text import remove_all
from etlcore.operators.base import Mapper
from etlcore.registry import register

EXCEPTION_CHARS = (r"[\x{0}-\x{8}\x{B}\x{C}\x{E}-\x{1F}\x{7F}-\x{9F}\x{FFFD}\x{FDD0}-\x{FDEF}"
                   + "".join(f"\\x{{{p:X}FFFE}}\\x{{{p:X}FFFF}}" for p in range(17)) + "]")


@register
class RemoveExceptionChar(Mapper):
    """Legacy: remove characters that are never valid text: the C0 controls other than tab, line feed
    and carriage return (U+0000–U+0008, U+000B, U+000C, U+000E–U+001F), DEL and the C1 controls
    (U+007F–U+009F), U+FFFD REPLACEMENT CHARACTER, and the noncharacters U+FDD0–U+FDEF and U+nFFFE,
    U+nFFFF of every plane. A space the removal would leave doubled, at a line's start or end, or before
    closing punctuation goes too. Feeds the legacy counter `remove_exception_char`."""

    name = "remove_exception_char"
    stage = "clean"
    counter = "remove_exception_char"

    def map_texts(self, texts: pa.StringArray) -> pa.StringArray:
        return remove_all(texts, EXCEPTION_CHARS)
