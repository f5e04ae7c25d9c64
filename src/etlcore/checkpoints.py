"""Checkpoints: the output of a stage marked `save_pipeline_<stage>`, kept in the work dir so that a
re-run of the same job resumes after the last complete one.

A checkpoint is a folder `checkpoints/<stage>/` holding `rows.parquet` (the documents that came out of
the stage), `rejects.jsonl` and `invalid.jsonl` (everything rejected and unreadable up to that point)
and `state.json` (the counts so far and the key). `state.json` is written last and atomically: a
checkpoint without it is incomplete and never used. The key hashes what the stage's output depends
on: the operators of that stage and of every stage before it, the inputs (path, size, modification
time) and the reading options; change any of them and that checkpoint, and the ones after it, are
ignored (and replaced by the run).
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import orjson

from etlcore.config import PipelineConfig
from etlcore.io.reader import InputFile, ReadOptions
from etlcore.io.writer import write_atomic
from etlcore.pipeline import Counts, OperatorCount
from etlcore.registry import STAGES

FORMAT = 2  # 2: rows carry their input position, rejects lines are led by it (io.order)


class Checkpoint:
    def __init__(self, work: Path, stage: str, key: str) -> None:
        self.stage, self.key = stage, key
        self.folder = work / "checkpoints" / stage
        self.rows = self.folder / "rows.parquet"
        self.rejects = self.folder / "rejects.jsonl"
        self.invalid = self.folder / "invalid.jsonl"
        self.state = self.folder / "state.json"

    def complete(self) -> bool:
        if not self.state.exists():
            return False
        state = orjson.loads(self.state.read_bytes())
        return state.get("format") == FORMAT and state.get("key") == self.key and self.rows.exists()

    def start(self) -> None:
        """Forget an older checkpoint of this stage before writing the new one."""
        self.state.unlink(missing_ok=True)
        self.folder.mkdir(parents=True, exist_ok=True)

    def save(self, counts: Counts, tally: dict[str, int], rejects: Path, invalid: Path) -> None:
        """Complete the checkpoint (its rows are written): copy what was rejected so far, then the state."""
        shutil.copyfile(rejects, self.rejects)
        shutil.copyfile(invalid, self.invalid)
        state = {"format": FORMAT, "key": self.key, "stage": self.stage, "tally": tally,
                 "counts": {"entered": counts.entered,
                            "operators": {s: [asdict(c) for c in ops] for s, ops in counts.operators.items()}}}
        write_atomic(self.state, orjson.dumps(state, option=orjson.OPT_INDENT_2))

    def load(self) -> tuple[Counts, dict[str, int]]:
        state = orjson.loads(self.state.read_bytes())
        counts = Counts(entered=state["counts"]["entered"],
                        operators={s: [OperatorCount(**c) for c in ops]
                                   for s, ops in state["counts"]["operators"].items()})
        return counts, state["tally"]


def checkpoint_key(config: PipelineConfig, stage: str, files: list[InputFile], options: ReadOptions) -> str:
    """What the output of `stage` depends on, hashed."""
    upto = STAGES[: STAGES.index(stage) + 1]
    operations: dict[str, Any] = {s: config.operations.get(s) for s in upto}
    digest = hashlib.sha256(orjson.dumps({"format": FORMAT, "stage": stage, "operations": operations,
                                          "options": [options.text_column, options.id_column,
                                                      options.max_line_bytes]},
                                         option=orjson.OPT_SORT_KEYS))
    for file in files:
        stat = file.path.stat()
        digest.update(f"{file.path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()
