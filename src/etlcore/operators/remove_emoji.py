from __future__ import annotations

import emoji
import pyarrow as pa

from etlcore.operators._text import char_class, remove_all
from etlcore.operators.base import Mapper
from etlcore.registry import register


def _emoji_pattern() -> str:
    """One RE2 pattern for every emoji of the `emoji` package's data, built from its structure (a
    literal alternation of 5,000 sequences is far too slow for RE2)."""
    fully_qualified = emoji.STATUS["fully_qualified"]
    data = emoji.EMOJI_DATA.items()
    emoji_default = {ord(k) for k, v in data if len(k) == 1 and v["status"] == fully_qualified}
    text_default = {ord(k[0]) for k, v in data if len(k) == 2 and k[1] == "\ufe0f" and v["status"] == fully_qualified}
    hair = range(0x1F9B0, 0x1F9B4)
    emoji_class = f"[{char_class([*emoji_default, *hair])}]"
    text_class = f"[{char_class(text_default)}]"
    skin = r"[\x{1F3FB}-\x{1F3FF}]"
    regional = r"[\x{1F1E6}-\x{1F1FF}]"
    part = f"(?:{emoji_class}|{text_class}){skin}?\\x{{FE0F}}?"
    zwj_tail = f"(?:\\x{{200D}}{part})"
    return "|".join([
        r"\x{1F3F4}[\x{E0020}-\x{E007E}]+\x{E007F}",                 # subdivision flags (England …)
        f"{regional}{regional}",                                     # country flags
        r"[#*0-9]\x{FE0F}?\x{20E3}",                                 # keycaps
        f"{emoji_class}{skin}?\\x{{FE0F}}?{zwj_tail}*",              # emoji, with modifier / ZWJ sequence
        f"{text_class}(?:{skin}\\x{{FE0F}}?|\\x{{FE0F}}){zwj_tail}*",  # text-default made emoji
        f"{text_class}{zwj_tail}+",                                  # text-default inside a ZWJ sequence
        f"{skin}|{regional}|[\\x{{FE0E}}\\x{{FE0F}}\\x{{20E3}}]|[\\x{{E0020}}-\\x{{E007F}}]",  # leftovers
    ])


EMOJI = _emoji_pattern()


@register
class RemoveEmoji(Mapper):
    """Remove every emoji of the current Unicode emoji set (the `emoji` package's data): single emoji,
    emoji with a skin-tone modifier (👍🏽), ZWJ sequences (👨‍👩‍👧, 👩🏽‍💻), country flags (🇨🇳) and
    subdivision flags (🏴󠁧󠁢󠁥󠁮󠁧󠁿), keycaps (1️⃣ #️⃣), text-default characters turned into emoji by U+FE0F
    (❤️ ☀️ ©️), and leftovers: lone skin-tone modifiers, lone regional indicators, variation selectors
    U+FE0E/U+FE0F, U+20E3 and tag characters. A text-default character standing alone (© ® ™ ☀ ↔ ‼) is
    text and stays, as do digits, CJK text and CJK punctuation. A space the removal would leave doubled,
    at a line's start or end, or before closing punctuation goes too ("call 📞 me 🙂." -> "call me.").
    Feeds the legacy counter `remove_emoji`."""

    name = "remove_emoji"
    stage = "clean"
    counter = "remove_emoji"

    def map_texts(self, texts: pa.StringArray) -> pa.StringArray:
        return remove_all(texts, EMOJI)
