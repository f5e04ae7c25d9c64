"""numba compiles etlcore's kernels on their first run: `python -m etlcore.kernels` (setup.sh) warms the
cache, and a run that finds it cold says so on a terminal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, write_jsonl

import etlcore
import etlcore.kernels
from etlcore.progress import Progress


def test_an_empty_cache_is_cold(tmp_path: Path) -> None:
    check = "from etlcore.kernels import cold; print(cold())"
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True,
                          env={"NUMBA_CACHE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin",
                               "PYTHONPATH": str(REPO / "src")})
    assert done.stdout == "True\n", done.stderr


@pytest.mark.parametrize("cold", [True, False])
def test_a_run_on_a_terminal_says_it_compiles_kernels_when_the_cache_is_cold(
        tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, cold: bool) -> None:
    monkeypatch.setattr(Progress, "wanted", staticmethod(lambda quiet: not quiet))  # as on a terminal
    monkeypatch.setattr(etlcore.kernels, "cold", lambda: cold)
    corpus = write_jsonl(tmp_path / "in.jsonl", [{"text": "Hello World"}])
    etlcore.run({"clean": [{"name": "replace_upper2lower"}]}, [corpus], tmp_path / "out.jsonl", quiet=False)
    said = capfd.readouterr().err.startswith("etlcore: compiling kernels (first run only)…\n")
    assert said == cold


def test_setup_warms_the_cache_after_installing() -> None:
    setup = (REPO / "scripts/setup.sh").read_text(encoding="utf-8")
    assert setup.index("pip install --quiet -e") < setup.index("-m etlcore.kernels") < setup.index("touch .venv/")
