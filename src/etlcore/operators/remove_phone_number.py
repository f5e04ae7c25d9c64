from __future__ import annotations

import regex

from etlcore.operators._pii import PHONE, PatternRedactor
from etlcore.registry import register


@register
class RemovePhoneNumber(PatternRedactor):
    """Legacy: remove phone numbers only (or put `replacement` in their place): mainland mobiles
    1[3-9]x xxxx xxxx (spaces or hyphens allowed, optional +86 / 0086), landlines with area code
    0xx(x) (in parentheses or not) and a 7–8 digit number starting 2-9, optional -extension, and
    400/800 service numbers; not inside a run of ASCII letters and digits. Feeds the legacy counter
    `remove_phone_number`."""

    name = "remove_phone_number"
    counter = "remove_phone_number"
    candidates = r"[0-9]{3,4}[ -)]?[0-9]{3,4}[ -]?[0-9]{4}"
    pattern = regex.compile(PHONE)
