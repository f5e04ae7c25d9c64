from __future__ import annotations

import regex

from etlcore.operators._pii import IPV4, IPV6, PatternRedactor
from etlcore.registry import register


@register
class ReplaceIp(PatternRedactor):
    """Remove IP addresses (or put `replacement` in their place).
    - IPv4: four decimal octets 0–255 without leading zeros, joined by dots, not preceded by a letter,
      digit or dot and not followed by a digit or by a dot and a digit: `1.2.3.4.5`, `999.1.1.1`,
      `v1.2.3.4` and `01.02.03.04` are not addresses.
    - IPv6: every RFC 4291 text form: eight groups, compressed with `::` (`2001:db8::1`, `::1`,
      `fe80::`), with an embedded IPv4 (`::ffff:192.0.2.1`, `64:ff9b::192.0.2.33`), an optional zone
      (`fe80::1%eth0`); at most eight groups in all; not inside a longer run of letters, digits and
      colons (`std::vector` stays). A bare `::` and MAC addresses or times (`12:30:45`) are not
      addresses."""

    name = "replace_ip"
    candidates = r"[0-9]\.[0-9]{1,3}\.[0-9]|[0-9A-Fa-f]?:[0-9A-Fa-f]*:"
    pattern = regex.compile(rf"(?P<v4>{IPV4})|(?P<v6>{IPV6})")

    def accept(self, match: regex.Match) -> bool:
        if match.lastgroup == "v4":
            return True
        address = match.group(0).split("%")[0]
        groups = [g for g in address.split(":") if g]
        if "." in address:  # an embedded IPv4 counts as two groups
            groups = [*groups[:-1], "ip4a", "ip4b"]
        return len(groups) == 8 if "::" not in address else len(groups) <= 7
