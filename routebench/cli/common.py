"""Shared pieces of the CLI: the Typer app, the console, option defaults and error handling."""

from __future__ import annotations

import errno
import functools
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.text import Text

try:  # typer >= 0.23 carries its own copy of click
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older typer runs on click itself
    import click.exceptions as click_exceptions  # type: ignore[no-redef]

from routebench import __version__
from routebench.errors import ParamError, RouterFailure, flag
from routebench.paths import check_folder, user_cache_dir

#: Exit code of a malformed command line (unknown option, a value that is not one of the
#: choices, a text where a number is expected); refused inputs and failures exit with 1.
USAGE_EXIT = 2


class _Commands(typer.core.TyperGroup):
    """The command group, with one-line usage errors (click's default is a boxed, multi-line
    message): ``error: <what is wrong> (see `routebench CMD --help`)``, exit code 2."""

    def main(self, args: Any = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click_exceptions.UsageError as exc:
            message = exc.format_message().replace("Value error, ", "").strip()
            if not message:  # no arguments at all: the help was shown
                sys.exit(0)
            where = exc.ctx.command_path if exc.ctx is not None else "routebench"
            err_console.print(Text.assemble(("error:", "bold red"), " ", message,
                                            f" (see `{where} --help`)"), soft_wrap=True)
            sys.exit(USAGE_EXIT)
        except click_exceptions.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except typer.Abort:
            err_console.print("aborted")
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=_Commands,
    name="routebench",
    help="Online, budget-constrained LLM routing: PORT (Wu & Silwal, NeurIPS 2025), "
    "baselines and offline optima.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish, PowerShell)
    pretty_exceptions_enable=False,
)

console = Console()
err_console = Console(stderr=True)


def _print_version(value: bool) -> None:
    if value:
        console.print(f"routebench {__version__}", markup=False, highlight=False)
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    # No docstring: the app's help above is the one --help shows.
    pass

F = TypeVar("F", bound=Callable[..., Any])


def data_dir(*, write: bool = False) -> Path:
    """Where datasets live: $ROUTEBENCH_DATA, else ./data (checked: a folder, writable when
    ``write``)."""
    env = os.environ.get("ROUTEBENCH_DATA")
    what = "data folder ($ROUTEBENCH_DATA)" if env else "data folder"
    return check_folder(env or "data", what, write=write)


def complete_dataset(incomplete: str) -> list[str]:
    """Shell completion of a dataset name: the downloaded datasets (folders under the data dir
    that hold a table), those starting with ``incomplete``. Never fails: no data dir, no names."""
    from routebench.dataset import TABLE_FILE

    try:
        root = data_dir()
        names = sorted(p.name for p in root.iterdir() if (p / TABLE_FILE).is_file())
    except Exception:  # noqa: BLE001 - completion must never print a traceback into the shell
        return []
    return [name for name in names if name.startswith(incomplete)]


