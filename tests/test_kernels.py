"""numba compiles etlcore's kernels on their first run: `python -m etlcore.kernels` (setup.sh) warms the
cache, and a run that finds it cold says so on a terminal."""

from __future__ import annotations

import os
import shutil
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


def test_without_a_writable_install_or_home_the_kernels_are_cached_in_the_temporary_folder(tmp_path: Path) -> None:
    # numba caches a kernel beside its module, else in ~/.cache; with neither writable it refused to import
    # etlcore at all ("cannot cache function 'mix64': no locator available"). Each __pycache__ a file and
    # the home cache under a file make both unwritable, even for root.
    package = tmp_path / "site" / "etlcore"
    shutil.copytree(REPO / "src" / "etlcore", package, ignore=shutil.ignore_patterns("__pycache__", "lm", "*.so"))
    for folder in [package, *[p for p in package.rglob("*") if p.is_dir()]]:
        (folder / "__pycache__").write_bytes(b"")
    environment = {**os.environ, "PYTHONPATH": str(tmp_path / "site"), "PYTHONDONTWRITEBYTECODE": "1",
                   "XDG_CACHE_HOME": "/dev/null/cache", "TMPDIR": str(tmp_path)}
    environment.pop("NUMBA_CACHE_DIR", None)
    done = subprocess.run([sys.executable, "-c", "import os, etlcore; print(os.environ['NUMBA_CACHE_DIR'])"],
                          capture_output=True, text=True, env=environment, timeout=120)
    assert done.returncode == 0, done.stderr
    uid = os.getuid()
    assert done.stdout.strip() == str(tmp_path / f"etlcore-numba-{uid}")
