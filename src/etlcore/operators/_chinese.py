"""Traditional ↔ simplified Chinese with OpenCC: one converter per configuration and process."""

from __future__ import annotations

from functools import cache

import opencc
import pyarrow as pa

from etlcore.operators._text import char_class, map_where

# Variant characters that no OpenCC configuration (t2s, tw2s, tw2sp, hk2s) maps, applied after t2s.
# Each is listed as a variant (异体字) of the standard character in 第一批异体字整理表 (1955), and the
# standard character is what 通用规范汉字表 (2013) prescribes for simplified text.
T2S_SUPPLEMENT = {
    "妳": "你",  # "you" (to a woman), Taiwan/Hong Kong usage: the seed's own example 妳的笑容 → 你的笑容
    "牠": "它",  # "it" (an animal), Taiwan usage
}

_CJK = [*range(0x3400, 0xA000), *range(0xF900, 0xFB00), *range(0x20000, 0x2FA20), *range(0x30000, 0x323B0)]


class ChineseConverter:
    """OpenCC `config` (`t2s` or `s2t`) plus a supplementary character table, over Arrow batches.

    Only documents holding at least one character that the conversion changes are converted: those
    characters form one RE2 class, matched over the whole batch first.
    """

    def __init__(self, config: str, supplement: dict[str, str]) -> None:
        self._opencc = opencc.OpenCC(config)
        self._supplement = str.maketrans(supplement)
        characters = [chr(cp) for cp in _CJK]
        converted = self._opencc.convert("\n".join(characters)).split("\n")
        changed = {ord(a) for a, b in zip(characters, converted) if a != b} | set(map(ord, supplement))
        self.candidates = f"[{char_class(changed)}]"

    def convert(self, text: str) -> str:
        return self._opencc.convert(text).translate(self._supplement)

    def convert_texts(self, texts: pa.StringArray) -> pa.StringArray:
        return map_where(texts, self.candidates, self.convert)


@cache
def to_simplified() -> ChineseConverter:
    return ChineseConverter("t2s", T2S_SUPPLEMENT)


@cache
def to_traditional() -> ChineseConverter:
    return ChineseConverter("s2t", {})
