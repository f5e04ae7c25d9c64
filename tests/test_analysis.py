"""Analysis: every filter statistic per document by the filters' own code, cutoff curves by their own
`keep`, and a self-contained report; also as the sys_data_analyse task template."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import REPO, read_jsonl, write_jsonl
from PIL import Image
from test_simhash import BOILERPLATE, NEWS

import etlcore
from etlcore.analysis import analyse
from etlcore.analysis_report import choose_axis, statistic_figure
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
    # The funnel: what a run reads, cleans, rejects per filter (the first in config order that rejects a
    # document, as the rejects file names it) and deduplicates.
    rejects = [row["etl_operator"] for row in read_jsonl(tmp_path / "run" / "out.jsonl.etlcore" / "rejects.jsonl")]
    funnel = {step["step"]: (step["documents"], step["dropped"]) for step in summary["funnel"]}
    assert funnel["input rows"] == (336, 0) and funnel["readable"] == (330, 6) and funnel["clean"] == (329, 1)
    for filter_ in etlcore.Pipeline(config).operators["filter"]:
        assert funnel[filter_.name][1] == rejects.count(filter_.name), filter_.name
    stages = run["result"]["result"]["pipeline_stage_result"]
    assert funnel["filter_check_perplexity"][0] == stages["deduplication"]["entity_match_count"]
    # Fingerprints alone link at least the pairs a run confirms by their texts.
    assert funnel["deduplication_simhash"][0] <= run["result"]["result"]["export_entity_num"]
    assert set(summary["languages"]) >= {"zh", "en"} and sum(summary["language_documents"].values()) == 329
    assert summary["languages"]["zh"] == round(summary["language_documents"]["zh"] / 329, 4)
    assert summary["near_duplicate_clusters"]["documents_in_clusters_of_2_or_more"] > 50
    assert summary["documents_with_personal_data"] == {"replace_emails": 3, "replace_ip": 6, "replace_identifier": 5}
    page = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    # The summary first (the funnel), then one figure per statistic (histogram and cutoff curve) and the
    # lengths; every table has a header; nothing fetched.
    assert page.index("<table class='funnel'>") < page.index("<h2 id='stat-words'>")
    assert "<tr><td>filter_check_perplexity</td>" not in page  # linked to its section instead
    assert page.count("<img ") == 7 + 1 and "http" not in page.replace("http://www.w3.org", "")
    assert page.count("<table") == page.count("<table>") + page.count("<table class='funnel'>")
    assert all(table.startswith("<tr><th>") for table in re.findall(r"<table[^>]*>(.{8})", page))
    assert page.count("<tr><th>percentile</th><th>value</th></tr>") == 7 + 1
    assert ("words: histogram and cutoff curve from 1 to 994.1 on a log scale; beyond the axis, marked by an "
            "arrow: max 10,000") in page
    assert "remove_id_card" not in page and "remove_phone_number" not in page


def test_axes_span_the_data_and_a_cutoff_beyond_them_is_an_arrow_with_its_value() -> None:
    rng = np.random.default_rng(7)
    long_tail = np.concatenate([np.ones(10), rng.lognormal(4.5, 1.0, 1000), [1e6]])  # words: p50 ~ 90, an outlier
    axis = choose_axis(long_tail)
    assert axis.log and axis.low == pytest.approx(np.quantile(long_tail, 0.005))
    assert axis.high == pytest.approx(np.quantile(long_tail, 0.995)) and axis.high < 2000
    assert not choose_axis(rng.uniform(0, 0.3, 1000)).log  # a ratio: linear
    mostly_zero = np.zeros(330)
    mostly_zero[0] = 0.0057
    assert (choose_axis(mostly_zero).low, choose_axis(mostly_zero).high) == (0, 0.0057)  # p0.5 = p99.5: the range
    described = {"operator": "filter_check_number_words", "missing": 0, "cutoffs": {
        "number_words_min_cutoff": {"configured": 2.2, "dropped_at_configured": 0.01,
                                    "candidates": [[1, 0], [50, 0.3]]},
        "number_words_max_cutoff": {"configured": 10000, "dropped_at_configured": 0.01,
                                    "candidates": [[1, 1], [50, 0.6]]}}}
    figure = statistic_figure("words", described, long_tail)
    histogram, curve = figure.axes
    for axes in (histogram, curve):
        assert axes.get_xlabel() and axes.get_ylabel() and axes.get_xscale() == "log"
        assert axes.get_xlim() == pytest.approx((axis.low, axis.high))
        arrows = [a for a in axes.texts if getattr(a, "arrow_patch", None) is not None]
        assert [a.get_text() for a in arrows] == [f"max 10,000{'' if axes is histogram else ': filter drops 1.0%'} →"]
    assert (histogram.get_xlabel(), histogram.get_ylabel()) == ("words (log scale)", "documents")
    assert curve.get_ylabel() == "% of the cleaned documents dropped"


def test_the_personal_data_table_lists_the_configs_operators_only(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "the server at 10.0.0.1 is down, mail ops@example.com"},
                                                 {"text": "nothing personal here at all"}])
    summary = analyse({"desensitization": [{"name": "replace_ip"}]}, [source], tmp_path / "report")
    assert summary["documents_with_personal_data"] == {"replace_ip": 1}
    page = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert "<tr><td>replace_ip</td><td class='n'>1</td><td class='n'>50.0%</td></tr>" in page
    assert "replace_emails" not in page
    summary = analyse({"clean": [{"name": "remove_emoji"}]}, [source], tmp_path / "report2")
    assert summary["documents_with_personal_data"] == {}
    assert "The config has no desensitization operator." in (tmp_path / "report2" / "report.html").read_text()


@pytest.mark.skipif(not (shutil.which("chromium") and shutil.which("chromedriver")),
                    reason="needs Debian's chromium and chromium-driver")
def test_the_screenshot_holds_the_whole_page(tmp_path: Path) -> None:
    rows = [{"text": f"document {i} " + "word " * (i % 50 + 1)} for i in range(200)]
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    config = {"filter": [{"name": "filter_check_number_words",
                          "args": {"number_words_min_cutoff": 5, "number_words_max_cutoff": 10000}},
                         {"name": "filter_check_special_characters", "args": {"special_characters_max_cutoff": 0.3}},
                         {"name": "filter_check_word_repetition_removal", "args": {"word_repetition_max_cutoff": 0.6}},
                         {"name": "filter_check_character_repetition_removal",
                          "args": {"default_character_repetition_max_cutoff": 0.2}}]}
    analyse(config, [source], tmp_path / "report")
    shot = subprocess.run(["bash", str(REPO / "scripts/screenshot-report.sh"), str(tmp_path / "report/report.html"),
                           str(tmp_path / "shot.png")], capture_output=True, text=True, timeout=120, check=True,
                          env={**os.environ, "PYTHON": sys.executable})
    width, height = (int(n) for n in shot.stdout.split()[-1].split("x"))
    image = Image.open(tmp_path / "shot.png").convert("L")
    assert image.size == (width, height) == (1200, height) and 2500 < height < 6000
    # The page's last table ends just above the bottom margin: the page is neither cut nor padded.
    assert image.crop((0, height - 60, 1200, height - 16)).getextrema()[0] < 200
    assert image.crop((0, height - 10, 1200, height)).getextrema() == (255, 255)


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
