"""Where numba keeps etlcore's compiled kernels, when it cannot keep them where it would.

numba caches a kernel beside its module (`__pycache__`), else in the user's cache folder
(`~/.cache/numba`); when neither is writable (a read-only install run by a service account whose home
is not writable, a container with a read-only root) it refuses to import the module at all. Before
etlcore's kernels are defined, `use_a_writable_folder` checks both and, when neither will do and the
user chose no folder (`NUMBA_CACHE_DIR`), points numba at one in the temporary folder: kernels are
then compiled on the first run after each boot instead of failing every run.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
# The folders of etlcore's modules that define kernels.
_KERNEL_FOLDERS = (_PACKAGE, _PACKAGE / "io", _PACKAGE / "operators")


def writable(folder: Path) -> bool:
    """Whether `folder` exists or can be made, and a file can be created in it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def user_cache() -> Path:
    """The user's cache folder (`$XDG_CACHE_HOME`, else `~/.cache`): numba's own is its `numba` folder."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def use_a_writable_folder() -> Path | None:
    """Point numba at a temporary folder when neither the install nor the user's cache can hold its
    kernels; the folder chosen, or None when numba's own places (or the user's choice) will do."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return None
    if all(writable(folder / "__pycache__") for folder in _KERNEL_FOLDERS) or writable(user_cache() / "numba"):
        return None
    folder = Path(tempfile.gettempdir()) / f"etlcore-numba-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    if not writable(folder):
        return None
    os.environ["NUMBA_CACHE_DIR"] = str(folder)
    numba = sys.modules.get("numba")
    if numba is not None:  # imported already (by the caller): its configuration was read then
        numba.config.CACHE_DIR = str(folder)
    return folder
