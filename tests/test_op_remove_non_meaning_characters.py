import pyarrow as pa
import pytest

from etlcore.operators.remove_non_meaning_characters import RemoveNonMeaningCharacters

GARBLED = [0xFFFD, 0xE000, 0xF8FF, 0xF0000, 0xFFFFD, 0x100000, 0x10FFFD, 0xFDD0, 0xFDEF, 0xFFFE, 0xFFFF,
           0x1FFFE, 0x10FFFF, 0x0378, 0x0E3B, 0x2FFFF, 0xE0000]
KEPT = [0x41, 0xE9, 0x4E2D, 0x3001, 0x1F600, 0x31350, 0x2A6DF, 0xFF0C, 0x20AC, 0x10000]


def clean(texts: list[str]) -> list[str]:
    return RemoveNonMeaningCharacters().map_texts(pa.array(texts)).to_pylist()


def test_garbled_code_points_are_removed() -> None:
    assert clean([f"中{chr(cp)}文" for cp in GARBLED]) == ["中文"] * len(GARBLED)


def test_meaningful_code_points_stay_including_recent_cjk_extensions() -> None:
    texts = [f"中{chr(cp)}文" for cp in KEPT]
    assert clean(texts) == texts


@pytest.mark.parametrize(("text", "expected"), [
    ("中文" + "中文".encode().decode("latin-1") + "结束", "中文结束"),
    ("Hello " + "你好，世界".encode().decode("cp1252", errors="ignore") + " end", "Hello end"),
    ("It" + "’s".encode().decode("cp1252") + " fine", "Its fine"),
    ("café naïve Ærø «Être» £5 ½ °C 25°", "café naïve Ærø «Être» £5 ½ °C 25°"),
    ("Â©2023 ok", "Â©2023 ok"),  # two characters are too few to tell mojibake from text
    ("Â©Â® 2023", "2023"),
    ("résumé — “quoted” ™", "résumé — “quoted” ™"),
])
def test_mojibake_runs(text: str, expected: str) -> None:
    assert clean([text]) == [expected]


def test_a_document_of_mojibake_only_becomes_empty() -> None:
    assert clean(["春节期间天气晴朗".encode().decode("latin-1")]) == [""]


def test_every_code_point_of_the_named_ranges() -> None:
    from etlcore.operators.remove_non_meaning_characters import _NONCHARACTERS, _PRIVATE_USE, _unassigned

    named = sorted({0xFFFD, *_PRIVATE_USE, *_NONCHARACTERS, *_unassigned().tolist()})
    assert len(_PRIVATE_USE) == 6400 + 65534 + 65534
    assert len(_NONCHARACTERS) == 32 + 34
    assert clean([f"a{chr(cp)}b" for cp in named]) == ["ab"] * len(named)
    removed = set(named)
    assigned = [cp for cp in range(0x20, 0x30000) if cp not in removed and not 0xD800 <= cp <= 0xDFFF
                and not 0x80 <= cp <= 0xFF]  # Latin-1 letters are tested as mojibake above
    assert clean([f"{chr(cp)}" for cp in assigned]) == [chr(cp) for cp in assigned]
