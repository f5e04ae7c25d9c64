"""Table-driven: every code point of the named ranges, alone between two letters."""

import sys
import unicodedata

import pyarrow as pa
import pytest

from etlcore.operators.remove_invisible_character import RemoveInvisibleCharacter
from etlcore.operators.replace_uniform_whitespace import ReplaceUniformWhitespace

REMOVED = [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0), 0xAD, 0x200B, 0x200C,
           0x200D, 0x2060, 0xFEFF]
KEPT = [0x09, 0x0A, 0x0D, 0x20, *range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100),
        0x200E, 0x3000, 0x4E2D, 0x1F600]
SPACES = [cp for cp in range(sys.maxunicode + 1) if unicodedata.category(chr(cp)) == "Zs" and cp != 0x20]


def run(operator: object, code_points: list[int]) -> list[str]:
    return operator.map_texts(pa.array([f"a{chr(cp)}b" for cp in code_points])).to_pylist()


def test_invisible_characters_are_removed() -> None:
    assert run(RemoveInvisibleCharacter(), REMOVED) == ["ab"] * len(REMOVED)


def test_no_break_space_becomes_a_space() -> None:
    assert run(RemoveInvisibleCharacter(), [0xA0]) == ["a b"]


@pytest.mark.parametrize("code_point", KEPT)
def test_visible_characters_and_tab_newline_cr_stay(code_point: int) -> None:
    assert run(RemoveInvisibleCharacter(), [code_point]) == [f"a{chr(code_point)}b"]


def test_space_separators_are_exactly_the_unicode_zs_set() -> None:
    assert [0xA0, 0x1680, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000] == SPACES
    assert run(ReplaceUniformWhitespace(), SPACES) == ["a b"] * len(SPACES)


def test_line_breaks_tabs_and_other_characters_stay_for_whitespace() -> None:
    kept = [0x09, 0x0A, 0x0D, 0x20, 0x200B, 0x85, 0x2028, 0x4E2D, 0x3001]
    assert run(ReplaceUniformWhitespace(), kept) == [f"a{chr(cp)}b" for cp in kept]


def test_unchanged_batches_are_not_copied() -> None:
    texts = pa.array(["plain text", "中文，没有特殊字符"])
    assert RemoveInvisibleCharacter().map_texts(texts) is texts
    assert ReplaceUniformWhitespace().map_texts(texts) is texts


def test_seed_text_with_mixed_dirt() -> None:
    texts = pa.array(["\ufeff不經意\u200b，\x07妳的\u00a0笑容\u3000"])
    assert RemoveInvisibleCharacter().map_texts(texts).to_pylist() == ["不經意，妳的 笑容\u3000"]
    assert ReplaceUniformWhitespace().map_texts(texts).to_pylist() == ["\ufeff不經意\u200b，\x07妳的 笑容 "]
