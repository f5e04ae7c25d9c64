"""The README renders as meant: every table is one table with a header, and it describes the state of
the project, not the issue tracker."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
CELL_SEPARATOR = re.compile(r"(?<!\\)\|")
HEADER_RULE = re.compile(r"^\|(?:\s*:?-{3,}:?\s*\|)+$")


def tables(text: str) -> list[tuple[int, list[str]]]:
    """(first line number, lines) of each run of table lines outside fenced code blocks."""
    found: list[tuple[int, list[str]]] = []
    in_code, current = False, None
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("```"):
            in_code = not in_code
        is_row = not in_code and line.startswith("|")
        if is_row and current is None:
            current = (number, [])
            found.append(current)
        if is_row:
            current[1].append(line)
        else:
            current = None
    return found


def cells(row: str) -> int:
    return len(CELL_SEPARATOR.split(row.strip())) - 2


def test_every_table_has_a_header_and_rows_of_its_width() -> None:
    found = tables(README.read_text(encoding="utf-8"))
    assert len(found) >= 8
    for start, lines in found:
        assert len(lines) >= 3, f"line {start}: a table needs a header, its rule and a row"
        assert HEADER_RULE.match(lines[1]), f"line {start + 1}: no header rule under the header: {lines[1]}"
        width = cells(lines[0])
        assert cells(lines[1]) == width, f"line {start + 1}: the header rule has another width"
        for offset, row in enumerate(lines[2:], 2):
            assert cells(row) == width, f"line {start + offset}: {cells(row)} cells, the header has {width}"


def test_the_operators_table_lists_every_operator_in_one_table() -> None:
    text = README.read_text(encoding="utf-8")
    operators_table = next(lines for _, lines in tables(text) if lines[0].startswith("| operator | stage |"))
    names = set(re.findall(r"`([a-z0-9_]+)`", "\n".join(row.split("|")[1] for row in operators_table)))
    assert {"remove_emoji", "filter_check_number_words", "filter_check_perplexity", "deduplication_simhash",
            "remove_id_card"} <= names


def test_no_issue_numbers() -> None:
    text = README.read_text(encoding="utf-8")
    assert re.findall(r"(?i)\bissues?\s+#?\d+|\(#\d+\)", text) == []
