from __future__ import annotations

import regex

from etlcore.operators._pii import ID_CARD, PatternRedactor, valid_id_card
from etlcore.registry import register


@register
class RemoveIdCard(PatternRedactor):
    """Legacy: remove mainland resident ID numbers only (or put `replacement` in their place): 18
    characters whose last is the ISO 7064 MOD 11-2 check character (0-9 or X), or the old 15 digits,
    with a real birth date from 1900 to today, not inside a run of ASCII letters and digits. Feeds the
    legacy counter `remove_id_card`."""

    name = "remove_id_card"
    counter = "remove_id_card"
    candidates = "[0-9]{15}"
    pattern = regex.compile(ID_CARD)

    def accept(self, match: regex.Match) -> bool:
        return valid_id_card(match.group(0))
