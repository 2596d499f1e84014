"""`routebench runs`: every run folder under a results folder, finished or not, with the command
that resumes (or extends) each one."""

from __future__ import annotations

import shlex
from dataclasses import fields
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from routebench.cli.common import app, console, handle_errors, results_dir
from routebench.config import LEGACY_ROUTER_PARAMS, SimConfig, fold_router_params

#: Embedder and index parameters whose flag is not ``--<param>`` (``cli/index.py``'s options).
_PARAM_FLAGS = {"m": "--hnsw-m"}


def seeds_text(seeds: list[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``"0-2,5"`` (the form ``--seeds`` reads)."""
    parts: list[str] = []
    for s in sorted(seeds):
        if parts and "-" not in parts[-1].lstrip("-") and int(parts[-1]) == s - 1:
            parts[-1] = f"{s - 1}-{s}"
        elif parts and "-" in parts[-1] and int(parts[-1].split("-")[1]) == s - 1:
            parts[-1] = f"{parts[-1].split('-')[0]}-{s}"
        else:
            parts.append(str(s))
    return ",".join(parts)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def simulate_command(config: dict[str, Any], results_root: Path | None = None) -> str:
    """The ``routebench simulate`` command line of a stored run config: the dataset and every
    parameter that differs from its default (router parameters as ``--router-param``)."""
    data = fold_router_params(dict(config))
    defaults = {f.name: f.default for f in fields(SimConfig) if f.name != "extra"}
    shorthand = {f"{r}.{p}": key for key, (r, p) in LEGACY_ROUTER_PARAMS.items()}
    args = ["routebench", "simulate", str(data.get("dataset", "?"))]
    for name, default in defaults.items():
        value = data.get(name, default)
        if name in ("dataset", "router_params", "embedder_params", "index_params"):
            continue
        if name == "routers":
            value = tuple(value) if isinstance(value, list) else value
        if name == "seeds":
            args += ["--seeds", seeds_text(list(value))]
            continue
        if value == default or (isinstance(value, list) and tuple(value) == default):
            continue
        if name == "models" and value is None:
            continue
        args += [f"--{name.replace('_', '-')}", _value(value)]
    for group in ("embedder_params", "index_params"):
        params = data.get(group) or {}
        params = dict(params) if not isinstance(params, dict) else params
        for key, value in params.items():
            flag = _PARAM_FLAGS.get(key, f"--{key.replace('_', '-')}")
            args += [flag] if value is True else [flag, _value(value)]
    for router, params in (data.get("router_params") or {}).items():
        defaults_of = _router_defaults(router)
        for key, value in dict(params).items():
            if key in defaults_of and defaults_of[key] == value:
                continue
            name = f"{router}.{key}"
            if name in shorthand:
                args += [f"--{shorthand[name].replace('_', '-')}", _value(value)]
            else:
                args += ["--router-param", f"{name}={_value(value)}"]
    prefix = f"ROUTEBENCH_RESULTS={shlex.quote(str(results_root))} " if results_root else ""
    return prefix + " ".join(shlex.quote(a) for a in args)


def _router_defaults(router: str) -> dict[str, Any]:
    """The default parameters of ``router`` (empty when its class cannot be loaded)."""
    from routebench.routers import RouterError, resolve_params

    try:
        return resolve_params(router, {})
    except (RouterError, ValueError):
        return {}


@app.command("runs")
@handle_errors
def runs(
    folder: Path | None = typer.Argument(None, help="A results folder (default: the results "
                                         "folder, $ROUTEBENCH_RESULTS or ./results)."),
) -> None:
    """List the run folders under FOLDER: dataset, key parameters, seeds finished of seeds
    asked, status (finished / partial / failed), and the command that resumes an unfinished
    run."""
    from routebench.results import list_runs

    root = folder or results_dir(write=False)
    found = list_runs(root)
    if not found:
        console.print(f"{root}: no run folders", highlight=False, markup=False)
        return
    table = Table(title=f"runs under {root}", title_justify="left")
    for col in ("run folder", "dataset", "budget", "split", "test size", "routers", "seeds",
                "status"):
        table.add_column(col, overflow="fold")
    todo = []
    for info in found:
        cfg = info.config
        routers = cfg.get("routers", [])
        table.add_row(
            str(info.path.relative_to(root)) if info.path != Path(root) else str(info.path),
            info.dataset, str(cfg.get("budget", "?")),
            str(cfg.get("split", "?")) + (f" k={cfg.get('extreme_k')}"
                                           if cfg.get("split") == "extreme" else ""),
            str(cfg.get("test_size", "?")), str(len(routers)) if isinstance(routers, list)
            else "?", f"{len(info.seeds_done)}/{len(info.seeds)}", info.status,
        )
        if info.status != "finished" and info.config:
            todo.append(info)
    console.print(table)
    for info in todo:
        why = f" ({info.error})" if info.error else ""
        console.print(f"{info.path}: {info.status}{why}; resume with:", highlight=False,
                      markup=False)
        console.print(f"  {simulate_command(info.config, info.path.parent)}",
                      highlight=False, markup=False, soft_wrap=True)
