"""How far a run has got: a one-line display on stderr while it streams, when stderr is a terminal,
and its counts so far in a file in its work dir, for a server to show."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import orjson

from etlcore.io.writer import write_atomic


def duration(seconds: float) -> str:
    """`42 s`, `3 min 05 s`, `2 h 07 min`."""
    seconds = max(round(seconds), 0)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds // 60 % 60:02d} min"


class Progress:
    """The pass the run is in (`pass 2/4 (deduplication + desensitization)`), its rows so far and
    rows/s, the share of the pass done and the ETA of the whole run, redrawn at most twice a second.

    A run is cut into passes over the data (see `runner.plan_passes`). The first pass over the input
    files knows its share from the input bytes when every input is uncompressed (a compressed size says
    nothing about how much text is left); a later pass reads back what the one before wrote and knows its
    rows. The ETA of the run adds to what is left of this pass an estimate of the passes after it: each
    as long as this one (rough while a light pass runs before heavy ones; closer with every pass).
    Disabled, it costs nothing and prints nothing."""

    def __init__(self, enabled: bool, total_bytes: int | None) -> None:
        self.enabled, self.total_bytes = enabled, total_bytes
        self.rows = self.bytes = 0  # of this pass
        self.number, self.passes, self.name = 1, 1, "reading"
        self.expected: int | None = None  # rows this pass will see, when known
        self.activity: str | None = None  # work of the pass that reads no rows (deciding duplicates)
        self.started = time.monotonic()  # of this pass
        self._drawn = 0.0  # the first update draws at once

    @staticmethod
    def wanted(quiet: bool) -> bool:
        return not quiet and sys.stderr.isatty()

    def start_pass(self, number: int, passes: int, name: str, expected: int | None) -> None:
        """Pass `number` of `passes` begins; `expected`: its rows, when known (None: from the input bytes)."""
        self._draw_end_of_pass()
        self.number, self.passes, self.name, self.expected = number, passes, name, expected
        self.rows = self.bytes = 0
        self.activity = None
        self.started = time.monotonic()
        self._draw(force=True)

    def phase(self, activity: str) -> None:
        """Work within the pass that reads no rows, shown until rows flow again."""
        self.activity = activity
        self._draw(force=True)

    def advance(self, rows: int, size: int) -> None:
        self.rows += rows
        self.bytes += size
        self.activity = None
        self._draw()

    def line(self, now: float) -> str:
        head = f"etlcore pass {self.number}/{self.passes} ({self.name})"
        if self.activity:
            return f"{head}: {self.activity}"
        elapsed = max(now - self.started, 1e-9)
        line = f"{head}: {self.rows:,} {'row' if self.rows == 1 else 'rows'}, {self.rows / elapsed:,.0f} rows/s"
        done = self._done()
        if done:
            line += f", {done:.0%} of the pass, ETA of the run {duration(self._left(elapsed, done))}"
        return line

    def _done(self) -> float | None:
        """The share of this pass done, if it can be told."""
        if self.expected is not None:
            return min(self.rows / self.expected, 1.0) if self.expected and self.rows else None
        if self.total_bytes and self.bytes:
            return min(self.bytes / self.total_bytes, 1.0)
        return None

    def _left(self, elapsed: float, done: float) -> float:
        """Seconds left in the run: the rest of this pass, and as long again for each pass after it."""
        this_pass = elapsed / done
        return this_pass - elapsed + (self.passes - self.number) * this_pass

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self._drawn < 0.5 and not force):
            return
        self._drawn = now
        sys.stderr.write(f"\r{self.line(now)}\x1b[K")
        sys.stderr.flush()

    def _draw_end_of_pass(self) -> None:
        """A pass shorter than the redraw interval still shows where it ended (rows, rows/s, share)."""
        if self.rows and not self.activity:
            self._draw(force=True)

    def close(self) -> None:
        self._draw_end_of_pass()
        if self.enabled:
            sys.stderr.write("\r\x1b[K")  # clear the line for the summary that follows
            sys.stderr.flush()
            self.enabled = False


LIVE_FILE = "progress.json"


class LiveCounts:
    """A run's counts so far in `<work dir>/progress.json` (rows read, rejected, invalid, and kept: read
    less rejected and invalid), replaced atomically after each chunk, at most every `every` seconds, so
    that another process (`etlcore serve` answering detail polls) can show them while the run goes on.
    Removed when the run ends: its result holds the counts then."""

    def __init__(self, work: Path, every: float = 0.1) -> None:
        self.path, self.every = work / LIVE_FILE, every
        self._written = 0.0

    def update(self, read: int, rejected: int, invalid: int, force: bool = False) -> None:
        now = time.time()
        if not force and now - self._written < self.every:
            return
        self._written = now
        document = {"rows_read": read, "rejected": rejected, "invalid": invalid,
                    "kept": read - rejected - invalid, "updated": now}
        write_atomic(self.path, orjson.dumps(document))


    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def read_live_counts(work: Path, since: float) -> dict[str, Any] | None:
    """The counts a run in `work` wrote at `since` or later (None: none yet, or only an earlier run's)."""
    try:
        document = orjson.loads((work / LIVE_FILE).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return document if isinstance(document, dict) and document.get("updated", 0) >= since else None
