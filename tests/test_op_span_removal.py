"""Removing a span leaves the spacing the text would have had without it, in every operator that removes."""

import pyarrow as pa
import pytest

from etlcore.operators._text import join_kept, remove_spans
from etlcore.registry import operators


@pytest.mark.parametrize(("text", "spans", "expected"), [
    ("at X is down", [(3, 4)], "at is down"),
    ("call X.", [(5, 6)], "call."),
    ("call X\nnext line", [(5, 6)], "call\nnext line"),
    ("call X", [(5, 6)], "call"),
    ("X hello", [(0, 1)], "hello"),
    ("first\nX hello", [(6, 7)], "first\nhello"),
    ("(X hi)", [(1, 2)], "(hi)"),
    ("a X Y b", [(2, 3), (4, 5)], "a b"),
    ("a XY b", [(2, 3), (3, 4)], "a b"),
    ("a X  .", [(2, 3)], "a."),
    ("  X indented", [(2, 3)], "  indented"),
    ("a  X  b", [(3, 4)], "a  b"),  # the text's own double space before the span stays
    ("aXb", [(1, 2)], "ab"),
    ("a X, b", [(2, 3)], "a, b"),
    ("中 X 文", [(2, 3)], "中 文"),
    ("电话 X。", [(3, 4)], "电话。"),
    ("X", [(0, 1)], ""),
    ("untouched  text ", [], "untouched  text "),
])
def test_remove_spans(text: str, spans: list[tuple[int, int]], expected: str) -> None:
    assert remove_spans(text, spans) == expected


def test_join_kept_is_remove_spans_on_the_pieces() -> None:
    assert join_kept(["at ", " is down"]) == "at is down"
    assert join_kept(["", " ", " b"]) == "b"


def run(name: str, text: str, **args: str) -> str:
    return operators()[name](**args).map_texts(pa.array([text])).to_pylist()[0]


@pytest.mark.parametrize(("name", "text", "expected"), [
    # the reports that asked for this rule
    ("remove_emoji", "phone 📞 the office, tell anyone 🙂", "phone the office, tell anyone"),
    ("replace_ip", "the server at 10.0.0.1 is down", "the server at is down"),
    # one case per operator that removes
    ("remove_emoji", "great 👍🏽!\n🔥 hot", "great!\nhot"),
    ("remove_url", "docs at https://example.org/a, or www.example.com.", "docs at, or."),
    ("replace_emails", "mail a@example.com or b@example.org today", "mail or today"),
    ("replace_identifier", "card 4111 1111 1111 1111 expired", "card expired"),
    ("remove_phone_number", "call 13812345678 now", "call now"),
    ("remove_id_card", "ID 11010519491231002X here", "ID here"),
    ("remove_non_meaning_characters", "price \ufffd\ufffd is low", "price is low"),
    ("remove_exception_char", "bell \x07 rings", "bell rings"),
    ("remove_invisible_character", "zero \u200b width", "zero width"),
    ("remove_web_identifiers", 'a <img src="x.png"> b <!-- note --> c <span class="k"></span>.', "a b c."),
])
def test_removers_leave_single_spaces(name: str, text: str, expected: str) -> None:
    assert run(name, text) == expected


def test_a_replacement_keeps_the_spaces_around_it() -> None:
    assert run("replace_ip", "the server at 10.0.0.1 is down", replacement="[IP]") == "the server at [IP] is down"
