"""Code-point tables are built once per install and read back by later processes, never stale."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from etlcore import tablecache
from etlcore.operators._words import _language_classes
from etlcore.operators.filter_check_perplexity import normalisation_table
from etlcore.simhash import fold_table
from etlcore.textstats import nfkc_lower_table


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("ETLCORE_CACHE_DIR", str(tmp_path / "tables"))
    tablecache.cache_folder.cache_clear()
    yield tmp_path / "tables"
    tablecache.cache_folder.cache_clear()


def squares_counting(calls: list[int]):
    def squares() -> np.ndarray:
        calls.append(1)
        return np.arange(10, dtype=np.int32) ** 2
    return squares


def test_a_table_is_built_once_and_read_back_by_a_new_process(folder):
    calls: list[int] = []
    first = tablecache.code_point_cache(squares_counting(calls))()
    again = tablecache.code_point_cache(squares_counting(calls))()  # a fresh in-memory cache: a new process
    assert calls == [1]
    assert again.tolist() == first.tolist() == [n * n for n in range(10)]
    assert again.dtype == np.int32 and again.flags.writeable
    (path,) = folder.iterdir()
    assert path.name.startswith(f"{__name__}.squares_counting.<locals>.squares-") and path.suffix == ".npy"


def test_an_unreadable_table_file_is_built_again_and_replaced(folder):
    calls: list[int] = []
    tablecache.code_point_cache(squares_counting(calls))()
    (path,) = folder.iterdir()
    path.write_bytes(b"not a numpy file")
    assert tablecache.code_point_cache(squares_counting(calls))()[3] == 9
    assert calls == [1, 1]
    assert np.load(path)[3] == 9


def test_a_table_built_by_other_versions_is_not_read_and_is_removed(folder, monkeypatch):
    calls: list[int] = []
    tablecache.code_point_cache(squares_counting(calls))()
    (old,) = folder.iterdir()
    monkeypatch.setattr(tablecache, "_dependencies_key", lambda: "another-version")
    tablecache.code_point_cache(squares_counting(calls))()
    assert calls == [1, 1]
    assert [p.name for p in folder.iterdir()] == [old.name.split("-")[0] + "-another-version.npy"]


def test_without_a_writable_folder_tables_are_built_in_memory(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("ETLCORE_CACHE_DIR", str(blocker / "tables"))
    tablecache.cache_folder.cache_clear()
    try:
        calls: list[int] = []
        assert tablecache.code_point_cache(squares_counting(calls))()[2] == 4
        assert tablecache.cache_folder() is None
    finally:
        tablecache.cache_folder.cache_clear()
    assert blocker.read_text() == "x"


@pytest.mark.parametrize("table", [nfkc_lower_table, fold_table, _language_classes, normalisation_table],
                         ids=lambda t: t.__name__)
def test_the_tables_in_use_equal_freshly_built_ones(table):
    assert np.array_equal(table(), table.build())


def test_a_second_process_reads_the_tables_instead_of_building_them(tmp_path):
    script = ("import time, etlcore.textstats as t; start = time.process_time(); t.nfkc_lower_table(); "
              "print(time.process_time() - start)")
    env = {**os.environ, "ETLCORE_CACHE_DIR": str(tmp_path)}
    first, second = (float(subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                                          check=True).stdout) for _ in range(2))
    assert len(list(tmp_path.glob("etlcore.textstats.nfkc_lower_table-*.npy"))) == 1
    assert second < first / 5
