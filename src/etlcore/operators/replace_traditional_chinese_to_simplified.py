from __future__ import annotations

import pyarrow as pa

from etlcore.operators._chinese import to_simplified
from etlcore.operators.base import Mapper
from etlcore.registry import register


@register
class ReplaceTraditionalChineseToSimplified(Mapper):
    """Convert traditional Chinese to simplified with OpenCC `t2s` (phrase-aware: 乾燥 → 干燥 but 乾隆
    stays), then map the variant characters that no OpenCC configuration maps (`T2S_SUPPLEMENT` in
    `etlcore/operators/_chinese.py`: 妳 → 你, 牠 → 它). "不經意，妳的笑容" → "不经意，你的笑容".
    Feeds the legacy counter `trad_to_simp`."""

    name = "replace_traditional_chinese_to_simplified"
    stage = "clean"
    counter = "trad_to_simp"

    def map_texts(self, texts: pa.StringArray) -> pa.StringArray:
        return to_simplified().convert_texts(texts)
