"""Experiment grids: expand a YAML file into simulate configs and run them, resumably.

A sweep file (see ``configs/*.yaml``) has these top-level keys:

``dataset``
    Default dataset name (``routebench sweep --dataset`` overrides it).
``description``
    Free text.
``base``
    Fixed ``SimConfig`` parameters shared by every point.
``grid``
    A mapping from a ``SimConfig`` parameter to a list of values; the points are the cartesian
    product of the lists.
``cases``
    A list of partial parameter mappings, crossed with the grid: for values that must change
    together, e.g. ``{split: extreme, extreme_k: 3}``.
``deployments``
    ``{sizes: [2, 3, ..., all] or "2..all", subsets: 3, seed: 0}``: for every size k, up to
    ``subsets`` distinct random subsets of k of the dataset's LLMs (from ``card.json``), drawn
    from ``numpy.random.SeedSequence([seed, k])``; the subset of every LLM is ``models: null``.
``cap_test_size``
    If true, a test size the dataset cannot support is lowered to ``N - max(top_k, 10 % of N)``
    (so that history remains) and duplicate points are dropped; the capped points are listed.

Every point becomes a ``SimConfig`` whose run folder ``results_root / run_key()`` is a pure
function of its parameters, so finished points are skipped and an interrupted sweep resumes.
"""

from __future__ import annotations

import itertools
import math
import multiprocessing
import os
import re
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from routebench import io
from routebench.config import ConfigError, SimConfig
from routebench.dataset import CARD_FILE, dataset_dir
from routebench.results import MANIFEST_FILE, is_run_dir

Runner = Callable[..., Path]

TOP_KEYS = ("dataset", "description", "base", "grid", "cases", "deployments", "cap_test_size")
DEPLOYMENT_KEYS = ("sizes", "subsets", "seed")
#: Parameters a sweep may set: every ``SimConfig`` field except the free-form ``extra``.
PARAMS: tuple[str, ...] = tuple(f.name for f in fields(SimConfig) if f.name != "extra")
_FLOAT_PARAMS = tuple(f.name for f in fields(SimConfig)
                      if f.name != "extra" and isinstance(f.default, float))
#: Fraction of the dataset always kept as history when ``cap_test_size`` lowers a test size.
MIN_HISTORY_FRACTION = 0.10


class SweepError(ValueError):
    """A sweep file or a grid point that cannot run; the message names the file, line and key."""


# --------------------------------------------------------------------------- YAML with lines
def _key_lines(node: yaml.Node, prefix: str = "") -> dict[str, int]:
    """Map dotted key paths (``grid.budget``, ``cases.2.split``) to their 1-based line."""
    out: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            name = f"{prefix}{k.value}"
            out[name] = k.start_mark.line + 1
            out.update(_key_lines(v, name + "."))
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            out[f"{prefix}{i}"] = v.start_mark.line + 1
            out.update(_key_lines(v, f"{prefix}{i}."))
    return out


@dataclass(frozen=True)
class SweepSpec:
    """A parsed, validated sweep file. ``lines`` maps dotted keys to their line in ``source``."""

    name: str
    dataset: str
    source: Path
    base: dict[str, Any]
    grid: dict[str, list[Any]]
    cases: list[dict[str, Any]]
    deployments: dict[str, Any] | None
    cap_test_size: bool
    description: str = ""
    lines: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def where(self, key: str) -> str:
        line = self.lines.get(key)
        return f"{self.source}, line {line}" if line else str(self.source)


def _check_params(mapping: Any, section: str, path: Path, lines: dict[str, int]) -> None:
    if not isinstance(mapping, dict):
        raise SweepError(f"{path}, line {lines.get(section, '?')}: `{section}` must be a mapping "
                         "of simulate parameters")
    for key in mapping:
        if key not in PARAMS:
            line = lines.get(f"{section}.{key}", lines.get(section, "?"))
            raise SweepError(
                f"{path}, line {line}: unknown parameter {key!r} in `{section}`; "
                f"known: {', '.join(PARAMS)}"
            )


