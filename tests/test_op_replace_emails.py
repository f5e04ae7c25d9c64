import pyarrow as pa
import pytest

from etlcore.operators.replace_emails import ReplaceEmails

CASES = [
    # (text, expected with the default replacement "")
    ("联系邮箱：zhangsan@example.com。", "联系邮箱：。"),
    ("zhangsan@example.com 是我的邮箱", "是我的邮箱"),
    ("请发邮件至 li.si@mail.example.com.cn", "请发邮件至"),
    ("first.last+newsletter@gmail.com", ""),
    ("（邮箱：wang_wu@163.com）", "（邮箱：）"),
    ("邮箱wangwu2023@qq.com，电话另附", "邮箱，电话另附"),
    ("Contact: support@company.io.", "Contact:."),
    ("Emails: a@b.co, c@d.org; e@f.net!", "Emails:,;!"),
    ("<user@example.org>", "<>"),
    ("mailto:someone@example.com?subject=hi", "mailto:?subject=hi"),
    ("https://example.com/?email=user@example.com&x=1", "https://example.com/?email=&x=1"),
    ("“ceo@startup.ai”说", "“”说"),
    ("User-Name_1%x@sub-domain.example.co.uk", ""),
    ("UPPER.CASE@EXAMPLE.COM", ""),
    ("1234567@qq.com", ""),
    ("a@b.cd", ""),
    ("name@xn--fiqs8s.cn", ""),
    ("two@one.com@two.com", "@two.com"),
    # not addresses
    ("关注@人民日报 和 @zhangsan", "关注@人民日报 和 @zhangsan"),
    ("user@localhost", "user@localhost"),
    ("a@b", "a@b"),
    ("price @ 5 dollars", "price @ 5 dollars"),
    ("@@@@", "@@@@"),
    ("email@", "email@"),
    ("@example.com", "@example.com"),
    ("name@domain.c", "name@domain.c"),
    ("name@-domain.com", "name@-domain.com"),
    ("foo@bar.123", "foo@bar.123"),
    ("中文@中文.中国", "中文@中文.中国"),
    ("version 1.2@3.4", "version 1.2@3.4"),
    ("hash #tag@", "hash #tag@"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_default_replacement_removes(text: str, expected: str) -> None:
    assert ReplaceEmails().map_texts(pa.array([text])).to_pylist() == [expected]


def test_placeholder_replacement() -> None:
    operator = ReplaceEmails(replacement="<EMAIL>")
    texts = pa.array(["联系：a.b@c.com。", "none here"])
    assert operator.map_texts(texts).to_pylist() == ["联系：<EMAIL>。", "none here"]


def test_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30
