"""Folders routebench reads and writes: checks that fail early with the path and the fix, and
the per-user cache folder (numba's compiled kernels, saved tracebacks). A leaf module: it imports
nothing from routebench, so ``routebench/__init__`` can use it before numba is imported."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class FolderError(ValueError):
    """A folder that cannot be used: a file in its place, or no permission to write it."""


def writable_dir(path: Path) -> bool:
    """Whether ``path`` is (or can be made) a folder this process can create files in."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".probe-"):
            pass
        return True
    except OSError:
        return False


def user_cache_dir(sub: str) -> Path:
    """A writable per-user cache folder ``<cache>/routebench/<sub>``: under ``$XDG_CACHE_HOME``
    or ``~/.cache``, else in the temp directory (a read-only or missing home still works)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    first = Path(base) / "routebench" / sub
    if writable_dir(first):
        return first
    user = str(os.getuid()) if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    fallback = Path(tempfile.gettempdir()) / f"routebench-{user}" / sub
    fallback.mkdir(parents=True, exist_ok=True)
    return fallback


def configure_numba_cache() -> Path:
    """Point numba's ``cache=True`` kernels at a folder this user can write.

    numba's default is the package's own ``__pycache__``, which a user who installed routebench
    system-wide (or runs a read-only checkout) cannot write: numba then refuses to compile
    ("cannot cache function ...: no locator available"). ``$NUMBA_CACHE_DIR`` is kept when it
    is writable; otherwise the per-user cache folder is used."""
    import sys

    given = os.environ.get("NUMBA_CACHE_DIR")
    path = Path(given) if given and writable_dir(Path(given)) else user_cache_dir("numba")
    os.environ["NUMBA_CACHE_DIR"] = str(path)
    numba = sys.modules.get("numba")
    if numba is not None:  # imported before routebench: its config was read already
        numba.config.CACHE_DIR = str(path)
    return path


def check_folder(path: str | os.PathLike[str], what: str, *, write: bool) -> Path:
    """Refuse, before any work, a folder that cannot serve: a file where the folder (or one of
    its parents) should be, or (``write``) a folder this user may not create files in. ``what``
    names it in the message (e.g. "results folder ($ROUTEBENCH_RESULTS)"). Creates nothing."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FolderError(f"{what} {path} is a file, not a folder; point it at a folder")
    ancestor = path
    while not ancestor.exists():
        parent = ancestor.parent
        if parent == ancestor:
            break
        ancestor = parent
    if ancestor.exists() and not ancestor.is_dir():
        raise FolderError(
            f"{what} {path}: {ancestor} is a file, so the folder cannot be created; point it at "
            "a folder"
        )
    if write and ancestor.exists() and not os.access(ancestor, os.W_OK | os.X_OK):
        raise FolderError(
            f"{what} {path}: no permission to write in {ancestor}; fix its permissions or choose "
            "another folder"
        )
    return path
