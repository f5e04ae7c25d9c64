from __future__ import annotations

from etlcore.operators.replace_traditional_chinese_to_simplified import ReplaceTraditionalChineseToSimplified
from etlcore.registry import register


@register
class ReplaceTrad2Sim(ReplaceTraditionalChineseToSimplified):
    """Legacy name of the traditional → simplified conversion: the same rule as
    `replace_traditional_chinese_to_simplified` (OpenCC `t2s` plus the supplementary variant table).
    Feeds the legacy counter `replace_trad2sim`."""

    name = "replace_trad2sim"
    counter = "replace_trad2sim"