def parse_overrides(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``["test_size=1500", "seeds=0-4"]`` -> a dict; values are read as YAML scalars."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SweepError(f"--set {item!r}: expected KEY=VALUE, e.g. --set test_size=1500")
        try:
            out[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise SweepError(f"--set {item!r}: value is not valid YAML ({exc})") from exc
    return out


def load_spec(path: str | os.PathLike[str], dataset: str | None = None,
              overrides: dict[str, Any] | None = None) -> SweepSpec:
    """Read and validate a sweep file; ``dataset`` overrides the file's default and
    ``overrides`` (``--set KEY=VALUE``) its ``base`` parameters; a list replaces the values of a
    parameter the grid sweeps, a single value for one is ignored with a note in
    ``SweepSpec.notes``. Malformed YAML
    and unknown keys or parameters are refused with their line."""
    path = Path(path)
    if not path.is_file():
        raise SweepError(f"{path}: no such sweep file")
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SweepError(f"{path}{line}: malformed YAML: {exc.problem or exc}") from exc
    except yaml.YAMLError as exc:
        raise SweepError(f"{path}: malformed YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SweepError(f"{path}, line 1: a sweep file must be a mapping with keys "
                         f"{', '.join(TOP_KEYS)}")
    lines = _key_lines(node) if node is not None else {}
    for key in data:
        if key not in TOP_KEYS:
            raise SweepError(f"{path}, line {lines.get(str(key), '?')}: unknown key {key!r}; "
                             f"a sweep file has {', '.join(TOP_KEYS)}")
    base = data.get("base") or {}
    grid = data.get("grid") or {}
    notes: list[str] = []
    if overrides:
        _check_params(overrides, "--set", path, {})
        # A list replaces a grid's values; a single value cannot fix a swept parameter.
        grid = {**grid, **{k: v for k, v in overrides.items() if k in grid and isinstance(v, list)}}
        clash = sorted(k for k, v in overrides.items() if k in grid and not isinstance(v, list))
        if clash:
            notes.append(f"--set {', '.join(clash)} ignored: {path.name} sweeps "
                         f"{'it' if len(clash) == 1 else 'them'} in its grid")
        base = {**base, **{k: v for k, v in overrides.items() if k not in grid}}
    _check_params(base, "base", path, lines)
    _check_params(grid, "grid", path, lines)
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise SweepError(f"{path}, line {lines.get(f'grid.{key}', '?')}: grid parameter "
                             f"{key!r} needs a non-empty list of values")
    cases = data.get("cases") or []
    if not isinstance(cases, list):
        raise SweepError(f"{path}, line {lines.get('cases', '?')}: `cases` must be a list of "
                         "parameter mappings")
    for i, case in enumerate(cases):
        _check_params(case, f"cases.{i}", path, lines)
    overlap = sorted(set(grid) & set().union(*(set(c) for c in cases))) if cases else []
    if overlap:
        raise SweepError(f"{path}: parameter(s) {overlap} appear in both `grid` and `cases`")
    deployments = data.get("deployments")
    if deployments is not None:
        if not isinstance(deployments, dict):
            raise SweepError(f"{path}, line {lines.get('deployments', '?')}: `deployments` must "
                             "be a mapping with keys sizes, subsets, seed")
        for key in deployments:
            if key not in DEPLOYMENT_KEYS:
                raise SweepError(
                    f"{path}, line {lines.get(f'deployments.{key}', '?')}: unknown key {key!r} "
                    f"in `deployments`; known: {', '.join(DEPLOYMENT_KEYS)}")
        if "models" in grid or "models" in base or any("models" in c for c in cases):
            raise SweepError(f"{path}, line {lines.get('deployments', '?')}: `deployments` "
                             "chooses the models; do not also set `models`")
    name = dataset or data.get("dataset")
    if not name:
        raise SweepError(f"{path}: no dataset: set `dataset:` in the file or pass --dataset")
    cap = data.get("cap_test_size", False)
    if not isinstance(cap, bool):
        raise SweepError(f"{path}, line {lines.get('cap_test_size', '?')}: `cap_test_size` "
                         f"must be true or false, got {cap!r}")
    return SweepSpec(name=path.stem, dataset=str(name), source=path, base=dict(base),
                     grid={k: list(v) for k, v in grid.items()}, cases=[dict(c) for c in cases],
                     deployments=deployments, cap_test_size=cap,
                     description=str(data.get("description") or ""), lines=lines,
                     notes=notes)


# --------------------------------------------------------------------------- expansion
@dataclass(frozen=True)
class SweepPoint:
    """One grid point: its config, the parameters that set it, and whether its test size was
    capped (the original size then, else None)."""

    index: int
    config: SimConfig
    params: dict[str, Any]
    capped_from: int | None = None

    def run_dir(self, results_root: Path) -> Path:
        return Path(results_root) / self.config.run_key()


def read_card(dataset: str, data_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The dataset's ``card.json`` (query count and models), needed to check a sweep before
    any work."""
    card_path = dataset_dir(dataset, data_dir) / CARD_FILE
    if not card_path.is_file():
        raise SweepError(f"{card_path}: no dataset card; run `routebench download {dataset}` "
                         "before the sweep")
    card = io.read_json(card_path)
    if "n_queries" not in card or "models" not in card:
        raise SweepError(f"{card_path}: card lacks `n_queries` or `models`")
    return card


def _sizes(spec: SweepSpec, m: int) -> list[int]:
    raw = spec.deployments.get("sizes", "2..all") if spec.deployments else []
    where = spec.where("deployments.sizes")

    def one(v: Any) -> int:
        if v == "all":
            return m
        if isinstance(v, int) and not isinstance(v, bool):
            return v
        raise SweepError(f"{where}: deployment size {v!r} is not an integer or 'all'")

    if isinstance(raw, str):
        match = re.fullmatch(r"\s*(\d+)\s*\.\.\s*(\d+|all)\s*", raw)
        if not match:
            raise SweepError(f"{where}: sizes {raw!r}: expected a list or a range like '2..all'")
        lo, hi = int(match.group(1)), one(match.group(2) if match.group(2) == "all"
                                          else int(match.group(2)))
        sizes = list(range(lo, hi + 1))
    elif isinstance(raw, list) and raw:
        sizes = [one(v) for v in raw]
    else:
        raise SweepError(f"{where}: sizes must be a non-empty list or a range like '2..all'")
    bad = [s for s in sizes if s < 1 or s > m]
    if bad:
        raise SweepError(f"{where}: deployment size(s) {bad} impossible: the dataset has {m} "
                         "LLMs")
    return sorted(set(sizes))


def deployment_subsets(models: Sequence[str], sizes: Sequence[int], subsets: int,
                       seed: int) -> list[tuple[str, ...] | None]:
    """Up to ``subsets`` distinct random subsets of ``models`` per size (dataset order kept),
    drawn from ``SeedSequence([seed, size])`` so adding a size leaves the others unchanged; the
    full set is ``None`` (every LLM)."""
    m = len(models)
    out: list[tuple[str, ...] | None] = []
    for k in sizes:
        if k == m:
            out.append(None)
            continue
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(k)]))
        want = min(subsets, math.comb(m, k))
        chosen: list[tuple[int, ...]] = []
        while len(chosen) < want:
            pick = tuple(sorted(rng.choice(m, size=k, replace=False).tolist()))
            if pick not in chosen:
                chosen.append(pick)
        out.extend(tuple(models[i] for i in pick) for pick in chosen)
    return out


def _normalise(params: dict[str, Any]) -> dict[str, Any]:
    """YAML writes ``1`` for a float parameter; make it ``1.0`` so the run key is the same as
    for the equal float."""
    out = dict(params)
    for name in _FLOAT_PARAMS:
        if isinstance(out.get(name), int) and not isinstance(out.get(name), bool):
            out[name] = float(out[name])
    return out


def expand(spec: SweepSpec, data_dir: str | os.PathLike[str]) -> list[SweepPoint]:
    """Every point of the sweep as a validated ``SimConfig``, checked against the dataset's
    card before any work: unknown models, more LLMs than the dataset has, or a test size that
    leaves no history (unless ``cap_test_size``) are refused."""
    card = read_card(spec.dataset, data_dir)
    n, models = int(card["n_queries"]), [str(m) for m in card["models"]]
    keys = list(spec.grid)
    combos = [dict(zip(keys, vals, strict=True))
              for vals in itertools.product(*(spec.grid[k] for k in keys))]
    cases = spec.cases or [{}]
    model_sets: list[Any] = [()]
    if spec.deployments is not None:
        dep = spec.deployments
        subsets, seed = dep.get("subsets", 3), dep.get("seed", 0)
        if not isinstance(subsets, int) or subsets < 1:
            raise SweepError(f"{spec.where('deployments.subsets')}: subsets must be an integer "
                             f">= 1, got {subsets!r}")
        model_sets = deployment_subsets(models, _sizes(spec, len(models)), subsets, int(seed))
    points: list[SweepPoint] = []
    seen: set[str] = set()
    for combo, case, model_set in itertools.product(combos, cases, model_sets):
        params = {**combo, **case}
        full = _normalise({**spec.base, **params, "dataset": spec.dataset})
        if model_set != ():
            full["models"] = model_set
            params["models"] = "all" if model_set is None else ",".join(model_set)
        label = ", ".join(f"{k}={v}" for k, v in params.items()) or "base"
        try:
            cfg = SimConfig.from_dict(full)
        except (ConfigError, TypeError) as exc:
            raise SweepError(f"{spec.source}: point ({label}): {exc}") from exc
        if cfg.models is not None:
            unknown = [m for m in cfg.models if m not in models]
            if unknown:
                raise SweepError(f"{spec.source}: point ({label}): model(s) {unknown} not in "
                                 f"dataset {spec.dataset!r}, which has {models}")
        capped_from = None
        min_history = max(cfg.top_k, math.ceil(MIN_HISTORY_FRACTION * n))
        if n - cfg.test_size < min_history:
            if not spec.cap_test_size:
                raise SweepError(
                    f"{spec.where('grid.test_size' if 'test_size' in spec.grid else 'base')}: "
                    f"point ({label}): test size {cfg.test_size} leaves {n - cfg.test_size} of "
                    f"the {n} queries of {spec.dataset!r} as history, fewer than "
                    f"{min_history}; lower it or set `cap_test_size: true`")
            capped_from = cfg.test_size
            cfg = cfg.with_changes(test_size=n - min_history)
            params["test_size"] = cfg.test_size
        key = cfg.run_key()
        if key in seen:
            continue
        seen.add(key)
        points.append(SweepPoint(index=len(points), config=cfg, params=params,
                                 capped_from=capped_from))
    return points


# --------------------------------------------------------------------------- running
def is_finished(run_dir: Path, config: SimConfig) -> bool:
    """Whether ``run_dir`` holds a finished run with every seed of ``config``."""
    if not is_run_dir(run_dir):
        return False
    manifest_file = run_dir / MANIFEST_FILE
    try:
        done = set(io.read_json(manifest_file).get("seeds_done", []))
    except ValueError:
        return False
    return set(config.seeds) <= done


def default_runner() -> Runner:
    """``routebench.simulate.run_simulation``, imported only when a sweep runs."""
    from routebench import simulate

    return simulate.run_simulation


def _run_point(runner: Runner, config: SimConfig, data_dir: Path, results_root: Path,
               force: bool) -> Path:
    return runner(config, data_dir=data_dir, results_root=results_root, force=force,
                  progress=False)


def default_out_dir(spec: SweepSpec, results_root: str | os.PathLike[str]) -> Path:
    return Path(results_root) / "sweeps" / f"{spec.name}-{spec.dataset}"


@dataclass
class SweepOutcome:
    """Run folders of every point, which were computed now and which were already finished."""

    points: list[SweepPoint]
    run_dirs: list[Path]
    ran: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    out_dir: Path | None = None


def _sweep_record(spec: SweepSpec, points: Sequence[SweepPoint], results_root: Path,
                  out_dir: Path, status: dict[int, str]) -> dict[str, Any]:
    def rel(p: Path) -> str:
        return os.path.relpath(p.resolve(), out_dir.resolve())

    return {
        "sweep": spec.name,
        "source": str(spec.source),
        "dataset": spec.dataset,
        "description": spec.description,
        "capped": [{"index": p.index, "test_size": p.config.test_size,
                    "requested": p.capped_from} for p in points if p.capped_from is not None],
        "points": [
            {"index": p.index, "run_key": p.config.run_key(),
             "run_dir": rel(p.run_dir(results_root)), "params": p.params,
             "capped_from": p.capped_from, "status": status.get(p.index, "pending")}
            for p in points
        ],
    }


def run_sweep(spec: SweepSpec, *, data_dir: str | os.PathLike[str],
              results_root: str | os.PathLike[str], out_dir: str | os.PathLike[str] | None = None,
              jobs: int = 1, force: bool = False, runner: Runner | None = None,
              progress: bool = True, console: Console | None = None) -> SweepOutcome:
    """Run every point not yet finished (all with ``force``) and write ``sweep.json`` to
    ``out_dir`` (default ``results/sweeps/<file stem>-<dataset>``). ``jobs`` > 1 runs points in
    a local process pool. Interrupting keeps every finished point; re-running resumes."""
    if jobs < 1:
        raise SweepError(f"--jobs must be at least 1, got {jobs}")
    data_dir, results_root = Path(data_dir), Path(results_root)
    points = expand(spec, data_dir)
    out = Path(out_dir) if out_dir is not None else default_out_dir(spec, results_root)
    runner = runner or default_runner()
    status: dict[int, str] = {}
    outcome = SweepOutcome(points=points, run_dirs=[p.run_dir(results_root) for p in points],
                           out_dir=out)
    todo = []
    for p in points:
        if not force and is_finished(p.run_dir(results_root), p.config):
            status[p.index] = "done"
            outcome.skipped.append(p.index)
        else:
            todo.append(p)
    io.write_json(out / "sweep.json", _sweep_record(spec, points, results_root, out, status))
    console = console or Console(stderr=True)
    try:
        with Progress(TextColumn("[bold]sweep[/] {task.description}"), BarColumn(),
                      MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                      disable=not progress) as bar:
            task = bar.add_task(f"{spec.name} on {spec.dataset}", total=len(points),
                                completed=len(points) - len(todo))
            if jobs == 1 or len(todo) <= 1:
                for p in todo:
                    bar.update(task, description=f"{spec.name}: {p.config.run_key()}")
                    _run_point(runner, p.config, data_dir, results_root, force)
                    status[p.index] = "done"
                    outcome.ran.append(p.index)
                    bar.advance(task)
            else:
                # spawn, not fork: the progress bar's thread may hold a lock at fork time.
                ctx = multiprocessing.get_context("spawn")
                with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
                    running = {pool.submit(_run_point, runner, p.config, data_dir, results_root,
                                           force): p for p in todo}
                    try:
                        while running:
                            finished, _ = wait(running, return_when=FIRST_COMPLETED)
                            for fut in finished:
                                p = running.pop(fut)
                                fut.result()
                                status[p.index] = "done"
                                outcome.ran.append(p.index)
                                bar.advance(task)
                    except BaseException:
                        for fut in running:
                            fut.cancel()
                        raise
    finally:
        io.write_json(out / "sweep.json", _sweep_record(spec, points, results_root, out, status))
    return outcome
