"""The ``routebench`` command line. Command functions stay thin: parse, build a config, call the
library. Each group of commands lives in its own module and registers itself on ``app``."""
# ruff: noqa: I001  (import order is the order --help lists the commands)

from __future__ import annotations

from routebench.cli.common import app
from routebench.cli import data as _data  # noqa: F401
from routebench.cli import index as _index  # noqa: F401
from routebench.cli import simulate as _simulate  # noqa: F401
from routebench.cli import results as _results  # noqa: F401
from routebench.cli import runs as _runs  # noqa: F401


def main() -> None:
    app()


__all__ = ["app", "main"]
