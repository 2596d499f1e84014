"""The ``routebench`` command line. Command functions stay thin: parse, build a config, call the
library. Each group of commands lives in its own module and registers itself on ``app``."""

from __future__ import annotations

from routebench.cli.common import app

# Importing the modules registers their commands, in the order --help lists them.
from routebench.cli import data as _data  # noqa: E402,F401
from routebench.cli import index as _index  # noqa: E402,F401
from routebench.cli import simulate as _simulate  # noqa: E402,F401
from routebench.cli import results as _results  # noqa: E402,F401


def main() -> None:
    app()


__all__ = ["app", "main"]
