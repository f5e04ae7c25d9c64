from __future__ import annotations

import regex

from etlcore.operators._pii import ID_CARD, PHONE, PatternRedactor, key_like, luhn_valid, valid_id_card
from etlcore.registry import register

_START, _END = r"(?<![A-Za-z0-9_-])", r"(?![A-Za-z0-9_])"
# The key formats a leak scanner knows (the prefixes are those of gitleaks' rules). Their own bodies are
# often too regular for the generic rule (AKIAIOSFODNN7EXAMPLE alternates letters and digits twice).
_KNOWN_KEYS = "|".join([
    # AWS access key ids; after ASIA (a word) at least one digit: ASIAPACIFICECONOMIES is no key
    r"(?:AKIA|ABIA|ACCA|A3T[A-Z0-9]|ASIA(?=[A-Z]{0,15}[2-7]))[A-Z2-7]{16}",
    r"AIza[0-9A-Za-z_-]{35}",  # Google API keys
    r"(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{10,99}+",  # Stripe secret and restricted keys
    r"xox[abprs]-[0-9A-Za-z-]{10,200}+",  # Slack tokens
    r"eyJ[A-Za-z0-9_-]{8,4096}+\.eyJ[A-Za-z0-9_-]{8,8192}+\.[A-Za-z0-9_-]{0,4096}+",  # JWTs (header.payload.sig)
])
# A PEM private key block, header to footer; the body (base64, and the Proc-Type/DEK-Info headers of an
# encrypted key) cannot run past the next "-----", so a header without a footer scans only its own body.
_PEM = (r"-----BEGIN (?:[A-Z0-9]+ ){0,4}PRIVATE KEY-----(?:[A-Za-z0-9+/=\s:,]|-(?!----)){1,65536}+"
        r"-----END (?:[A-Z0-9]+ ){0,4}PRIVATE KEY-----")
_PATTERN = "|".join([
    rf"(?P<pem>{_PEM})",
    rf"(?P<known_key>{_START}(?:{_KNOWN_KEYS}){_END})",
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
    - known key formats: AWS access key ids (AKIA, ASIA, ABIA, ACCA or A3T plus one letter or digit,
      then 16 of A-Z 2-7: AKIAIOSFODNN7EXAMPLE; after ASIA, an English word, the 16 must hold a digit,
      which 3.6 % of random ids lack), Google API keys (AIza and 35 of letters, digits, _ -),
      Stripe keys (sk_live_, sk_test_, rk_live_, rk_test_ and 10-99 letters or digits), Slack tokens
      (xoxa-, xoxb-, xoxp-, xoxr-, xoxs- and 10+ letters, digits or -), JWTs (eyJ….eyJ….signature:
      two base64url parts of 11+ characters starting eyJ, a dot, a signature of 0+), and PEM private key
      blocks from `-----BEGIN … PRIVATE KEY-----` to `-----END … PRIVATE KEY-----` (RSA, EC, DSA,
      OPENSSH, ENCRYPTED or none; a header without its footer is left alone);
    - other keys: tokens of letters, digits, `_` and `-` with a known prefix (sk-, pk-, rk-, ghp_,
      gho_, ghs_, xoxb-, xoxp-) and 16+ more characters, or of 20–256 characters where letters and
      digits alternate at least three times.
    Years, dates, times, prices, percentages, small numbers and version strings match none of these."""

    name = "replace_identifier"
    candidates = r"[0-9]{7}|[0-9]{3,4}[ -][0-9]{4}|[0-9A-Za-z_-]{16}|-----BEGIN "
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
