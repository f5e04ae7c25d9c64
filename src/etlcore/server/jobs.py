"""Running the server's tasks: each in a process of its own (`python -m etlcore task run ID`), at most
`max_running` at a time; the rest wait in the store (`queued`), so they survive a restart.

The store is the only state: a task is waiting when `queued` is set and it has not run (status 0), or
when the server paused it (status 5). A task whose process is gone (the store settles it as terminated,
"process gone": the server and its task processes were killed) is resumed at the next start, from its
checkpoints. Stopping the server pauses the running tasks: each is asked to stop at its next chunk
boundary (its checkpoints are kept), then marked paused.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from etlcore.errors import EtlError
from etlcore.report import FAILED, NONE, PAUSED, RUNNING, TERMINATED
from etlcore.tasks import service
from etlcore.tasks.store import PROCESS_GONE, TaskStore

log = logging.getLogger("etlcore.server")
POLL_SECONDS = 0.2
SERVER_STOPPING = "the server stopping (it resumes the task when it starts again)"


class Jobs:
    def __init__(self, store: TaskStore, allowed_root: Path, max_running: int = 1,
                 pause_timeout: float = 120.0) -> None:
        self.store = store
        self.allowed_root = allowed_root
        self.max_running = max_running
        self.pause_timeout = pause_timeout
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    # -- asked by the API ---------------------------------------------------------------------------
    def submit(self, task_id: str) -> None:
        """Queue a stored task; it starts when a slot is free."""
        self.store.update(task_id, queued=time.time())
        self._wake.set()

    def stop(self, task_id: str, by: str) -> int:
        """Stop a running task (as `etlcore task stop`) or take a waiting one out of the queue; returns
        the task's status now. `by`: who asked, for the task's exceptionResult."""
        task = self.store.get(task_id)
        if task["status"] in (NONE, PAUSED) and task["queued"]:
            self.store.update(task_id, status=TERMINATED, queued=None, finished=time.time(), stop_requested_by=by)
            with self._lock:
                child = self._children.get(task_id)
            if child is not None and child.poll() is None:  # started, but has not claimed the task yet
                child.send_signal(signal.SIGINT)
            return TERMINATED
        return service.stop(self.store, task_id, by)

    def running_count(self) -> int:
        with self._lock:
            return sum(1 for child in self._children.values() if child.poll() is None)

    # -- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> None:
        """Resume what the last server left: tasks marked running whose process is gone become waiting
        (paused) again; then the loop starts the waiting tasks."""
        for task in self.store.all():  # reading settles a running task whose process is gone
            if task["status"] == TERMINATED and task["stop_reason"] == PROCESS_GONE:
                log.info("task %s was running in a process that is gone: resuming it", task["id"])
                self.store.update(task["id"], status=PAUSED, queued=task["queued"] or task["created"])
        self._thread = threading.Thread(target=self._loop, name="etlcore-jobs", daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        """Pause every running task at its next chunk boundary and wait for its process to end."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            children = dict(self._children)
        for task_id, child in children.items():
            if child.poll() is None:
                with contextlib.suppress(EtlError):  # deleted meanwhile
                    self.store.update(task_id, stop_requested_by=SERVER_STOPPING)
                child.send_signal(signal.SIGINT)  # the run stops at its next chunk boundary, checkpoints kept
        deadline = time.monotonic() + self.pause_timeout
        for task_id, child in children.items():
            try:
                child.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("task %s did not stop in %.0f s; the next start resumes it", task_id, self.pause_timeout)
                continue
            self._reap(task_id, child, pausing=True)

    # -- the loop -----------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stopping:
            try:
                self._tick()
            except Exception:  # the loop must outlive one bad round (a busy store, say)
                log.exception("scheduling round failed")
            self._wake.wait(POLL_SECONDS)
            self._wake.clear()

    def _tick(self) -> None:
        with self._lock:
            for task_id, child in list(self._children.items()):
                if child.poll() is not None:
                    self._reap(task_id, child, pausing=False)
        tasks = self.store.all()
        with self._lock:
            busy = len(self._children) + sum(
                1 for t in tasks if t["status"] == RUNNING and t["queued"] and t["id"] not in self._children
            )  # still run by a server killed before (the store settles those whose process is gone)
            waiting = sorted((t for t in tasks if t["id"] not in self._children and t["queued"]
                              and t["status"] in (NONE, PAUSED)), key=lambda t: t["queued"])
            for task in waiting:
                if busy >= self.max_running or self._stopping:
                    break
                self._launch(task["id"])
                busy += 1

    def _launch(self, task_id: str) -> None:
        task = self.store.get(task_id)
        log_dir = Path(task["task_dir"])
        log_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "etlcore", "task", "--store", str(self.store.path),
                   "--allow-root", str(self.allowed_root), "run", task_id]
        with open(log_dir / "server-run.log", "ab") as output:
            # A session of its own: Ctrl-C on the server's terminal reaches the server, which pauses it.
            child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=output, stderr=output,
                                     start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self._children[task_id] = child  # the child claims the task in the store (status 1, its pid)
        log.info("task %s started in process %d", task_id, child.pid)

    def _reap(self, task_id: str, child: subprocess.Popen[bytes], pausing: bool) -> None:
        self._children.pop(task_id, None)
        try:
            task = self.store.get(task_id)
        except EtlError:
            return  # deleted while it ran
        if pausing and task["status"] == TERMINATED:  # stopped at a chunk boundary, or killed before it said so
            self.store.update(task_id, status=PAUSED, pid=None, stop_reason="server stopped")
        elif not pausing and (task["status"] in (NONE, PAUSED) or task["stop_reason"] == PROCESS_GONE):
            # The process ended without recording an outcome: it refused to start the run (an input gone
            # since create, say: its last line says why) or it was killed.
            response = service.detail(self.store, task_id)
            reason = _last_line(Path(task["task_dir"]) / "server-run.log")
            reason = f"the task process exited with code {child.returncode}" + (f": {reason}" if reason else "")
            response["result"].update(processStatus=FAILED, exceptionResult=reason)
            self.store.update(task_id, status=FAILED, pid=None, queued=None, finished=time.time(), result=response,
                              stop_reason=None)
        log.info("task %s: process %d ended with code %s", task_id, child.pid, child.returncode)


def _last_line(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1][:2000] if lines else ""
