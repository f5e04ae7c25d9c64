from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from etlcore.operators.base import Mapper
from etlcore.registry import register


@register
class ReplaceUpper2Lower(Mapper):
    """Lower-case every character: each code point takes its Unicode simple lower-case mapping
    ("ÀBC Ünïcode ΣΑΣ" → "àbc ünïcode σασ"); characters without case, Chinese included, are unchanged.
    Feeds the legacy counter `replace_upper2lower`."""

    name = "replace_upper2lower"
    stage = "clean"
    counter = "replace_upper2lower"
    light = True

    def map_texts(self, texts: pa.StringArray) -> pa.StringArray:
        return pc.utf8_lower(texts)
