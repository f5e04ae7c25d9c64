"""How far a run has got: a one-line display on stderr while it streams, when stderr is a terminal,
and its counts so far in a file in its work dir, for a server to show."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import orjson

from etlcore.io.writer import write_atomic


class Progress:
    """Documents read, documents/s and the current phase, redrawn at most twice a second; the share
    done and the ETA come from the input bytes when every input is uncompressed (a compressed size
    says nothing about how much text is left). Disabled, it costs nothing and prints nothing."""

    def __init__(self, enabled: bool, total_bytes: int | None) -> None:
        self.enabled, self.total_bytes = enabled, total_bytes
        self.documents = self.bytes = 0
        self.name = "reading"
        self.started = time.monotonic()
        self._drawn = 0.0  # the first update draws at once

    @staticmethod
    def wanted(quiet: bool) -> bool:
        return not quiet and sys.stderr.isatty()

    def advance(self, documents: int, size: int) -> None:
        self.documents += documents
        self.bytes += size
        self._draw()

    def phase(self, name: str) -> None:
        self.name = name
        if self.documents:  # before the first documents, the first advance draws
            self._draw(force=True)

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self._drawn < 0.5 and not force):
            return
        self._drawn = now
        elapsed = max(now - self.started, 1e-9)
        line = f"etlcore {self.name}: {self.documents:,} docs, {self.documents / elapsed:,.0f} docs/s"
        if self.total_bytes and self.bytes:
            done = min(self.bytes / self.total_bytes, 1.0)
            line += f", {done:.0%} of the input, ETA {elapsed * (1 - done) / done:,.0f} s"
        sys.stderr.write(f"\r{line}\x1b[K")
        sys.stderr.flush()

    def close(self) -> None:
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
