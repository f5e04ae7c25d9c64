"""Checks on the paths a run or an analysis will write, made before anything is read or written.

etlcore never writes over an input, whatever name the input is given by (another spelling, a symlink,
a hard link: two paths are the same file when their device and inode agree), never puts its work dir
over an input, and says plainly when a path cannot be created (a parent that is a file), instead of
failing halfway with a traceback. Each refusal is an `EtlError`: exit 2 and one JSON line on stderr.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import orjson

from etlcore.errors import EtlError
from etlcore.io.reader import FOLDER_MARKER, TASK_MARKER, WORK_DIR_SUFFIX, InputFile

WORK_FILES = ("result.json", "rejects.jsonl", "invalid.jsonl")  # what a run writes at the top of its work dir
# Everything a run or an analysis may leave in its folder (besides dot files: locks, markers, temporaries).
OWN_ENTRIES = {*WORK_FILES, "logs", "checkpoints", "progress.json", "deduplication-input.parquet",
               "statistics.parquet", "summary.json", "report.html"}


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file: the same path once resolved, or one inode (a hard link)."""
    if a.resolve() == b.resolve():
        return True
    try:
        first, second = os.stat(a), os.stat(b)
    except OSError:  # one of them does not exist (yet): then it cannot be the other one
        return False
    return (first.st_dev, first.st_ino) == (second.st_dev, second.st_ino)


def within(path: Path, folder: Path) -> bool:
    """Whether `path` is `folder` or lies inside it, both resolved."""
    path, folder = path.resolve(), folder.resolve()
    return path == folder or folder in path.parents


def check_creatable(path: Path, what: str, folder: bool) -> None:
    """Refuse a path that cannot be made: one of its parents is a file, or it exists as the wrong kind
    (a folder where a file goes, a file where a folder goes)."""
    if path.exists():
        if folder and not path.is_dir():
            raise EtlError(f"the {what} {path} is a file, not a folder; choose a folder for the {what}")
        if not folder and path.is_dir():
            raise EtlError(f"the {what} {path} is a folder; give a file name for the {what}")
        return
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise EtlError(f"the {what} {path} cannot be created: {_shown(parent)} is a file, not a folder")
            return


def earlier_output(output: Path, work: Path) -> bool:
    """Whether `output` exists as the output of an earlier run with this work dir (its result.json names it),
    so that a folder walk may leave it out; any other existing file there is an input like the rest."""
    try:
        recorded = orjson.loads((work / "result.json").read_bytes())["etlcore"]["paths"]["output"]
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError):
        return False
    return isinstance(recorded, str) and output.exists() and same_file(Path(recorded), output)


def check_own_folder(folder: Path, what: str) -> None:
    """Refuse a work dir or report folder that already holds files etlcore did not write: a run writes and
    removes files there, and a folder walk would leave the folder out. New, empty, named `*.etlcore`,
    marked as etlcore's or holding only etlcore's own files: used."""
    if not folder.is_dir() or folder.name.endswith(WORK_DIR_SUFFIX) or (folder / FOLDER_MARKER).exists() \
            or (folder.parent / TASK_MARKER).exists():
        return
    foreign = sorted(entry.name for entry in folder.iterdir()
                     if entry.name not in OWN_ENTRIES and not entry.name.startswith("."))
    if foreign:
        shown = ", ".join(foreign[:3]) + (", …" if len(foreign) > 3 else "")
        raise EtlError(f"the {what} {folder} already holds files etlcore did not write ({shown}); give a new or "
                       f"empty folder for the {what}")


def check_run_targets(files: Iterable[InputFile], output: Path | None, work: Path) -> None:
    """Refuse a run whose output or work dir would overwrite an input, or cannot be created."""
    inputs = [file.path for file in files]
    if output is not None:
        check_creatable(output, "output", folder=False)
        for path in inputs:
            if same_file(output, path):
                shown = "" if _spelt_alike(output, path) else f" ({path}, by another name)"
                raise EtlError(f"the output {output} is also an input{shown}: etlcore never writes over its "
                               "input; choose another --output")
        if any(same_file(output, work / name) for name in WORK_FILES):
            raise EtlError(f"the output {output} is one of the files of the work dir {work}; choose another "
                           "--output or --work-dir")
    check_creatable(work, "work dir", folder=True)
    for path in inputs:
        if within(path, work):
            raise EtlError(f"the work dir {work} holds the input {path}: a run writes and removes files there; "
                           "give it a work dir of its own (--work-dir)")
    check_own_folder(work, "work dir")


def check_report_target(files: Iterable[InputFile], report: Path) -> None:
    """Refuse an analysis report folder that cannot be created or would overwrite an input."""
    check_creatable(report, "report folder", folder=True)
    for path in (file.path for file in files):
        if within(path, report):
            raise EtlError(f"the report folder {report} holds the input {path}; choose a folder of its own "
                           "for the report")
    check_own_folder(report, "report folder")


def _spelt_alike(a: Path, b: Path) -> bool:
    """Whether two paths name one place before symlinks are followed (`x/../in.jsonl` and `in.jsonl`)."""
    return os.path.normpath(a.absolute()) == os.path.normpath(b.absolute())


def _shown(path: Path) -> str:
    """A path as the user likely wrote it: relative to the current folder when it lies there."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
