"""Patterns and validators for personal data, shared by the desensitization operators.

Every pattern is written for the `regex` module so that it can use lookarounds for its boundaries,
and so that it runs in linear time: repetitions are bounded or possessive, and a match can only start
where its lookbehind allows, so a long run of digits, letters, `@`, `.` or `:` is scanned once.
"""

from __future__ import annotations

from datetime import date
from itertools import pairwise
from typing import ClassVar

import pyarrow as pa
import regex

from etlcore.operators._text import map_where, remove_spans
from etlcore.operators.base import Arg, Mapper

# Boundaries: a match never starts or ends inside a word of ASCII letters and digits ("numbers inside
# words" are not identifiers); CJK characters and punctuation are boundaries.
_START = r"(?<![A-Za-z0-9_])"
_END = r"(?![A-Za-z0-9_])"

EMAIL = (r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}+@"
         r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}+(?<=[A-Za-z0-9]))?\.){1,8}[A-Za-z]{2,24}+(?![A-Za-z0-9-])")

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
IPV4_BODY = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
IPV4 = rf"(?<![A-Za-z0-9.]){IPV4_BODY}(?![0-9]|\.[0-9])"
_H = r"[0-9A-Fa-f]{1,4}"
IPV6_BODY = "|".join([
    rf"(?:{_H}:){{6}}{IPV4_BODY}",
    rf"::(?:[Ff]{{4}}(?::0{{1,4}})?:)?{IPV4_BODY}",
    rf"(?:{_H}:){{1,4}}:{IPV4_BODY}",
    rf"(?:{_H}:){{7}}{_H}",
    rf"(?:{_H}:){{1,6}}(?::{_H}){{1,6}}",  # compressed, checked for at most 7 groups below
    rf"(?:{_H}:){{1,7}}:",
    rf":(?::{_H}){{1,7}}",
])
IPV6 = rf"(?<![A-Za-z0-9:.])(?:{IPV6_BODY})(?:%[0-9A-Za-z]{{1,16}})?(?![A-Za-z0-9:]|\.[0-9])"

MOBILE = r"(?:(?:\+|00)86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]{4}){2}"
LANDLINE = r"(?:\(0[0-9]{2,3}\)[ -]?|0[0-9]{2,3}[ -]?)[2-9][0-9]{6,7}(?:-[0-9]{1,4})?"
SERVICE = r"[48]00[ -]?[0-9]{3}[ -]?[0-9]{4}"
PHONE = rf"{_START}(?:{MOBILE}|{LANDLINE}|{SERVICE}){_END}"
ID_CARD = rf"{_START}[1-9][0-9]{{14}}(?:[0-9]{{2}}[0-9Xx])?{_END}"


def valid_id_card(number: str) -> bool:
    """A mainland resident ID: 18 characters with the ISO 7064 MOD 11-2 check character, or the old
    15-digit form; both with a real birth date."""
    if len(number) == 18:
        weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
        check = "10X98765432"[sum(int(d) * w for d, w in zip(number, weights)) % 11]
        if number[17].upper() != check:
            return False
        year, month, day = int(number[6:10]), int(number[10:12]), int(number[12:14])
    elif len(number) == 15 and number.isdigit():
        year, month, day = 1900 + int(number[6:8]), int(number[8:10]), int(number[10:12])
    else:
        return False
    try:
        return date(1900, 1, 1) <= date(year, month, day) <= date.today()
    except ValueError:
        return False


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def key_like(token: str) -> bool:
    """A machine-made key, not a word: letters and digits alternate at least three times."""
    kinds = ["d" if c.isdigit() else "a" if c.isalpha() else "" for c in token]
    kinds = [k for k in kinds if k]
    return sum(1 for a, b in pairwise(kinds) if a != b) >= 3


class PatternRedactor(Mapper):
    """Base of the desensitization operators: replace every accepted match of `pattern`.

    With the empty replacement a match is removed as `_text.join_kept` says: a space the removal would
    leave doubled, at a line's start or end, or before closing punctuation goes too ("at 10.0.0.1 is
    down" -> "at is down").

    `candidates` is an RE2 pattern that every document holding a match must match; it selects the
    documents over the whole batch in C++ before the exact pattern runs on them alone.
    """

    stage = "desensitization"
    args = (Arg("replacement", str, "what replaces each match (default: the empty string, i.e. removed)",
                default=""),)
    candidates: ClassVar[str]
    pattern: ClassVar[regex.Pattern]
    replacement: str

    def accept(self, match: regex.Match) -> bool:
        return True

    def _redact(self, match: regex.Match) -> str:
        return self.replacement if self.accept(match) else match.group(0)

    def redact(self, text: str) -> str:
        if self.replacement:
            return self.pattern.sub(self._redact, text)
        return remove_spans(text, (m.span() for m in self.pattern.finditer(text) if self.accept(m)))

    def map_texts(self, texts: pa.StringArray) -> pa.StringArray:
        return map_where(texts, self.candidates, self.redact)
