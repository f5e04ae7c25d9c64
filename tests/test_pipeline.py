from __future__ import annotations

import pyarrow as pa
import pytest

from etlcore import Pipeline
from etlcore.errors import EtlError


def test_seed_sample_counting_rule_filters_judge_independently(toy_operators: None) -> None:
    """The seed's sample: one document, the second filter drops it, the others still report remaining 1."""
    config = {"filter": [
        {"name": "toy_digits", "args": {"max_digits": 5}},
        {"name": "toy_length", "args": {"min_length": 100}},
        {"name": "toy_digits", "args": {"max_digits": 9}},
    ], "deduplication": [{"name": "toy_exact_dedup", "args": {}}]}
    kept, rejected, detail = Pipeline(config).run_table(pa.table({"text": ["only one document"]}))
    assert kept.num_rows == 0
    stages = detail["pipeline_stage_result"]
    assert stages["filter"] == {
        "status": "Success", "operator_count": 3, "entity_match_count": 1,
        "each_operator_result": [
            {"name": "toy_digits", "remaining_count": 1, "drop_count": 0},
            {"name": "toy_length", "remaining_count": 0, "drop_count": 1},
            {"name": "toy_digits", "remaining_count": 1, "drop_count": 0},
        ],
    }
    assert stages["deduplication"] == {
        "status": "Success", "operator_count": 1, "entity_match_count": 0,
        "each_operator_result": [{"name": "toy_exact_dedup", "remaining_count": 0, "drop_count": 0}],
    }
    assert rejected.column("etl_reason").to_pylist() == ["length=17"]


def test_a_document_leaves_at_the_first_filter_that_rejects_it(toy_operators: None) -> None:
    config = {"filter": [{"name": "toy_length", "args": {"min_length": 5}},
                         {"name": "toy_digits", "args": {"max_digits": 2}}]}
    texts = ["ok text", "1234 long enough", "x1234", "abc", "fine 12"]
    kept, rejected, detail = Pipeline(config).run_table(pa.table({"id": list("abcde"), "text": texts}))
    assert kept.column("id").to_pylist() == ["a", "e"]
    assert list(zip(rejected.column("id").to_pylist(), rejected.column("etl_operator").to_pylist(),
                    rejected.column("etl_reason").to_pylist())) == [
        ("b", "toy_digits", "digits=4"), ("c", "toy_digits", "digits=4"), ("d", "toy_length", "length=3")]
    assert rejected.column("etl_stage").to_pylist() == ["filter"] * 3
    assert detail["pipeline_stage_result"]["filter"]["each_operator_result"] == [
        {"name": "toy_length", "remaining_count": 4, "drop_count": 1},
        {"name": "toy_digits", "remaining_count": 3, "drop_count": 2},
    ]


def test_mappers_are_sequential_and_an_emptied_document_is_dropped_and_counted() -> None:
    config = {"clean": [{"name": "replace_upper2lower"}, {"name": "cut", "args": {"max_length": 3}}]}
    table = pa.table({"id": ["1", "2", "3"], "text": ["ABCDEF", "  \u3000   x", "abc"]})
    kept, rejected, detail = Pipeline(config).run_table(table)
    assert kept.column("text").to_pylist() == ["abc", "abc"]
    assert rejected.column("id").to_pylist() == ["2"]
    assert rejected.column("text").to_pylist() == ["  \u3000   x"]
    assert rejected.column("etl_operator").to_pylist() == ["cut"]
    assert rejected.column("etl_reason").to_pylist() == ["text empty after this operator"]
    assert detail["pipeline_stage_result"]["clean"]["each_operator_result"] == [
        {"name": "replace_upper2lower", "remaining_count": 3, "drop_count": 0},
        {"name": "cut", "remaining_count": 2, "drop_count": 1},
    ]
    assert detail["replace_upper2lower"] == {"processed_entity": 1}
    assert detail["cut"] == {"remaining_entity": 2, "unprocessed_entity": 0}


def test_stage_order_is_fixed_whatever_the_order_of_keys(toy_operators: None) -> None:
    config = {"deduplication": [{"name": "toy_exact_dedup"}], "clean": [{"name": "replace_upper2lower"}]}
    table = pa.table({"id": ["1", "2", "3"], "text": ["Hello", "HELLO", "other"]})
    kept, rejected, detail = Pipeline(config).run_table(table)
    assert kept.column("text").to_pylist() == ["hello", "other"]
    assert rejected.column("etl_reason").to_pylist() == ["duplicate_of=1 distance=0"]
    assert rejected.column("etl_stage").to_pylist() == ["deduplication"]
    assert detail["pipeline_stage_result"]["deduplication"]["entity_match_count"] == 3


def test_empty_stages_are_reported_with_what_reached_them() -> None:
    kept, _, detail = Pipeline({}).run_table(pa.table({"text": ["a", "b"]}))
    assert kept.column("id").to_pylist() == ["table:1", "table:2"]
    for stage in ("clean", "filter", "deduplication", "desensitization"):
        assert detail["pipeline_stage_result"][stage] == {
            "status": "Success", "operator_count": 0, "entity_match_count": 2, "each_operator_result": []}
    assert detail["export_entity_num"] == 2


def test_run_table_rejects_null_text_and_refuses_a_table_without_text() -> None:
    kept, rejected, _ = Pipeline({}).run_table(pa.table({"text": ["a", None]}))
    assert kept.column("text").to_pylist() == ["a"]
    assert rejected.column("etl_stage").to_pylist() == ["read"]
    assert rejected.column("etl_reason").to_pylist() == ["text field 'text' is null"]
    with pytest.raises(EtlError, match="missing text field 'text'"):
        Pipeline({}).run_table(pa.table({"body": ["a"]}))
