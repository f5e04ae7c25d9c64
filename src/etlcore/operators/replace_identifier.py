from __future__ import annotations

import regex

from etlcore.operators._pii import ID_CARD, PHONE, PatternRedactor, key_like, luhn_valid, valid_id_card
from etlcore.registry import register

_START, _END = r"(?<![A-Za-z0-9_-])", r"(?![A-Za-z0-9_])"
_PATTERN = "|".join([
    rf"(?P<id_card>{ID_CARD})",
    rf"(?P<card>{_START}(?:[0-9]{{13,19}}|[0-9]{{4}}(?:[ -][0-9]{{4}}){{2,3}}(?:[ -][0-9]{{1,3}})?){_END})",
    rf"(?P<phone>{PHONE})",
    rf"(?P<hash>{_START}(?:[0-9a-f]{{64}}|[0-9A-F]{{64}}|[0-9a-f]{{40}}|[0-9A-F]{{40}}|[0-9a-f]{{32}}|[0-9A-F]{{32}}){_END})",
    rf"(?P<key>{_START}(?:(?:sk|pk|rk|ghp|gho|ghs|xoxb|xoxp)[-_][A-Za-z0-9_-]{{16,200}}+|[A-Za-z0-9_-]{{20,256}}+){_END})",
])


@register
class ReplaceIdentifier(PatternRedactor):
    """Remove numeric and alphanumeric identifiers (or put `replacement` in their place). None may
    start or end inside a run of ASCII letters, digits or `_` (numbers inside words stay):
    - mainland resident ID numbers: 18 characters whose last is the ISO 7064 MOD 11-2 check character
      (0-9 or X), or the old 15 digits; the birth date in them must be a real date from 1900 to today;
    - bank and credit card numbers: 13–19 digits, written together or in groups of 4 separated by
      single spaces or hyphens, that pass the Luhn check;
    - phone numbers: mainland mobiles 1[3-9]x xxxx xxxx (spaces or hyphens allowed, optional +86 /
      0086), landlines with area code 0xx(x) (in parentheses or not) and a 7–8 digit number starting
      2-9, optional -extension, and 400/800 service numbers;
    - hex hashes of exactly 32, 40 or 64 hex digits in one case, with at least one digit and one letter;
    - keys: tokens of letters, digits, `_` and `-` with a known prefix (sk-, pk-, rk-, ghp_, gho_,
      ghs_, xoxb-, xoxp-) and 16+ more characters, or of 20–256 characters where letters and digits
      alternate at least three times.
    Years, dates, times, prices, percentages, small numbers and version strings match none of these."""

    name = "replace_identifier"
    candidates = r"[0-9]{7}|[0-9]{3,4}[ -][0-9]{4}|[0-9A-Za-z_-]{16}"
    pattern = regex.compile(_PATTERN)

    def accept(self, match: regex.Match) -> bool:
        text = match.group(0)
        kind = match.lastgroup
        if kind == "id_card":
            return valid_id_card(text) or (text.isdigit() and luhn_valid(text))
        if kind == "card":
            digits = text.replace(" ", "").replace("-", "")
            return luhn_valid(digits) or valid_id_card(digits)
        if kind == "hash":
            return any(c.isdigit() for c in text) and any(c.isalpha() for c in text)
        if kind == "key":
            return key_like(text) or regex.match(r"(?:sk|pk|rk|ghp|gho|ghs|xoxb|xoxp)[-_]", text) is not None
        return True
