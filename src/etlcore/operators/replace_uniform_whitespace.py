from __future__ import annotations

import pyarrow as pa

from etlcore.operators._text import replace_all
from etlcore.operators.base import Mapper
from etlcore.registry import register

# Every Unicode space separator (general category Zs) but the ASCII space itself.
SPACE_SEPARATORS = r"[\x{A0}\x{1680}\x{2000}-\x{200A}\x{202F}\x{205F}\x{3000}]"


@register
class ReplaceUniformWhitespace(Mapper):
    """Turn every Unicode space separator into an ASCII space U+0020: no-break space U+00A0, Ogham
    space mark U+1680, the spaces U+2000–U+200A (en quad … hair space, including U+2008 punctuation
    space), narrow no-break space U+202F, medium mathematical space U+205F and ideographic space U+3000.
    One separator becomes one space (runs are not collapsed); line breaks and tabs stay."""

    name = "replace_uniform_whitespace"
    stage = "clean"
    light = True

    def map_texts(self, texts: pa.StringArray) -> pa.StringArray:
        return replace_all(texts, SPACE_SEPARATORS, " ")
