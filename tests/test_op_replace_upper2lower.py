import pyarrow as pa

from etlcore.operators.replace_upper2lower import ReplaceUpper2Lower


def test_lower_cases_every_script_with_case_and_leaves_the_rest() -> None:
    texts = pa.array(["ÀBC Ünïcode ΣΑΣ", "ПРИВЕТ Мир", "中文ABC，不变", "already lower 123", ""])
    assert ReplaceUpper2Lower().map_texts(texts).to_pylist() == [
        "àbc ünïcode σασ", "привет мир", "中文abc，不变", "already lower 123", ""]
