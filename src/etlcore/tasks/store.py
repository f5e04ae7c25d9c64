"""The task store: one SQLite file (WAL mode) holding tasks and dataset versions.

Safe when several `etlcore` processes use it at once: every write is one short `BEGIN IMMEDIATE`
transaction, readers never block writers (WAL), and a busy database is waited for up to 30 s. The
schema carries its version in `meta`; an older store is upgraded in place, one written by a newer
etlcore is refused.

A task is "running" only while the process that claimed it lives: every read settles a running task
whose process is gone (killed with SIGKILL, or its machine rebooted) as terminated, with
`stop_reason` "process gone", so that nothing waits on it and whoever resumes tasks can find it.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from etlcore import processes
from etlcore.errors import EtlError
from etlcore.io.paths import check_creatable

SCHEMA_VERSION = 2
RUNNING, TERMINATED = 1, 3  # processStatus values (etlcore.report), repeated: the store sits below the runner
PROCESS_GONE = "process gone"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    template TEXT NOT NULL,
    body TEXT NOT NULL,            -- the create body, as given
    config TEXT NOT NULL,          -- the operationsV2 it runs
    inputs TEXT NOT NULL,          -- JSON list of local paths
    task_dir TEXT NOT NULL,        -- output and work dir live here
    dataset TEXT NOT NULL,         -- the work path: the dataset versions are registered under
    create_version INTEGER NOT NULL,
    status INTEGER NOT NULL,       -- processStatus: 0 none, 1 running, 2 done, 3 terminated, 4 failed, 5 paused
    pid INTEGER,                   -- of the process running it
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    input_rows INTEGER, output_rows INTEGER, rejected_rows INTEGER, invalid_rows INTEGER,
    result TEXT                    -- the last run's detail response
);
CREATE TABLE IF NOT EXISTS versions (
    dataset TEXT NOT NULL,
    version TEXT NOT NULL,         -- V001, V002, ...
    task_id TEXT NOT NULL,
    created REAL NOT NULL,
    output TEXT NOT NULL,
    output_rows INTEGER NOT NULL,
    config_hash TEXT NOT NULL,
    PRIMARY KEY (dataset, version)
);
"""
# Added by schema version 2: the start time of the running process (tells a reused pid apart), the
# folder its paths were confined to at creation, why its last run stopped (SIGINT, SIGTERM, "process
# gone", ...), when `etlcore serve` was asked to run it (NULL: not for the server), and the task it is a
# further run (a ModelArts version) of.
# Later, as columns an older etlcore ignores: who asked the running task to stop (an access key
# through an API or the console, `etlcore task stop`, the server stopping), how many runs it has had (a
# second and later run resumes it) and the stage whose checkpoint its last run went on from.
SCHEMA_V2 = ("pid_start INTEGER", "allowed_root TEXT", "stop_reason TEXT", "queued REAL", "parent TEXT",
             "stop_requested_by TEXT", "runs INTEGER", "resumed_after TEXT")
TASK_COLUMNS = ("id", "name", "template", "body", "config", "inputs", "task_dir", "dataset", "create_version",
                "status", "pid", "created", "started", "finished", "input_rows", "output_rows", "rejected_rows",
                "invalid_rows", "result", *(column.split()[0] for column in SCHEMA_V2))


