import pyarrow as pa
import pytest

from etlcore.operators.cut import Cut


@pytest.mark.parametrize(("text", "limit", "expected"), [
    ("短文本", 5, "短文本"),
    ("一二三四五六", 3, "一二三"),
    ("abcdef", 6, "abcdef"),
    ("abcdefg", 6, "abcdef"),
    ("ab👨‍👩‍👧cd", 4, "ab"),          # the family emoji is 5 code points; no half family
    ("ab👨‍👩‍👧cd", 7, "ab👨‍👩‍👧"),
    ("abe\u0301xyz", 3, "ab"),           # e + combining acute stays whole
    ("ab🇨🇳cd", 3, "ab"),              # a flag is two regional indicators
    ("ab👍🏽cd", 3, "ab"),               # thumbs up + skin tone
    ("line\r\nnext", 5, "line"),        # CRLF is one grapheme
    ("1️⃣23", 2, ""),                    # keycap: digit + VS16 + combining keycap
])
def test_cut_on_character_boundaries(text: str, limit: int, expected: str) -> None:
    assert Cut(max_length=limit).map_texts(pa.array([text])).to_pylist() == [expected]


def test_nothing_to_cut_returns_the_same_array() -> None:
    texts = pa.array(["short", "text"])
    assert Cut(max_length=10).map_texts(texts) is texts
