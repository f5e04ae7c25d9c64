import pyarrow as pa
import pytest

from etlcore.operators.remove_exception_char import RemoveExceptionChar
from etlcore.operators.remove_id_card import RemoveIdCard
from etlcore.operators.remove_phone_number import RemovePhoneNumber
from etlcore.operators.remove_url import RemoveUrl


def run(operator: object, text: str) -> str:
    return operator.map_texts(pa.array([text])).to_pylist()[0]


@pytest.mark.parametrize(("text", "expected"), [
    ("访问https://www.example.com/path?a=1&b=2。", "访问。"),
    ("See http://example.com.", "See."),
    ("(see https://en.wikipedia.org/wiki/Python_(programming_language))",
     "(see)"),
    ("www.baidu.com 是搜索引擎", "是搜索引擎"),
    ("FTP://files.example.org/a.zip, done", ", done"),
    ("链接：“https://example.com/中文路径”", "链接：“”"),
    ("no url here: example dot com", "no url here: example dot com"),
    ("mywww.example.com", "mywww.example.com"),
])
def test_remove_url(text: str, expected: str) -> None:
    assert run(RemoveUrl(), text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("身份证110101199003071233。", "身份证。"),
    ("11010519491231002x 号", "号"),
    ("110101199003071234 校验位错", "110101199003071234 校验位错"),
    ("电话13812345678不是身份证", "电话13812345678不是身份证"),
    ("110101199013071235", "110101199013071235"),  # month 13
])
def test_remove_id_card(text: str, expected: str) -> None:
    assert run(RemoveIdCard(), text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("电话13812345678，", "电话，"),
    ("座机(0755)23456789", "座机"),
    ("身份证110101199003071233不是电话", "身份证110101199003071233不是电话"),
    ("2023-10-01", "2023-10-01"),
])
def test_remove_phone_number(text: str, expected: str) -> None:
    assert run(RemovePhoneNumber(), text) == expected


def test_remove_exception_char() -> None:
    text = "a\x00b\x07c\td\ne\rf\x7fg\x85h\ufffdi\ufdd0j\U0010ffffk\u200bl"
    assert run(RemoveExceptionChar(), text) == "abc\td\ne\rfghijk\u200bl"


def test_replacement_arg_of_legacy_redactors() -> None:
    assert run(RemovePhoneNumber(replacement="<PHONE>"), "打13812345678") == "打<PHONE>"
    assert run(RemoveIdCard(replacement="<ID>"), "号110101199003071233") == "号<ID>"
