"""Shared pieces of the CLI: the Typer app, the console, option defaults and error handling."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console

app = typer.Typer(
    name="routebench",
    help="Online, budget-constrained LLM routing: PORT (Wu & Silwal, NeurIPS 2025), "
    "baselines and offline optima.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def data_dir() -> Path:
    """Where datasets live: $ROUTEBENCH_DATA, else ./data."""
    return Path(os.environ.get("ROUTEBENCH_DATA", "data"))


def results_dir() -> Path:
    """Where results live: $ROUTEBENCH_RESULTS, else ./results."""
    return Path(os.environ.get("ROUTEBENCH_RESULTS", "results"))


def fail(message: str, code: int = 1) -> None:
    """Print ``message`` as an error and exit non-zero."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def handle_errors(func: F) -> F:
    """Turn the library's input errors (ValueError, FileNotFoundError, ConnectionError) into a
    clear message and exit code 1, and Ctrl-C into exit code 130, instead of a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (ValueError, FileNotFoundError, ConnectionError, KeyError) as exc:
            msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
            fail(str(msg))
        except KeyboardInterrupt:
            err_console.print("[yellow]interrupted[/]: finished work is kept; re-run to resume")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]
