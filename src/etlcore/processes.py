"""Whether a process recorded earlier (a task's runner, a lock's holder) is still the one running.

A pid alone can be reused by an unrelated process after the recorded one ended; on Linux its start
time (`/proc/<pid>/stat`, in clock ticks since boot) tells the two apart. Elsewhere only the pid is
checked.
"""

from __future__ import annotations

import os


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None where /proc does not say."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()  # the command name may hold spaces and ')'
    except OSError:
        return None
    return int(fields[19])  # field 22 of stat(5); fields[0] is field 3


def alive(pid: int, started: int | None = None) -> bool:
    """True while process `pid` runs (and, when `started` is given and known, is the one started then)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, run by another user
    if started is None:
        return True
    now = start_time(pid)
    return now is None or now == started
