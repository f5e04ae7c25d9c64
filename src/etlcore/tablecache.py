"""Code-point tables built once per install instead of once per process.

Several operators look characters up in a table over all 1.1 M code points (case and NFKC folding,
character classes, the perplexity models' normalisation). Building one takes Python a tenth of a
second to a second; every process of every run paid that again, each worker too. `code_point_cache`
keeps the built array in memory and on disk, under a key made of everything the table depends on:
the source of etlcore's own modules and the versions of Python's Unicode database and of the
`regex` and `emoji` packages. A changed dependency is a new key, so a stale table is never read.

Where: `$ETLCORE_CACHE_DIR` if set, else `__pycache__/tables` inside the installed package (as numba
caches its kernels beside their modules), else `~/.cache/etlcore/tables`; when none is writable the
tables are built in memory as before. A file that cannot be read is built again and replaced.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
import tempfile
import unicodedata
from collections.abc import Callable
from pathlib import Path

import numpy as np

from etlcore.kernelcache import user_cache, writable

_PACKAGE = Path(__file__).resolve().parent


@functools.cache
def _dependencies_key() -> str:
    import emoji
    import regex

    digest = hashlib.sha256()
    for part in (sys.version, unicodedata.unidata_version, regex.__version__, emoji.__version__, np.__version__):
        digest.update(part.encode() + b"\0")
    for source in sorted(_PACKAGE.rglob("*.py")):
        digest.update(source.relative_to(_PACKAGE).as_posix().encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()[:20]


@functools.cache
def cache_folder() -> Path | None:
    """The folder the tables are kept in, or None when there is no writable one."""
    if os.environ.get("ETLCORE_CACHE_DIR"):
        candidates = [Path(os.environ["ETLCORE_CACHE_DIR"])]
    else:
        candidates = [_PACKAGE / "__pycache__" / "tables", user_cache() / "etlcore" / "tables"]
    return next((folder for folder in candidates if writable(folder)), None)


def code_point_cache(build: Callable[[], np.ndarray]) -> Callable[[], np.ndarray]:
    """Decorate a function without arguments that builds a numpy table: built at most once per
    install and version of what it depends on, loaded from disk by every later process."""

    @functools.cache
    @functools.wraps(build)
    def cached() -> np.ndarray:
        folder = cache_folder()
        if folder is None:
            return build()
        name = f"{build.__module__}.{build.__qualname__}"
        path = folder / f"{name}-{_dependencies_key()}.npy"
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            pass
        table = build()
        try:  # written under a temporary name and renamed: a reader never sees half a table
            with tempfile.NamedTemporaryFile(dir=folder, suffix=".tmp", delete=False) as out:
                np.save(out, table, allow_pickle=False)
            os.replace(out.name, path)
            for stale in folder.glob(f"{name}-*.npy"):  # built by an earlier version
                if stale != path:
                    stale.unlink(missing_ok=True)
        except OSError:
            pass
        return table

    cached.build = build  # type: ignore[attr-defined]  # the builder itself, for tests
    return cached
