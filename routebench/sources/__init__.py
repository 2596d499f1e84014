"""Dataset sources: a registry from source name to a builder, and ``download``.

Every source turns its raw form (generated, a Hugging Face dataset, or local files given with
``from_path``) into one validated :class:`~routebench.dataset.RouteTable`, stored as
``<data_dir>/<out>/table.parquet`` plus ``card.json``. Per-dataset constants (prices per 1M
tokens, default model lists, Hugging Face repo ids, file names) live in ``sources.yaml`` beside
this module (package data, read through :mod:`importlib.resources`, so an installed wheel finds
it) and are copied into each card.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from routebench.dataset import (
    CARD_FILE,
    TABLE_FILE,
    DatasetError,
    MissingPolicy,
    RouteTable,
    check_name,
    load_table,
    read_card,
    save_table,
    verify_card,
)

if TYPE_CHECKING:  # importlib.resources.abc is Python 3.11+; annotations are never evaluated
    from importlib.resources.abc import Traversable

#: Where per-dataset constants live: ``sources.yaml``, package data of ``routebench.sources``
#: (a path inside the installed package; ``str()`` of it names the file in messages).
CONFIG_FILE: Traversable = resources.files(__name__) / "sources.yaml"

HF_HOST = "huggingface.co"
#: Seconds to wait for the Hugging Face hub before giving up (probe and HTTP timeouts).
HF_TIMEOUT_S = 3.0

#: One builder per source. ``build(from_path=..., missing=..., report=..., **options)``
#: returns a validated table; it fills ``report`` with ``dropped`` / ``merged`` row counts.
Builder = Callable[..., RouteTable]


class SourceUnavailable(ConnectionError):
    """A remote host could not be reached; the message suggests ``--from PATH``."""


@dataclass(frozen=True)
class Source:
    """A dataset source: its name, a one-line description, its builder and the options it takes
    (besides ``from_path`` and ``missing``)."""

    name: str
    description: str
    build: Builder
    options: tuple[str, ...] = ()


SOURCES: dict[str, Source] = {}


def register(source: Source) -> Source:
    SOURCES[source.name] = source
    return source


def get_source(name: str) -> Source:
    """The registered source ``name``; a clear error listing the known ones otherwise."""
    _load_builtin()
    if name not in SOURCES:
        from routebench.catalogue import did_you_mean

        raise DatasetError(
            f"unknown dataset {name!r}{did_you_mean(name, SOURCES)}; known datasets: "
            f"{', '.join(sorted(SOURCES))}"
        )
    return SOURCES[name]


def known_sources() -> list[str]:
    _load_builtin()
    return sorted(SOURCES)


def _load_builtin() -> None:
    # Importing the modules registers their sources; done lazily to keep imports light.
    from routebench.sources import leaderboard, routerbench, sprout, synthetic  # noqa: F401


@cache
def _all_config(path: Traversable = CONFIG_FILE) -> dict[str, Any]:
    if not path.is_file():
        raise DatasetError(
            f"{path}: source configuration file is missing (package data of routebench.sources; "
            "reinstall routebench)"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise DatasetError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise DatasetError(f"{path}: expected a mapping from source name to settings")
    return data


def source_config(name: str) -> dict[str, Any]:
    """The settings of source ``name`` from ``sources.yaml`` (:data:`CONFIG_FILE`; a fresh
    copy)."""
    data = _all_config()
    if name not in data:
        raise DatasetError(f"{CONFIG_FILE}: no section {name!r}")
    return dict(data[name])


# --------------------------------------------------------------------------- network
def check_host(host: str = HF_HOST, port: int = 443, timeout: float = HF_TIMEOUT_S) -> None:
    """Fail within ``timeout`` seconds with :class:`SourceUnavailable` when ``host`` is
    unreachable, instead of letting a download hang."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return
    except OSError as exc:
        raise SourceUnavailable(
            f"{host}:{port} is unreachable ({exc}); download the files elsewhere and import "
            "them with --from PATH"
        ) from exc


def prepare_hub(timeout: float = HF_TIMEOUT_S) -> None:
    """Probe the Hugging Face hub and set short hub timeouts (seconds) before any download."""
    os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", str(int(timeout)))
    os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", str(int(max(timeout, 10))))
    check_host(HF_HOST, 443, timeout)


def as_unavailable(exc: Exception, what: str) -> SourceUnavailable:
    """Wrap a hub client error as :class:`SourceUnavailable` naming ``what`` was fetched."""
    return SourceUnavailable(
        f"could not fetch {what} from {HF_HOST} ({type(exc).__name__}: {exc}); "
        "import a local copy with --from PATH"
    )


