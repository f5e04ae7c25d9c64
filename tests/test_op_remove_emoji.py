import emoji
import pyarrow as pa
import pytest

from etlcore.operators.remove_emoji import RemoveEmoji

UNQUALIFIED = emoji.STATUS["unqualified"]
EVERY_EMOJI = sorted(k for k, v in emoji.EMOJI_DATA.items() if not (len(k) == 1 and v["status"] == UNQUALIFIED))
TEXT_CHARACTERS = sorted(k for k, v in emoji.EMOJI_DATA.items() if len(k) == 1 and v["status"] == UNQUALIFIED)


def clean(texts: list[str]) -> list[str]:
    return RemoveEmoji().map_texts(pa.array(texts)).to_pylist()


def test_every_emoji_of_the_emoji_package_is_removed() -> None:
    assert len(EVERY_EMOJI) > 5000
    assert clean([f"中{e}文" for e in EVERY_EMOJI]) == ["中文"] * len(EVERY_EMOJI)


def test_text_default_characters_alone_are_text() -> None:
    assert {"©", "®", "™", "☀", "↔", "‼"} <= set(TEXT_CHARACTERS)
    texts = [f"中{c}文" for c in TEXT_CHARACTERS]
    assert clean(texts) == texts


@pytest.mark.parametrize(("text", "expected"), [
    ("家庭👨‍👩‍👧合影", "家庭合影"),
    ("点赞👍🏽👍🏻👍", "点赞"),
    ("我爱🇨🇳中国🇺🇸", "我爱中国"),
    ("第1️⃣名，#️⃣号，*⃣", "第名，号，"),
    ("程序员👩🏽‍💻在写代码🔥✨🎉", "程序员在写代码"),
    ("心❤️和心❤和☀️太阳", "心和心❤和太阳"),
    ("England 🏴󠁧󠁢󠁥󠁮󠁧󠁿 flag", "England flag"),
    ("Copyright © 2023 ® ™", "Copyright © 2023 ® ™"),
    ("数字 0123456789 #* 不变", "数字 0123456789 #* 不变"),
    ("中文标点，。！？、；：“”‘’（）《》【】", "中文标点，。！？、；：“”‘’（）《》【】"),
    ("stray\ufe0f selector and lone 🏽 tone and 🇨 letter", "stray selector and lone tone and letter"),
    ("☀\ufe0e text style", "☀ text style"),
])
def test_hard_cases(text: str, expected: str) -> None:
    assert clean([text]) == [expected]


def test_documents_without_emoji_are_not_copied() -> None:
    texts = pa.array(["没有表情的文本", "plain © text"])
    assert RemoveEmoji().map_texts(texts) is texts
