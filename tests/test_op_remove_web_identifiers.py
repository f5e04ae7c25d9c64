import pyarrow as pa
import pytest

from etlcore.operators.remove_web_identifiers import RemoveWebIdentifiers


@pytest.mark.parametrize(("text", "expected"), [
    ("<p>第一段</p><p>第二段</p>", "第一段\n第二段"),
    ('<html><body><div class="c"><p>前半</p>&nbsp;<p>后半</p><script>var x = 1;</script></div></body></html>',
     "前半\n后半"),
    ("hello<span>world</span> <b>bold</b>", "helloworld bold"),
    ("line<br>next<br/>last<BR />end", "line\nnext\nlast\nend"),
    ("<style>p { color: red; }</style>样式之后", "样式之后"),
    ("text <!-- a comment --> more", "text more"),
    ("<!DOCTYPE html><?xml version='1.0'?>doc", "doc"),
    ("AT&amp;T &lt;tag&gt; &#x4E2D;&#25991; &copy; &nbsp;x", "AT&T <tag> 中文 ©  x"),
    ("a < b > c and x<3 and 5>2", "a < b > c and x<3 and 5>2"),
    ("if a <b and c> d", "if a <b and c> d"),
    ('<a href="https://example.com/?q=1&amp;r=2">链接</a>文字', "链接文字"),
    ("<table><tr><td>a</td><td>b</td></tr></table>", "a  b"),
    ("<![CDATA[保留 <内容>]]>", "保留 <内容>"),
    ("unclosed <script>alert(1) and everything after", "unclosed"),
    ("<ul>\n  <li>one</li>\n  <li>two</li>\n</ul>", "one\ntwo"),
    ("原文\n\n段落之间的空行保留<p>新段</p>", "原文\n\n段落之间的空行保留\n新段"),
    ("<custom-tag data-x=\"1\">xml text</custom-tag>", "xml text"),
    ("no markup at all & no entity", "no markup at all & no entity"),
])
def test_markup_removed_visible_text_kept(text: str, expected: str) -> None:
    assert RemoveWebIdentifiers().map_texts(pa.array([text])).to_pylist() == [expected]


def test_documents_without_markup_are_not_copied() -> None:
    texts = pa.array(["纯文本", "a < b"])
    assert RemoveWebIdentifiers().map_texts(texts) is texts
