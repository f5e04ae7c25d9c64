"""No operator's pattern backtracks catastrophically: on adversarial lines, 1 MB takes about ten times
what 100 KB takes, never the hundred times a quadratic pattern would (generous bound: 30x)."""

import time

import pyarrow as pa
import pytest

from etlcore.operators.base import Mapper
from etlcore.registry import operators

ADVERSARIAL = {
    "digits": "1",
    "at": "@",
    "less_than": "<",
    "dots": ".",
    "colons": ":",
    "letters": "a",
    "digit_dot": "1.",
    "hex_colon": "f:",
    "letter_at": "a@",
    "local_at_dot": "a.b@c",
    "open_tag": '<a x="',
    "entity": "&#x",
    "script": "<script>",
    "comment": "<!--",
    "url_brackets": "http://a)",
    "phone_like": "138 ",
    "card_like": "6222 ",
    "key_like": "a1-",
    "mojibake": "Ã©",
    "pem_without_footer": "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcN\n",
    "dashes": "-",
    "jwt_parts": "eyJhbGciOiJIUzI1.",
    "aws_prefix": "ASIAAKIA",
}
MAPPERS = sorted(name for name, cls in operators().items() if issubclass(cls, Mapper))
REQUIRED = {"cut": {"max_length": 500_000}}


def seconds(operator: Mapper, text: str) -> float:
    texts = pa.array([text])
    started = time.perf_counter()
    operator.map_texts(texts)
    return time.perf_counter() - started


@pytest.mark.parametrize("name", MAPPERS)
def test_linear_time_on_adversarial_lines(name: str) -> None:
    cls = operators()[name]
    operator = cls(**{**{arg.name: arg.default for arg in cls.args}, **REQUIRED.get(name, {})})
    for kind, unit in ADVERSARIAL.items():
        small = unit * (100_000 // len(unit))
        seconds(operator, small)  # warm up (first use may build tables)
        small_time = seconds(operator, small)
        large_time = seconds(operator, unit * (1_000_000 // len(unit)))
        assert large_time <= 30 * small_time + 0.05, (kind, small_time, large_time)
