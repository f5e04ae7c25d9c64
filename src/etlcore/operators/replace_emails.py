from __future__ import annotations

import regex

from etlcore.operators._pii import EMAIL, PatternRedactor
from etlcore.registry import register


@register
class ReplaceEmails(PatternRedactor):
    """Remove e-mail addresses (or put `replacement` in their place). An address is a local part of
    ASCII letters, digits and `._%+-` (starting with a letter or digit, at most 64 characters, so
    `first.last+tag@…` counts) not preceded by another such character, `@`, then 1–8 domain labels
    of letters, digits and inner hyphens each followed by a dot, then a top-level domain of 2–24 letters
    not followed by a letter, digit or hyphen. Subdomains count (`a@mail.example.com.cn`); `@handles`,
    `user@localhost` and `a@b` do not. CJK text and punctuation around an address are boundaries."""

    name = "replace_emails"
    candidates = "@"
    pattern = regex.compile(EMAIL)
