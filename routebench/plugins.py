"""Plug-in classes (routers, estimators) found by name: the one place a class is looked up in
an installed package's entry points, imported from ``module:Class`` or loaded from
``path/to/file.py:Class``. A leaf module: it imports nothing of routebench."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import sys
import zlib
from pathlib import Path
from typing import Any


class PluginError(ValueError):
    """A plug-in that cannot be found, imported or used; the message names it."""


def import_module(module: str) -> Any:
    """``module`` imported: a file (``path/to/file.py``), or a module name found on the path or,
    as ``python -m`` would, in the current folder."""
    if module.endswith(".py"):
        path = Path(module).resolve()
        if not path.is_file():
            raise ImportError(f"no such file: {module}")
        name = f"routebench_plugin_{path.stem}_{zlib.crc32(str(path).encode()):08x}"
        if name not in sys.modules:
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load {module} as a Python module")
            loaded = importlib.util.module_from_spec(spec)
            sys.modules[name] = loaded
            try:
                spec.loader.exec_module(loaded)
            except BaseException:
                del sys.modules[name]
                raise
        return sys.modules[name]
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        cwd = str(Path.cwd())
        if exc.name != module.split(".")[0] or cwd in sys.path:
            raise
        sys.path.append(cwd)
        return importlib.import_module(module)


def load_class(spec: str, base: type, what: str, error: type[Exception] = PluginError) -> type:
    """The class ``spec`` (``module:Class`` or ``path/to/file.py:Class``) names, which must
    subclass ``base``; ``what`` ("router", "estimator") goes into the messages."""
    module, _, attr = spec.rpartition(":")
    try:
        obj: Any = import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except Exception as exc:  # noqa: BLE001 - a broken plug-in must not crash the run
        raise error(f"{what} {spec!r}: cannot import it ({type(exc).__name__}: {exc})") \
            from None
    if not (isinstance(obj, type) and issubclass(obj, base)):
        raise error(f"{what} {spec!r} is not a {base.__module__}.{base.__qualname__} subclass")
    return obj


def entry_point_class(group: str, name: str, base: type, what: str,
                      error: type[Exception] = PluginError) -> type | None:
    """The class an installed package offers as ``name`` in the entry-point ``group``, checked
    to subclass ``base``; None when no package offers it."""
    for ep in importlib.metadata.entry_points(group=group):
        if ep.name == name:
            try:
                cls = ep.load()
            except Exception as exc:  # noqa: BLE001 - a broken plug-in must not crash the run
                raise error(f"{what} {name!r} (entry point {ep.value}): cannot load it "
                            f"({type(exc).__name__}: {exc})") from None
            if not (isinstance(cls, type) and issubclass(cls, base)):
                raise error(f"entry point {name!r} ({ep.value}) is not a "
                            f"{base.__qualname__} subclass")
            return cls
    return None
