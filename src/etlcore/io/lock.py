"""Exclusive locks on what a run writes (its work dir, its output), so that two runs never write the
same files at once.

A lock is `fcntl.flock` on a lock file (`<work dir>/.lock`, `.<output name>.lock` beside the output,
`.<store name>.serve.lock` beside the task store a server uses),
which also records the holder's pid for the message the second run prints. The kernel drops the lock
when its holder dies, however it dies, so a killed run never leaves anything locked; the file is
removed on release.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from etlcore.errors import EtlError


class RunLock:
    def __init__(self, path: Path, guarded: Path, holder: str = "another etlcore run",
                 advice: str = "wait for it to finish, or give this run another --output or --work-dir",
                 code: str = "WorkDirBusy") -> None:
        self.path = path  # the lock file
        self.guarded = guarded  # what it keeps to one run, for the message
        self.holder, self.advice, self.code = holder, advice, code  # for the message
        self._descriptor: int | None = None

    @classmethod
    def for_work_dir(cls, folder: Path) -> RunLock:
        return cls(folder / ".lock", folder)

    @classmethod
    def for_output(cls, output: Path) -> RunLock:
        return cls(output.with_name(f".{output.name}.lock"), output)

    @classmethod
    def for_server(cls, store: Path) -> RunLock:
        """One server per task store: a second would start the same waiting tasks again."""
        return cls(store.with_name(f".{store.name}.serve.lock"), store, "another etlcore serve",
                   "stop that server first, or give this one another --store", "StoreBusy")

    def acquire(self) -> None:
        while True:
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(descriptor, 32).decode(errors="replace").strip() or "unknown"
                os.close(descriptor)
                raise EtlError(f"{self.guarded} is in use by {self.holder} (process {holder}); {self.advice}",
                               code=self.code) from None
            # The holder before us may have removed the file between our open and our lock: then the lock
            # is on a file no one else will find, and we start over.
            try:
                same = os.stat(self.path, follow_symlinks=False).st_ino == os.fstat(descriptor).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(descriptor)
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()}\n".encode())
        self._descriptor = descriptor

    def release(self) -> None:
        if self._descriptor is not None:
            self.path.unlink(missing_ok=True)  # while still held: no one can take it in between
            os.close(self._descriptor)
            self._descriptor = None
