"""Analysis: every filter statistic per document by the filters' own code, cutoff curves by their own
`keep`, and a self-contained report; also as the sys_data_analyse task template."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from conftest import REPO
from test_simhash import BOILERPLATE, NEWS

import etlcore
from etlcore.analysis import analyse
from etlcore.cli import default_config
from etlcore.tasks import service
from etlcore.tasks.store import TaskStore

SAMPLE = REPO / "resources/sample/corpus.jsonl"


def test_statistics_are_the_filters_own_and_the_cutoffs_agree_with_a_run(tmp_path: Path) -> None:
    config = default_config()
    summary = analyse(config, [SAMPLE], tmp_path / "report")
    table = pq.read_table(tmp_path / "report" / "statistics.parquet")
    assert (summary["documents"], summary["invalid_rows"], table.num_rows) == (330, 6, 329)  # 1 emptied by clean
    # The same statistic as the filter computes on the cleaned texts (a run with only the clean stage).
    etlcore.run({"clean": config["clean"]}, [SAMPLE], tmp_path / "clean" / "out.jsonl")
    cleaned = pa.Table.from_pylist([orjson.loads(line) for line in
                                    (tmp_path / "clean" / "out.jsonl").read_bytes().splitlines()])
    assert cleaned["id"].to_pylist() == table["id"].to_pylist()
    for filter_ in etlcore.Pipeline(config).operators["filter"]:
        expected = filter_.compute(cleaned["text"].combine_chunks())
        got = table[filter_.statistic].to_numpy()
        assert np.allclose(got, expected, equal_nan=True), filter_.name
    # At the configured cutoffs each filter drops what it drops in a real run.
    run = etlcore.run(config, [SAMPLE], tmp_path / "run" / "out.jsonl")
    dropped = {r["name"]: r["drop_count"] for r in run["result"]["result"]["pipeline_stage_result"]["filter"]
               ["each_operator_result"]}
    for described in summary["statistics"].values():
        for curve in described["cutoffs"].values():
            assert round(curve["dropped_at_configured"] * 329) == dropped[described["operator"]]
    assert set(summary["languages"]) >= {"zh", "en"}
    assert summary["near_duplicate_clusters"]["documents_in_clusters_of_2_or_more"] > 50
    assert summary["documents_with_personal_data"]["replace_emails"] > 0
    page = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    # A histogram and cutoff curve per statistic, lengths, languages, cluster sizes; nothing fetched.
    assert page.count("<img ") == 7 + 3 and "http" not in page.replace("http://www.w3.org", "")


def test_the_analyse_template_writes_the_report(tmp_path: Path, monkeypatch: object) -> None:
    monkeypatch.chdir(tmp_path)  # type: ignore[attr-defined]
    store = TaskStore(tmp_path / "tasks.sqlite")
    (tmp_path / "corpus.jsonl").write_bytes(SAMPLE.read_bytes())
    body = {"name": "V001", "data_source": {"type": "DATASET", "source": "corpus.jsonl"},
            "template": {"id": "sys_data_analyse",
                         "operator_params": [{"id": "sys_data_analyse", "params": {"op_list": []}}]}}
    task_id = service.create(store, body, tmp_path, default_config())
    response = service.run_task(store, task_id)
    assert response["result"]["processStatus"] == 2
    assert Path(response["etlcore"]["report"]).is_file()
    assert orjson.loads(Path(response["etlcore"]["summary"]).read_bytes())["documents"] == 330


def test_near_duplicate_clusters_leave_out_frequent_lines_as_a_run_does(tmp_path: Path) -> None:
    rows = [{"id": f"news-{i}", "text": news} for i, news in enumerate(NEWS)]
    rows += [{"id": f"repost-{i}", "text": f"{news}\n{BOILERPLATE}"} for i, news in enumerate(NEWS[:11])]
    rows += [{"id": "notice-1", "text": BOILERPLATE}, {"id": "notice-2", "text": BOILERPLATE}]
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(orjson.dumps(row) for row in rows))
    config = {"deduplication": [{"name": "deduplication_simhash", "args": {"distance": 5}}]}
    clusters = analyse(config, [source], tmp_path / "report", batch_size=7)["near_duplicate_clusters"]
    # Each repost with its source, the two notices together, news-11 alone.
    assert clusters == {"distance": 5, "clusters": 13, "documents_in_clusters_of_2_or_more": 24,
                        "sizes": {"1": 1, "2": 12}}
    result = etlcore.run(config, [source], tmp_path / "out.jsonl", batch_size=7)
    dropped = result["result"]["result"]["pipeline_stage_result"]["deduplication"]["each_operator_result"][0]
    assert dropped["drop_count"] == len(rows) - clusters["clusters"] == 12
