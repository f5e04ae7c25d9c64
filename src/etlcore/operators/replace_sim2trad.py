from __future__ import annotations

import pyarrow as pa

from etlcore.operators._chinese import to_traditional
from etlcore.operators.base import Mapper
from etlcore.registry import register


@register
class ReplaceSim2Trad(Mapper):
    """Convert simplified Chinese to traditional with OpenCC `s2t` (phrase-aware: 头发 → 頭髮,
    发展 → 發展). Feeds the legacy counter `replace_sim2trad`."""

    name = "replace_sim2trad"
    stage = "clean"
    counter = "replace_sim2trad"

    def map_texts(self, texts: pa.StringArray) -> pa.StringArray:
        return to_traditional().convert_texts(texts)