# --------------------------------------------------------------------------- files
def list_input_files(path: str | Path, extensions: list[str] | tuple[str, ...]) -> list[Path]:
    """``path`` itself, or every file under the folder ``path`` whose name ends with one of
    ``extensions`` (sorted by name). Refuses a missing path or a folder with no such file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if path.is_file():
        if path.suffix.lower() not in extensions:
            raise DatasetError(
                f"{path}: unsupported file type {path.suffix!r}; expected one of {list(extensions)}"
            )
        return [path]
    files = sorted(
        (p for p in path.iterdir() if p.is_file() and p.suffix.lower() in extensions),
        key=lambda p: p.name,
    )
    if not files:
        raise DatasetError(f"{path}: folder holds no {'/'.join(extensions)} files")
    return files


def check_out_name(out: str) -> str:
    """A dataset folder name for ``--out``: letters, digits, '.', '_' and '-' only."""
    try:
        return check_name(out)
    except DatasetError:
        raise DatasetError(
            f"--out {out!r} is not a valid dataset name (use letters, digits, '.', '_', '-')"
        ) from None


# --------------------------------------------------------------------------- download
def download(
    name: str,
    *,
    data_dir: str | Path,
    force: bool = False,
    from_path: str | Path | None = None,
    missing: MissingPolicy = "error",
    out: str | None = None,
    **options: Any,
) -> tuple[RouteTable, dict[str, Any], dict[str, Any]]:
    """Build dataset ``name`` and store it as ``<data_dir>/<out>/`` (``out`` defaults to
    ``name``); return ``(table, card, report)``.

    If the folder already holds a table and ``force`` is false, nothing is rebuilt: the stored
    table is loaded and ``report["reused"]`` is true. ``from_path`` imports local files instead
    of downloading; ``missing`` is the policy for rows with missing values (``error``, ``drop``
    or ``coalesce``). ``options`` are the source's own (e.g. ``n``, ``models``, ``seed`` for
    ``synthetic``); unknown ones are refused. The report holds ``dataset``, ``path``, ``reused``,
    ``n``, ``m``, ``dropped`` and ``merged`` (rows), and ``options``.
    """
    source = get_source(name)
    unknown = sorted(k for k, v in options.items() if k not in source.options and v is not None)
    if unknown:
        allowed = ", ".join(source.options) or "none"
        raise DatasetError(
            f"dataset {name!r} does not take option(s) {unknown}; its options: {allowed}"
        )
    given = {k: v for k, v in options.items() if v is not None}
    out = check_out_name(out or name)
    directory = Path(data_dir) / out
    request = {
        "source": name,
        "options": given,
        "from_path": str(Path(from_path).resolve()) if from_path is not None else None,
        "missing": missing,
    }
    report: dict[str, Any] = {"dataset": out, "path": str(directory), "options": given}
    if (directory / TABLE_FILE).exists() and not force:
        if from_path is not None and not Path(from_path).exists():
            raise FileNotFoundError(f"{from_path}: no such file or folder (--from)")
        table = load_table(directory)
        card = read_card(directory)
        stored = card.get("import", {})
        differs = _differences(stored, request)
        if differs:
            raise DatasetError(
                f"{directory} already holds a dataset built with other settings ("
                + "; ".join(differs) + "); pass --force to rebuild it, or --out NAME to "
                "keep both"
            )
        report.update(
            reused=True,
            n=table.n,
            m=table.m,
            dropped=stored.get("dropped", 0),
            merged=stored.get("merged", 0),
            same_request=True,
        )
        return table, card, report
    counts: dict[str, int] = {}
    table = source.build(from_path=from_path, missing=missing, report=counts, **given)
    table = _renamed(table, out)
    provenance = {**request, "dropped": counts.get("dropped", 0), "merged": counts.get("merged", 0)}
    card = save_table(table, directory, **{"import": provenance})
    report.update(
        reused=False,
        n=table.n,
        m=table.m,
        dropped=provenance["dropped"],
        merged=provenance["merged"],
        same_request=True,
    )
    return table, card, report


def _renamed(table: RouteTable, name: str) -> RouteTable:
    from dataclasses import replace

    return table if table.name == name else replace(table, name=name)


def _differences(stored: dict[str, Any], request: dict[str, Any]) -> list[str]:
    """What differs between the request a stored dataset was built from and a new one, as
    ``key: stored X, asked Y`` (an import path compares as the folder or file it names)."""
    out = []
    for key, want in request.items():
        have = stored.get(key)
        if key == "from_path" and have is not None and want is not None:
            same = Path(have).resolve() == Path(want).resolve()
        else:
            same = have == want
        if not same:
            out.append(f"{key}: stored {have!r}, asked {want!r}")
    return out


def dataset_card(name: str, *, data_dir: str | Path) -> dict[str, Any]:
    """The stored card of dataset ``name``, verified against its table (an edited card or table
    is refused); a clear error saying to download it if absent. ``name`` in the returned card
    is the folder's name."""
    directory = Path(data_dir) / check_name(name)
    if not (directory / TABLE_FILE).exists():
        hint = name if name in known_sources() else "NAME --out " + name
        raise DatasetError(
            f"dataset {name!r} is not downloaded (no {directory / TABLE_FILE}); run "
            f"`routebench download {hint}` first (known sources: {', '.join(known_sources())})"
        )
    table = load_table(directory)
    card = read_card(directory)
    verify_card(card, table, path=directory / CARD_FILE)
    return {**card, "name": table.name}


__all__ = [
    "CONFIG_FILE",
    "SOURCES",
    "Source",
    "SourceUnavailable",
    "check_host",
    "dataset_card",
    "download",
    "get_source",
    "known_sources",
    "list_input_files",
    "prepare_hub",
    "register",
    "source_config",
]