class StoreMissing(EtlError):
    """A read (task list, detail, ...) of a store that does not exist: nothing is created for it."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"no task store at {path} (`etlcore task create` makes one; `--store` names another)",
                         code="TaskNotFound")


class TaskStore:
    def __init__(self, path: Path, create: bool = True) -> None:
        """Open the store at `path`; with `create` False (a read command) a store that does not exist is
        `StoreMissing`, and neither the file nor its folder is made."""
        self.path = path
        self._readers = threading.local()
        if not create and not path.exists():
            raise StoreMissing(path)
        check_creatable(path, "task store", folder=False)  # under a file, or a folder: said in words
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._create()
        except (OSError, sqlite3.Error) as exc:
            raise EtlError(f"cannot open the task store {path}: {exc}") from None

    def _create(self) -> None:
        with self._transaction() as db:
            for statement in SCHEMA.split(";"):  # not executescript: it would commit the transaction
                if statement.strip():
                    db.execute(statement)
            row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = SCHEMA_VERSION if row is None else int(row[0])
            if version > SCHEMA_VERSION:
                raise EtlError(f"task store {self.path} has schema version {row[0]}, newer than this etlcore "
                               f"understands ({SCHEMA_VERSION})")
            present = {column[1] for column in db.execute("PRAGMA table_info(tasks)")}
            for column in SCHEMA_V2:
                if column.split()[0] not in present:
                    db.execute(f"ALTER TABLE tasks ADD COLUMN {column}")
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    def add(self, task: dict[str, Any]) -> None:
        with self._transaction() as db:
            db.execute(f"INSERT INTO tasks ({', '.join(task)}) VALUES ({', '.join('?' * len(task))})",
                       [_column(v) for v in task.values()])

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection for reads, kept open (a server's threads answer detail polls from
        it): each statement reads the latest committed state, takes no write lock, and so neither
        waits for other reads nor holds up a writer."""
        db = getattr(self._readers, "db", None)
        if db is None:
            db = self._readers.db = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                                    check_same_thread=True)
        yield db

    def get(self, task_id: str) -> dict[str, Any]:
        with self._reading() as db:  # every row fetched: the statement ends, and with it the read
            rows = db.execute(f"SELECT {', '.join(TASK_COLUMNS)} FROM tasks WHERE id = ?", (task_id,)).fetchall()
        row = rows[0] if rows else None
        settled = self._settle([dict(zip(TASK_COLUMNS, row))]) if row is not None else []
        if not settled:
            raise EtlError(f"no task with id {task_id!r} in {self.path}", code="TaskNotFound")
        return settled[0]

    def all(self) -> list[dict[str, Any]]:
        with self._reading() as db:
            rows = db.execute(f"SELECT {', '.join(TASK_COLUMNS)} FROM tasks ORDER BY created").fetchall()
        return self._settle([dict(zip(TASK_COLUMNS, row)) for row in rows])

    def _settle(self, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """`tasks` with those running in a process that is gone settled (a write, rarely needed); each
        of those is read again in the write transaction, which another process may have beaten to it."""
        if not any(_process_gone(task) for task in tasks):
            return tasks
        settled = []
        with self._transaction() as db:
            for task in tasks:
                if _process_gone(task):
                    row = db.execute(f"SELECT {', '.join(TASK_COLUMNS)} FROM tasks WHERE id = ?",
                                     (task["id"],)).fetchone()
                    if row is None:  # deleted meanwhile
                        continue
                    task = _settled(db, dict(zip(TASK_COLUMNS, row)))
                settled.append(task)
        return settled

    def update(self, task_id: str, **values: Any) -> None:
        with self._transaction() as db:
            db.execute(f"UPDATE tasks SET {', '.join(f'{k} = ?' for k in values)} WHERE id = ?",
                       [*map(_column, values.values()), task_id])

    def delete(self, task_id: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM tasks WHERE id = ?", (task_id,))

    def claim(self, task_id: str, pid: int) -> bool:
        """Mark the task running in process `pid`, unless another live process runs it already. The
        last run's result and stop reason go: until this run reports, the task has none."""
        with self._transaction() as db:
            row = db.execute("SELECT status, pid, pid_start FROM tasks WHERE id = ?", (task_id,)).fetchone()
            if row is not None and row[0] == RUNNING and row[1] and processes.alive(row[1], row[2]):
                return False
            db.execute("UPDATE tasks SET status = ?, pid = ?, pid_start = ?, started = ?, finished = NULL, "
                       "result = NULL, stop_reason = NULL, stop_requested_by = NULL, resumed_after = NULL, "
                       "runs = COALESCE(runs, 0) + 1 WHERE id = ?",
                       (RUNNING, pid, processes.start_time(pid), time.time(), task_id))
            return True

    def add_version(self, dataset: str, task_id: str, output: str, output_rows: int, config_hash: str) -> str:
        """Register the next version (V001, V002, ...) of `dataset`; returns its name."""
        with self._transaction() as db:
            count = db.execute("SELECT COUNT(*) FROM versions WHERE dataset = ?", (dataset,)).fetchone()[0]
            version = f"V{count + 1:03d}"
            db.execute("INSERT INTO versions VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (dataset, version, task_id, time.time(), output, output_rows, config_hash))
        return version

    def versions(self, dataset: str) -> list[dict[str, Any]]:
        columns = ("dataset", "version", "task_id", "created", "output", "output_rows", "config_hash")
        with self._transaction() as db:
            rows = db.execute(f"SELECT {', '.join(columns)} FROM versions WHERE dataset = ? ORDER BY version",
                              (dataset,)).fetchall()
        return [dict(zip(columns, row)) for row in rows]


def _process_gone(task: dict[str, Any]) -> bool:
    return task["status"] == RUNNING and not (task["pid"] and processes.alive(task["pid"], task["pid_start"]))


def _settled(db: sqlite3.Connection, task: dict[str, Any]) -> dict[str, Any]:
    """The task, marked terminated ("process gone") if it is running in a process that no longer is."""
    if _process_gone(task):
        changes = {"status": TERMINATED, "pid": None, "pid_start": None, "finished": time.time(),
                   "stop_reason": PROCESS_GONE}
        db.execute(f"UPDATE tasks SET {', '.join(f'{k} = ?' for k in changes)} WHERE id = ? AND status = ?",
                   [*changes.values(), task["id"], RUNNING])
        task.update(changes)
    return task


def _column(value: Any) -> Any:
    return orjson.dumps(value).decode() if isinstance(value, (dict, list)) else value
