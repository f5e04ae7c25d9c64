"""The progress line: the pass the run is in, rows (the summary's word too), the share of the pass and
the ETA of the whole run, never a finished first pass's "100 %, ETA 0 s" through the passes after it."""

from __future__ import annotations

import io

import pytest

from etlcore.progress import Progress, duration
from etlcore.runner import _Pass, pass_name


def test_pass_names() -> None:
    assert pass_name(_Pass(("clean", "filter"), fingerprint=True)) == "clean + filter"
    assert pass_name(_Pass((), fingerprint=True)) == "deduplication: fingerprints"
    assert pass_name(_Pass(("desensitization",), deduplicated=True)) == "deduplication + desensitization"
    assert pass_name(_Pass((), deduplicated=True, checkpoint="deduplication")) == "deduplication"
    assert pass_name(_Pass(())) == "writing the output"


def test_duration() -> None:
    assert [duration(s) for s in (0.4, 42, 185, 7620)] == ["0 s", "42 s", "3 min 05 s", "2 h 07 min"]


def test_the_line_shows_the_pass_and_the_eta_of_the_whole_run(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr("etlcore.progress.time.monotonic", lambda: clock[0])
    shown = io.StringIO()
    monkeypatch.setattr("sys.stderr", shown)
    progress = Progress(enabled=True, total_bytes=1000)
    progress.start_pass(1, 3, "clean + filter", expected=None)
    clock[0] += 10
    progress.advance(4000, 250)  # a quarter of the input in 10 s: 30 s left here, then two passes of 40 s
    assert progress.line(clock[0]) == ("etlcore pass 1/3 (clean + filter): 4,000 rows, 400 rows/s, 25% of the "
                                       "pass, ETA of the run 1 min 50 s")
    clock[0] += 30
    progress.advance(12000, 750)
    assert progress.line(clock[0]).endswith("100% of the pass, ETA of the run 1 min 20 s")
    progress.start_pass(2, 3, "deduplication: fingerprints", expected=10000)
    assert progress.line(clock[0]) == "etlcore pass 2/3 (deduplication: fingerprints): 0 rows, 0 rows/s"
    clock[0] += 5
    progress.advance(5000, 0)
    assert progress.line(clock[0]) == ("etlcore pass 2/3 (deduplication: fingerprints): 5,000 rows, 1,000 rows/s, "
                                       "50% of the pass, ETA of the run 15 s")
    progress.start_pass(3, 3, "deduplication + desensitization", expected=10000)
    progress.phase("deciding over 10,000 fingerprints")
    assert progress.line(clock[0]) == ("etlcore pass 3/3 (deduplication + desensitization): deciding over 10,000 "
                                       "fingerprints")
    clock[0] += 2
    progress.advance(2500, 0)
    assert progress.line(clock[0]).endswith("2,500 rows, 1,250 rows/s, 25% of the pass, ETA of the run 6 s")
    progress.start_pass(3, 3, "desensitization", expected=1)
    progress.advance(1, 0)
    assert progress.line(clock[0] + 1) == ("etlcore pass 3/3 (desensitization): 1 row, 1 rows/s, 100% of the pass, "
                                           "ETA of the run 0 s")
    assert "\r" in shown.getvalue() and "docs" not in shown.getvalue()
    progress.close()
    assert shown.getvalue().endswith("\r\x1b[K")


def test_a_compressed_input_has_no_eta_in_its_first_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    progress = Progress(enabled=False, total_bytes=None)
    progress.start_pass(1, 2, "clean", expected=None)
    progress.advance(10, 100)
    assert "ETA" not in progress.line(progress.started + 1)
