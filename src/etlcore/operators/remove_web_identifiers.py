from __future__ import annotations

import html

import pyarrow as pa
import regex

from etlcore.operators._text import join_kept, map_where
from etlcore.operators.base import Mapper
from etlcore.registry import register

# Elements that start a new line when a browser renders them (td/th separate cells with a space).
BLOCK = ("address|article|aside|blockquote|br|dd|div|dl|dt|figcaption|figure|footer|form|h[1-6]|header|hr|li|"
         "main|nav|ol|p|pre|section|table|tbody|tfoot|thead|title|tr|ul")
CELL = "td|th"

_RAW_TEXT = regex.compile(r"<(script|style)\b[^<>]*+>.*?(?:</\1\s*>|\Z)", regex.I | regex.S)
_COMMENT = regex.compile(r"<!--.*?(?:-->|\Z)", regex.S)
_CDATA = regex.compile(r"<!\[CDATA\[(.*?)(?:\]\]>|\Z)", regex.S)
_DECLARATION = regex.compile(r"<![A-Za-z][^<>]*+>|<\?[^<>]*+>")
_ATTRIBUTE = r"""[^\s"'<>/=]++(?:\s*+=\s*+(?:"[^"<>]{0,4096}+"|'[^'<>]{0,4096}+'|[^\s"'<>=`]++))?+"""
_TAG = regex.compile(rf"<(/?)([A-Za-z][\w:.-]{{0,63}}+)((?:\s++{_ATTRIBUTE})*+)\s*+/?>")
_BREAK = "\x00"  # stands for a line break made by a tag until runs of them are collapsed
# Stands for removed markup until the text around it is joined as `join_kept` says. A noncharacter, never
# text; a document that holds it anyway has its markup removed without the spacing rule.
_GONE = "\ufdd1"
_BREAKS = regex.compile(r"\s*+\x00[\s\x00]*+")

CANDIDATES = r"<[A-Za-z!/?]|&(?:#[0-9]+|#[xX][0-9A-Fa-f]+|[A-Za-z][A-Za-z0-9]*);"


def _tag(match: regex.Match, gone: str) -> str:
    closing, name, attributes = match.group(1), match.group(2).lower(), match.group(3)
    if attributes.strip() and "=" not in attributes and not closing:
        return match.group(0)  # "a <b and c> d" is prose, not a tag: real attributes have values
    if regex.fullmatch(BLOCK, name):
        return _BREAK
    return " " if regex.fullmatch(CELL, name) else gone


def strip_markup(text: str) -> str:
    gone = "" if _GONE in text else _GONE
    text = _RAW_TEXT.sub(gone, text)
    text = _COMMENT.sub(gone, text)
    text = _CDATA.sub(r"\1", text)
    text = _DECLARATION.sub(gone, text)
    text = _TAG.sub(lambda match: _tag(match, gone), text)
    if gone and gone in text:
        text = join_kept(text.split(gone))
    text = html.unescape(text).replace("\xa0", " ")
    if _BREAK in text:
        text = _BREAKS.sub(_BREAK, text).strip(_BREAK).replace(_BREAK, "\n")
    return text


@register
class RemoveWebIdentifiers(Mapper):
    """Remove HTML/XML markup and keep the visible text:
    - `<script>` and `<style>` elements are removed with their contents (to the end of the document if
      unclosed); comments `<!-- -->`, declarations `<!DOCTYPE …>` and processing instructions `<?…?>`
      are removed; CDATA sections keep their text;
    - a tag is `<name …>`, `</name>` or `<name/>` where name starts with a letter; a tag whose
      attributes have no `=` at all is prose, not a tag (`a <b and c> d` stays), and so is `a < b > c`;
    - block elements (p, div, br, li, h1–h6, tr, table, section, …) become one line break; runs of
      such breaks and the whitespace around them collapse into one, and none is left at either end of
      the document; table cells (td, th) become a space; other tags (span, a, b, img, …) vanish, and
      so do the elements, comments and declarations removed above, with the spacing rule of every
      removal: a space they would leave doubled, at a line's start or end, or before closing
      punctuation goes too (`a <img src="x.png"> b` -> `a b`);
    - character references are decoded afterwards (`&amp;` → &, `&#x4E2D;` → 中, `&lt;p&gt;` → <p>
      as text), and `&nbsp;` becomes an ordinary space.
    Only documents containing something tag- or entity-like are touched."""

    name = "remove_web_identifiers"
    stage = "clean"

    def map_texts(self, texts: pa.StringArray) -> pa.StringArray:
        return map_where(texts, CANDIDATES, strip_markup)