def results_dir(*, write: bool = True) -> Path:
    """Where results live: $ROUTEBENCH_RESULTS, else ./results (checked like ``data_dir``)."""
    env = os.environ.get("ROUTEBENCH_RESULTS")
    what = "results folder ($ROUTEBENCH_RESULTS)" if env else "results folder"
    return check_folder(env or "results", what, write=write)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``message`` (literally: no rich markup) as an error and exit non-zero."""
    err_console.print(Text.assemble(("error:", "bold red"), " ", str(message)), soft_wrap=True)
    raise typer.Exit(code)


def note(message: str) -> None:
    """Print a yellow note (literally: no rich markup)."""
    console.print(Text.assemble(("note:", "yellow"), " ", str(message)), soft_wrap=True)


_OS_FIXES = {
    errno.EACCES: "fix the permissions or choose another folder ($ROUTEBENCH_DATA, "
    "$ROUTEBENCH_RESULTS or --out)",
    errno.EPERM: "fix the permissions or choose another folder ($ROUTEBENCH_DATA, "
    "$ROUTEBENCH_RESULTS or --out)",
    errno.EROFS: "the file system is read-only; choose another folder ($ROUTEBENCH_DATA, "
    "$ROUTEBENCH_RESULTS or --out)",
    errno.ENOTDIR: "a file stands where a folder is needed; move it or choose another folder",
    errno.EISDIR: "a folder stands where a file is needed; move it or choose another path",
    errno.EEXIST: "a file stands where a folder is needed; move it or choose another folder",
    errno.ENOSPC: "the disk is full; free space or choose another folder",
    errno.EDQUOT: "the disk quota is exhausted; free space or choose another folder",
}


def os_message(exc: OSError) -> str:
    """One line for a failed file operation: the path, the system's reason and the fix."""
    where = exc.filename or ""
    if exc.filename2:
        where = f"{where} -> {exc.filename2}"
    reason = exc.strerror or type(exc).__name__
    fix = _OS_FIXES.get(exc.errno or -1, "")
    return f"{where + ': ' if where else ''}{reason}" + (f"; {fix}" if fix else "")


def _save_traceback() -> Path | None:
    """Write the current exception's traceback to the per-user crash folder; its path."""
    try:
        folder = user_cache_dir("crash")
        path = folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
        path.write_text(
            f"routebench {__version__}\ncommand: {' '.join(sys.argv)}\n\n"
            + traceback.format_exc(),
            encoding="utf-8",
        )
        return path
    except OSError:
        return None


def cli_flag(param: str) -> str:
    """The command-line spelling of a library parameter: ``top_k`` -> ``--top-k``; a router
    parameter ``port.eps`` -> ``--eps`` where a shorthand flag exists, else ``--router-param
    port.eps``."""
    from routebench.config import LEGACY_ROUTER_PARAMS

    shorthand = {f"{router}.{name}": key for key, (router, name) in LEGACY_ROUTER_PARAMS.items()}
    if param in shorthand:
        return flag(shorthand[param])
    if param.startswith("estimator."):
        return f"--estimator-param {param.split('.', 1)[1]}"
    if "." in param and not param.startswith("router_params"):
        return f"--router-param {param}"
    return flag(param.split(".")[0])


def handle_errors(func: F) -> F:
    """Turn every failure into one line on stderr and exit code 1, never a traceback:

    - the library's refusals (``ValueError`` and friends): their message; a ``ParamError``
      names the parameter's flag (``top_k`` -> ``--top-k``);
    - failed file operations (``OSError``: permissions, a file where a folder should be, a full
      disk): the path, the reason and the fix;
    - anything unexpected: its type and message, and the file its full traceback was saved to.
    Ctrl-C exits with code 130 and keeps finished work."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, click_exceptions.ClickException):
            raise
        except KeyboardInterrupt:
            err_console.print("[yellow]interrupted[/]: finished work is kept; re-run to resume")
            raise typer.Exit(130) from None
        except ParamError as exc:
            fail(f"{cli_flag(exc.param)}: {exc.detail}")
        except RouterFailure as exc:  # a plug-in's bug: its author wants the traceback
            saved = _save_traceback() if exc.__cause__ is not None else None
            fail(f"{exc}" + (f"; traceback in {saved}" if saved else ""))
        except KeyError as exc:
            fail(str(exc.args[0]) if exc.args else repr(exc))
        except (ValueError, ConnectionError, FileNotFoundError) as exc:
            fail(str(exc))
        except OSError as exc:
            fail(os_message(exc))
        except MemoryError:
            fail("out of memory; try a smaller --test-size or dataset, or a machine with more RAM")
        except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, no traceback
            saved = _save_traceback()
            where = f"; full traceback in {saved}" if saved else ""
            fail(f"unexpected {type(exc).__name__}: {exc}{where} (please report it)")

    return wrapper  # type: ignore[return-value]
