from __future__ import annotations

import pyarrow as pa
import regex

from etlcore.operators._text import map_where, remove_spans
from etlcore.operators.base import Mapper
from etlcore.registry import register

# Everything up to whitespace, quotes, angle brackets or CJK punctuation is part of the URL.
_URL = regex.compile(r"(?<![A-Za-z0-9])(?:(?:https?|ftp)://|www\.)[^\s<>\"'，。！？、；：“”‘’（）【】《》「」]++",
                     regex.I)
_CLOSING = {")": "(", "]": "[", "}": "{"}


def _kept_tail(match: regex.Match) -> str:
    """What of the match stays in the text: trailing sentence punctuation, and closing brackets that
    do not close one opened inside the URL (at most 16 characters are looked at)."""
    url = match.group(0)
    end = len(url)
    while end > max(0, len(url) - 16):
        char = url[end - 1]
        if char in ".,;:!?" or (char in _CLOSING and url.count(char, 0, end) > url.count(_CLOSING[char], 0, end)):
            end -= 1
        else:
            break
    return url[end:]


@register
class RemoveUrl(Mapper):
    """Legacy: remove URLs. A URL starts with `http://`, `https://`, `ftp://` or `www.` (any case, not
    preceded by a letter or digit) and runs to the first whitespace, quote, angle bracket or CJK
    punctuation mark (，。！？、；：“”‘’（）【】《》「」); trailing `.,;:!?` and closing brackets that do not
    close one opened inside the URL are left in the text. A space the removal would leave doubled, at a
    line's start or end, or before closing punctuation goes too ("see https://x.org." -> "see.").
    Feeds the legacy counter `remove_url`."""

    name = "remove_url"
    stage = "clean"
    counter = "remove_url"

    def map_texts(self, texts: pa.StringArray) -> pa.StringArray:
        return map_where(texts, r"(?i)(?:https?|ftp)://|www\.", _remove_urls)


def _remove_urls(text: str) -> str:
    return remove_spans(text, ((m.start(), m.end() - len(_kept_tail(m))) for m in _URL.finditer(text)))
