"""A one-line progress display on stderr while a run streams, when stderr is a terminal."""

from __future__ import annotations

import sys
import time


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
