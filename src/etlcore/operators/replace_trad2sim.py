from __future__ import annotations

import pyarrow as pa

from etlcore.operators._chinese import to_simplified
from etlcore.operators.base import Mapper
from etlcore.registry import register


@register
class ReplaceTrad2Sim(Mapper):
    """Legacy name of the traditional → simplified conversion: the same rule as
    `replace_traditional_chinese_to_simplified` (OpenCC `t2s` plus the supplementary variant table).
    Feeds the legacy counter `replace_trad2sim`."""

    name = "replace_trad2sim"
    stage = "clean"
    counter = "replace_trad2sim"

    def map_texts(self, texts: pa.StringArray) -> pa.StringArray:
        return to_simplified().convert_texts(texts)
