"""Rejects explain themselves: the bound a filter's statistic crossed, the rows in input order whichever
pass rejected them (with workers and after a resume too), and what each operator dropped."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import read_jsonl, write_jsonl

import etlcore
from etlcore.registry import operators

SHORT, EMAIL, EMOJI = "too short", "ann@example.com bob@example.org cy@example.net", "😀😀"
KEEP_A = "the quick brown fox jumps over the lazy dog near the river bank today"
KEEP_B = "a completely different sentence about weather and rain in the mountains"
# In input order: a duplicate (deduplication, pass 2), e-mail addresses alone (emptied by desensitization, pass 3),
# a short text (filter, pass 1), an emoji alone (emptied by clean, pass 1).
ROWS = [KEEP_A, KEEP_A, EMAIL, SHORT, EMOJI, KEEP_B]
CONFIG = {
    "clean": [{"name": "remove_emoji"}],
    "filter": [{"name": "filter_check_number_words",
                "args": {"number_words_min_cutoff": 3, "number_words_max_cutoff": 10000}},
               {"name": "filter_check_word_repetition_removal", "args": {"word_repetition_max_cutoff": 0.6}}],
    "deduplication": [{"name": "deduplication_simhash", "args": {"distance": 4}}],
    "desensitization": [{"name": "replace_emails"}],
}


def build(name: str, **args: float) -> object:
    return operators()[name](**args)


@pytest.mark.parametrize(("name", "args", "value", "reason"), [
    ("filter_check_number_words", {"number_words_min_cutoff": 2.2, "number_words_max_cutoff": 10000}, 1,
     "words=1 < min 2.2"),
    ("filter_check_number_words", {"number_words_min_cutoff": 1, "number_words_max_cutoff": 100}, 250,
     "words=250 > max 100"),
    ("filter_check_perplexity", {"perplexity_max_cutoff": 1000}, 1191.3, "perplexity=1191.3 > max 1000"),
    ("filter_check_lang_id", {"lang_id_min_cutoff": 0.5}, 0.31234567, "lang_id=0.3123 < min 0.5"),
    ("filter_check_special_characters", {"special_characters_max_cutoff": 0.3}, 0.30004,
     "special_ratio=0.30004 > max 0.3"),  # as many decimals as it takes to tell them apart
    ("filter_check_flagged_words", {"flagged_words_max_cutoff": 0.01}, 0.05, "flagged_ratio=0.05 > max 0.01"),
    ("filter_check_character_repetition_removal", {"default_character_repetition_max_cutoff": 0.2}, 0.823,
     "char_rep_ratio=0.823 > max 0.2"),
    ("filter_check_word_repetition_removal", {"word_repetition_max_cutoff": 0.6}, 1.0, "word_rep_ratio=1 > max 0.6"),
])
def test_a_reject_reason_names_the_bound_it_crossed(name: str, args: dict, value: float, reason: str) -> None:
    operator = operators()[name]
    values = {arg.name: arg.default for arg in operator.args} | args
    assert operator(**values).reason(value) == reason


def run(tmp_path: Path, name: str, **options: object) -> tuple[dict, list[dict]]:
    corpus = tmp_path / "docs.jsonl"
    if not corpus.exists():  # written once: a checkpoint holds while its input is untouched
        write_jsonl(corpus, [{"id": str(n), "text": t} for n, t in enumerate(ROWS)])
    response = etlcore.run(options.pop("config", CONFIG), [corpus], tmp_path / name / "out.jsonl", **options)
    rejects = tmp_path / name / "out.jsonl.etlcore" / "rejects.jsonl"
    return response, read_jsonl(rejects) if rejects.exists() else []


EXPECTED = [
    ("1", "deduplication", "deduplication_simhash", "duplicate_of=0 distance=0"),
    ("2", "desensitization", "replace_emails", "text empty after this operator"),
    ("3", "filter", "filter_check_number_words", "words=2 < min 3"),
    ("4", "clean", "remove_emoji", "text empty after this operator"),
]


def verdicts(rejects: list[dict]) -> list[tuple[str, str, str, str]]:
    return [(r["id"], r["etl_stage"], r["etl_operator"], r["etl_reason"]) for r in rejects]


def test_rejects_are_written_in_input_order_whichever_pass_rejected_them(tmp_path: Path) -> None:
    response, rejects = run(tmp_path, "one", batch_size=2)
    assert verdicts(rejects) == EXPECTED
    assert [sorted(r) for r in rejects] == [["etl_operator", "etl_reason", "etl_stage", "id", "text"]] * 4
    assert read_jsonl(tmp_path / "one" / "out.jsonl") == [{"id": "0", "text": KEEP_A}, {"id": "5", "text": KEEP_B}]
    two, rejects_two = run(tmp_path, "two", batch_size=2, workers=2)
    assert rejects_two == rejects and two["etlcore"]["operators"] == [
        {**o, "seconds": p["seconds"]} for o, p in zip(response["etlcore"]["operators"], two["etlcore"]["operators"])]


def test_each_operator_says_what_it_dropped(tmp_path: Path) -> None:
    response, _ = run(tmp_path, "one")
    counts = {o["name"]: (o["changed"], o["dropped"], o["rejected"]) for o in response["etlcore"]["operators"]}
    assert counts == {
        "remove_emoji": (1, 1, 1),
        # Each filter judges every document of its stage: the short text fails both, the first one rejects it.
        "filter_check_number_words": (0, 1, 1),
        "filter_check_word_repetition_removal": (0, 0, 0),
        "deduplication_simhash": (0, 1, 1),
        "replace_emails": (1, 1, 1),
    }
    assert sum(o["rejected"] for o in response["etlcore"]["operators"]) == response["etlcore"]["rejected_rows"] == 4


def test_a_resumed_run_writes_its_rejects_in_input_order_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from etlcore.operators.replace_emails import ReplaceEmails

    config = {**CONFIG, "filter": [*CONFIG["filter"], {"name": "save_pipeline_filter"}]}
    original = ReplaceEmails.map_texts

    def fail(self: ReplaceEmails, texts: object) -> object:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(ReplaceEmails, "map_texts", fail)
    failed, _ = run(tmp_path, "job", config=config, batch_size=2)
    assert failed["result"]["processStatus"] == 4
    monkeypatch.setattr(ReplaceEmails, "map_texts", original)
    resumed, rejects = run(tmp_path, "job", config=config, batch_size=2)
    assert resumed["etlcore"]["resumed_after"] == "filter"
    assert verdicts(rejects) == EXPECTED
