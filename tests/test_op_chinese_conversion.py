import opencc
import pyarrow as pa
import pytest

from etlcore.operators._chinese import T2S_SUPPLEMENT
from etlcore.operators.replace_sim2trad import ReplaceSim2Trad
from etlcore.operators.replace_trad2sim import ReplaceTrad2Sim
from etlcore.operators.replace_traditional_chinese_to_simplified import ReplaceTraditionalChineseToSimplified


@pytest.mark.parametrize(("text", "expected"), [
    ("不經意，妳的笑容", "不经意，你的笑容"),          # the seed's own example
    ("牠跑得很快。", "它跑得很快。"),
    ("這個軟體的開發團隊來自臺灣與香港。", "这个软体的开发团队来自台湾与香港。"),
    ("乾隆年間天氣乾燥", "乾隆年间天气干燥"),          # phrase-aware
    ("頭髮與發展", "头发与发展"),
    ("简体中文保持不变。English too.", "简体中文保持不变。English too."),
    ("", ""),
])
def test_traditional_to_simplified(text: str, expected: str) -> None:
    for operator in (ReplaceTraditionalChineseToSimplified(), ReplaceTrad2Sim()):
        assert operator.map_texts(pa.array([text])).to_pylist() == [expected]


@pytest.mark.parametrize("variant", sorted(T2S_SUPPLEMENT))
def test_every_supplementary_entry_is_needed_and_applied(variant: str) -> None:
    for config in ("t2s", "tw2s", "tw2sp", "hk2s"):
        assert opencc.OpenCC(config).convert(variant) == variant  # no OpenCC config maps it
    converted = ReplaceTraditionalChineseToSimplified().map_texts(pa.array([f"是{variant}嗎"]))
    assert converted.to_pylist() == [f"是{T2S_SUPPLEMENT[variant]}吗"]


@pytest.mark.parametrize(("text", "expected"), [
    ("头发与发展", "頭髮與發展"),
    ("后来的台湾", "後來的臺灣"),
    ("不经意，你的笑容", "不經意，你的笑容"),
    ("English only", "English only"),
])
def test_simplified_to_traditional(text: str, expected: str) -> None:
    assert ReplaceSim2Trad().map_texts(pa.array([text])).to_pylist() == [expected]


def test_batches_without_convertible_characters_are_not_copied() -> None:
    texts = pa.array(["简体中文", "plain"])
    assert ReplaceTraditionalChineseToSimplified().map_texts(texts) is texts
