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

Embedder and index parameters (what ``simulate``'s ``--dim``, ``--hnsw-m``,
``--ef-construction``, ``--ef-search``, ``--nlist``, ``--nprobe``, ``--pq``, ``--pq-m`` set) are
mappings under the keys ``embedder_params`` and ``index_params``, in ``base``, a case or as grid
values, e.g.::

    base:
      index: hnsw
      embedder_params: {dim: 128}
    grid:
      index_params: [{ef_search: 10}, {ef_search: 50}]

The keys are those of ``routebench.embed.EmbedSpec`` (tfidf: ``dim``, ``seed``,
``max_features``, ``min_df``, ``ngram_max``; sentence-transformers: ``max_seq_length``) and of
``routebench.index.IndexSpec`` (hnsw: ``m``, ``ef_construction``, ``ef_search``; ivf: ``nlist``,
``nprobe``, ``pq``, ``pq_m``, ``pq_bits``); they are checked when a point runs. Search parameters
(``ef_search``, ``nprobe``) reuse the index file built for the other parameters.

A sweep file is read strictly: a key given twice in a mapping is refused (plain YAML keeps the
last one), and every value (each one of a grid list) is type-checked by ``SimConfig`` on its own;
errors name the file, the line and the key (``grid.top_k``, ``base.top_k``, ``cases.2.top_k``),
or ``--set KEY`` for a command-line override.

``sweep.json`` (in the sweep's output folder) is rewritten atomically whenever a point starts,
finishes or fails: ``state`` (``running``, ``finished``, ``failed``, ``interrupted``; a
``running`` file whose ``pid`` is gone was killed), ``counts`` (``done``, ``failed``,
``running``, ``pending``, ``total``), ``command`` (to re-run it) and per point its ``index``,
``params``, ``run_key``, ``run_dir`` (relative to the file), ``status`` (``pending``,
``running``, ``done``, ``failed``) and, for a failed point, ``error``. Readers should trust the
run folders (``results.is_run_dir``) over the statuses.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import shlex
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from routebench import io
from routebench.config import LEGACY_ROUTER_PARAMS, ConfigError, ConfigParamError, SimConfig
from routebench.dataset import CARD_FILE, dataset_dir
from routebench.dataset import read_card as read_dataset_card
from routebench.errors import ParamError
from routebench.results import SWEEP_FILE, is_finished_run, is_run_dir
from routebench.workers import local_pool, stop_pool

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


class SweepFailed(SweepError):
    """Some points of a sweep raised; the others ran. ``outcome`` tells which (its ``failed``
    maps each failed point's index to its error); ``sweep.json`` records the same."""

    def __init__(self, message: str, outcome: SweepOutcome) -> None:
        super().__init__(message)
        self.outcome = outcome


# --------------------------------------------------------------------------- YAML with lines
class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A mapping that names the same key twice (plain YAML would keep the last value)."""

    def __init__(self, key: Any, first: yaml.Mark, second: yaml.Mark) -> None:
        self.key = key
        self.first_line = first.line + 1
        self.second_line = second.line + 1
        super().__init__(None, None, f"duplicate key {key!r} on lines {self.first_line} and "
                         f"{self.second_line}", second)


class StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a mapping with a repeated key (naming the key and both
    lines) instead of silently keeping the last value."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, yaml.Node] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # `<<: *anchor` merges are meant to be overridden
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:
                    continue  # unhashable: the base class reports it
                if first is not None:
                    raise DuplicateKeyError(key, first.start_mark, key_node.start_mark)
                seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str) -> tuple[Any, yaml.Node | None]:
    """Parse one YAML document with :class:`StrictLoader`: (data, node tree for the lines)."""
    loader = StrictLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    return data, node


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
    """A parsed, validated sweep file. ``lines`` maps dotted keys to their line in ``source``;
    ``overrides`` holds the ``--set`` values already merged into ``base`` or ``grid``."""

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
    overrides: dict[str, Any] = field(default_factory=dict)

    def where(self, key: str) -> str:
        line = self.lines.get(key)
        return f"{self.source}, line {line}" if line else str(self.source)

    def origin(self, param: str, case_index: int | None = None) -> str:
        """Where a point's value of ``param`` comes from: ``cases.<i>.<param>``,
        ``grid.<param>``, ``--set <param>``, ``base.<param>``, or "" (the default)."""
        if case_index is not None and case_index < len(self.cases) \
                and param in self.cases[case_index]:
            return f"cases.{case_index}.{param}"
        if param in self.overrides and (param in self.base or param in self.grid):
            # a single --set value for a swept parameter is ignored: the grid's values stand
            if param not in self.grid or isinstance(self.overrides[param], list):
                return f"--set {param}"
        if param in self.grid:
            return f"grid.{param}"
        if param in self.base:
            return f"base.{param}"
        return ""

    def located(self, origin: str) -> str:
        """``<file>, line <n>: `base.top_k``` (or ``<file>: --set top_k``) for an origin."""
        if not origin:
            return str(self.source)
        if origin.startswith("--set "):
            return f"{self.source}: {origin}"
        return f"{self.where(origin)}: `{origin}`"


def _check_params(mapping: Any, section: str, path: Path, lines: dict[str, int]) -> None:
    if not isinstance(mapping, dict):
        raise SweepError(f"{path}, line {lines.get(section, '?')}: `{section}` must be a mapping "
                         "of simulate parameters")
    for key in mapping:
        if not is_param(key):
            line = lines.get(f"{section}.{key}", lines.get(section))
            at = f"{path}, line {line}" if line else str(path)
            raise SweepError(
                f"{at}: unknown parameter {key!r} in `{section}`; known: {', '.join(PARAMS)}"
            )


def is_param(key: Any) -> bool:
    """Whether ``key`` may appear in a sweep: a ``SimConfig`` field, a router parameter as
    ``ROUTER.PARAM`` (``port.eps``), or a shorthand of earlier versions (``eps``)."""
    return isinstance(key, str) and (key in PARAMS or key in LEGACY_ROUTER_PARAMS
                                     or ("." in key and all(key.split("."))))


def _router_param(key: str) -> tuple[str, str] | None:
    if key in LEGACY_ROUTER_PARAMS:
        return LEGACY_ROUTER_PARAMS[key]
    if "." in key:
        router, _, param = key.rpartition(".")
        return router, param
    return None


def _check_value(param: str, value: Any) -> None:
    """Check one parameter value on its own: its type, and the ranges that do not depend on
    other parameters (``ConfigParamError`` naming ``param``). What depends on the other
    parameters of a point (the extreme split's k, test size against the dataset) is checked
    per point by :func:`expand`."""
    target = _router_param(param)
    if target is not None:  # checked by the router's own parameter class
        from routebench.routers import RouterError, resolve_params

        try:
            resolve_params(target[0], {target[1]: value})
        except ParamError as exc:
            raise ConfigParamError(param, exc.detail) from None
        except RouterError as exc:
            raise ConfigParamError(param, str(exc)) from None
        return
    probe = {"dataset": "probe", param: value}
    if param == "extreme_k":
        probe["split"] = "extreme"  # only the extreme split takes a k other than 1
    try:
        SimConfig.from_dict(probe)
    except ConfigParamError as exc:
        if exc.param == param:
            raise
    except ConfigError as exc:
        raise ConfigParamError(param, str(exc)) from exc


def _value_error(located: str, exc: ConfigParamError, value: Any = None,
                 show_value: bool = False, label: str | None = None) -> SweepError:
    what = f" value {value!r}" if show_value else ""
    point = f" (point {label})" if label else ""
    return SweepError(f"{located}{what}{point}: {exc.detail}")


def parse_overrides(items: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """``["test_size=1500", "seeds=0-4"]`` -> a dict; values are read as YAML scalars."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SweepError(f"--set {item!r}: expected KEY=VALUE, e.g. --set test_size=1500")
        try:
            out[key.strip()] = load_yaml(value)[0]
        except yaml.YAMLError as exc:
            raise SweepError(f"--set {item!r}: value is not valid YAML ({exc})") from exc
    return out


def load_spec(path: str | os.PathLike[str], dataset: str | None = None,
              overrides: dict[str, Any] | None = None) -> SweepSpec:
    """Read and validate a sweep file; ``dataset`` overrides the file's default and
    ``overrides`` (``--set KEY=VALUE``) its ``base`` parameters; a list replaces the values of a
    parameter the grid sweeps, a single value for one is ignored with a note in
    ``SweepSpec.notes``. Malformed YAML, repeated keys, unknown keys or parameters and values
    of the wrong type (every value of a grid list) are refused with their line; a bad
    ``--set`` value is refused naming ``--set KEY``."""
    path = Path(path)
    if not path.is_file():
        raise SweepError(f"{path}: no such sweep file")
    text = path.read_text(encoding="utf-8")
    try:
        data, node = load_yaml(text)
    except DuplicateKeyError as exc:
        raise SweepError(f"{path}, line {exc.second_line}: duplicate key {exc.key!r} (also on "
                         f"line {exc.first_line}); give each key once") from exc
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
    overrides = dict(overrides or {})
    for key, value in overrides.items():
        if not is_param(key):
            raise SweepError(f"--set {key}: unknown parameter {key!r}; known: "
                             f"{', '.join(PARAMS)}")
        for v in value if isinstance(grid, dict) and key in grid and isinstance(value, list) \
                else [value]:
            try:
                _check_value(key, v)
            except ConfigParamError as exc:
                raise SweepError(f"--set {key}: {exc.detail}") from exc
    _check_params(base, "base", path, lines)
    _check_params(grid, "grid", path, lines)
    notes: list[str] = []
    if overrides:
        # A list replaces a grid's values; a single value cannot fix a swept parameter.
        grid = {**grid, **{k: v for k, v in overrides.items() if k in grid and isinstance(v, list)}}
        clash = sorted(k for k, v in overrides.items() if k in grid and not isinstance(v, list))
        if clash:
            notes.append(f"--set {', '.join(clash)} ignored: {path.name} sweeps "
                         f"{'it' if len(clash) == 1 else 'them'} in its grid")
        base = {**base, **{k: v for k, v in overrides.items() if k not in grid}}
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
    spec = SweepSpec(name=path.stem, dataset=str(name), source=path, base=dict(base),
                     grid={k: list(v) for k, v in grid.items()}, cases=[dict(c) for c in cases],
                     deployments=deployments, cap_test_size=cap,
                     description=str(data.get("description") or ""), lines=lines,
                     notes=notes, overrides=overrides)
    _check_values(spec)
    return spec


def _check_values(spec: SweepSpec) -> None:
    """Type-check every value of ``base``, of each grid list and of each case on its own."""
    for key, value in spec.base.items():
        try:
            _check_value(key, value)
        except ConfigParamError as exc:
            raise _value_error(spec.located(spec.origin(key)), exc) from exc
    for key, values in spec.grid.items():
        for value in values:
            try:
                _check_value(key, value)
            except ConfigParamError as exc:
                raise _value_error(spec.located(spec.origin(key)), exc, value,
                                   show_value=True) from exc
    for i, case in enumerate(spec.cases):
        for key, value in case.items():
            try:
                _check_value(key, value)
            except ConfigParamError as exc:
                raise _value_error(spec.located(f"cases.{i}.{key}"), exc) from exc


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
    directory = dataset_dir(dataset, data_dir)
    if not (directory / CARD_FILE).is_file():
        raise SweepError(f"{directory / CARD_FILE}: no dataset card; run `routebench download "
                         f"{dataset}` before the sweep")
    card = read_dataset_card(directory)  # the table itself is verified when a point loads it
    if not isinstance(card.get("n_queries"), int):
        raise SweepError(f"{directory / CARD_FILE}: card lacks `n_queries`")
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


def resolve_config(config: SimConfig) -> SimConfig:
    """The config a point runs with: every router parameter checked and completed by its router
    class (``routebench.simulate.resolve_config``, imported only when a sweep expands)."""
    from routebench.simulate import resolve_config as resolve

    return resolve(config)


def _check_estimate(config: SimConfig) -> None:
    """Check a point's embedder and index parameters (``routebench.estimate.EstimateSpec``)."""
    from routebench.estimate import EstimateSpec

    EstimateSpec.from_config(config)


def expand(spec: SweepSpec, data_dir: str | os.PathLike[str]) -> list[SweepPoint]:
    """Every point of the sweep as a validated ``SimConfig``, checked against the dataset's
    card before any work: unknown models, more LLMs than the dataset has, or a test size that
    leaves no history (unless ``cap_test_size``) are refused."""
    card = read_card(spec.dataset, data_dir)
    n, models = int(card["n_queries"]), [str(m) for m in card["models"]]
    keys = list(spec.grid)
    combos = [dict(zip(keys, vals, strict=True))
              for vals in itertools.product(*(spec.grid[k] for k in keys))]
    cases = list(enumerate(spec.cases)) or [(None, {})]
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
    for combo, (case_index, case), model_set in itertools.product(combos, cases, model_sets):
        params = {**combo, **case}
        full = _normalise({**spec.base, **params, "dataset": spec.dataset})
        if model_set != ():
            full["models"] = model_set
            params["models"] = "all" if model_set is None else ",".join(model_set)
        label = ", ".join(f"{k}={v}" for k, v in params.items()) or "base"
        try:
            cfg = resolve_config(SimConfig.from_dict(full))
        except ParamError as exc:
            origin = spec.origin(exc.param, case_index)
            if not origin and exc.param == "models" and spec.deployments is not None:
                origin = "deployments"
            if not origin:
                raise SweepError(f"{spec.source}: point ({label}): {exc}") from exc
            raise _value_error(spec.located(origin), exc, full.get(exc.param),
                               show_value=origin.startswith("grid."), label=label) from exc
        except (ConfigError, ValueError, TypeError) as exc:
            raise SweepError(f"{spec.source}: point ({label}): {exc}") from exc
        if cfg.models is not None:
            unknown = [m for m in cfg.models if m not in models]
            if unknown:
                raise SweepError(f"{spec.source}: point ({label}): model(s) {unknown} not in "
                                 f"dataset {spec.dataset!r}, which has {models}")
        deployed = len(cfg.models) if cfg.models is not None else len(models)
        if cfg.split == "extreme" and not cfg.extreme_k < deployed:
            note = (f"point ({label}) skipped: the extreme split with k={cfg.extreme_k} needs "
                    f"more than {deployed} LLMs, and {spec.dataset!r} deploys {deployed}")
            if note not in spec.notes:
                spec.notes.append(note)
            continue
        try:  # the embedder and index parameters, as simulate will check them
            _check_estimate(cfg)
        except ParamError as exc:
            origin = spec.origin(exc.param, case_index) or spec.origin(
                "index_params", case_index) or spec.origin("embedder_params", case_index)
            where = spec.located(origin) if origin else str(spec.source)
            raise SweepError(f"{where} (point {label}): {exc}") from exc
        capped_from = None
        min_history = max(cfg.top_k, math.ceil(MIN_HISTORY_FRACTION * n))
        if n - cfg.test_size < min_history:
            if not spec.cap_test_size:
                origin = spec.origin("test_size", case_index)
                raise SweepError(
                    f"{spec.located(origin) if origin else spec.where('base')}: "
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
    return is_finished_run(run_dir, config.seeds)


def default_runner() -> Runner:
    """``routebench.simulate.run_simulation``, imported only when a sweep runs."""
    from routebench import simulate

    return simulate.run_simulation


def _run_point(runner: Runner, config: SimConfig, data_dir: Path, results_root: Path,
               force: bool) -> Path:
    run_dir = runner(config, data_dir=data_dir, results_root=results_root, force=force,
                     progress=False)
    if is_run_dir(run_dir) and not (Path(run_dir) / "summary.md").is_file():
        from routebench.report import write_run_summary

        write_run_summary(run_dir)
    return run_dir


def default_out_dir(spec: SweepSpec, results_root: str | os.PathLike[str]) -> Path:
    return Path(results_root) / "sweeps" / f"{spec.name}-{spec.dataset}"


@dataclass
class SweepOutcome:
    """Run folders of every point, which were computed now, which were already finished and
    which failed (index -> error)."""

    points: list[SweepPoint]
    run_dirs: list[Path]
    ran: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    out_dir: Path | None = None
    failed: dict[int, str] = field(default_factory=dict)


#: Point statuses in ``sweep.json``.
STATUSES = ("pending", "running", "done", "failed")


def rerun_command(spec: SweepSpec) -> str:
    """The command that runs (or completes) this sweep again."""
    words = ["routebench", "sweep", str(spec.source), "--dataset", spec.dataset]
    for key, value in spec.overrides.items():
        if isinstance(value, str) and load_yaml(value)[0] == value:
            text = value  # reads back as the same string
        else:
            text = yaml.safe_dump(value, default_flow_style=True, width=10_000)
            text = text.strip().removesuffix("\n...").strip()
        words += ["--set", f"{key}={text}"]
    return " ".join(shlex.quote(w) for w in words)


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, BrokenProcessPool):
        return (f"BrokenProcessPool: the worker process died (killed, or out of memory?) "
                f"({exc})")
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 4000 else text[:4000] + " [...]"


class _SweepRecord:
    """``sweep.json``: the sweep's points and each one's status, rewritten atomically (temp file,
    then rename) whenever a point starts, finishes or fails, so it is never stale by more than
    one event and never half-written. Only the sweep's own process writes it."""

    def __init__(self, spec: SweepSpec, points: Sequence[SweepPoint], results_root: Path,
                 out_dir: Path) -> None:
        self.spec, self.points = spec, points
        self.results_root, self.out_dir = results_root, out_dir
        self.status: dict[int, str] = {p.index: "pending" for p in points}
        self.errors: dict[int, str] = {}
        self.state = "running"
        self.started = time.strftime("%Y-%m-%dT%H:%M:%S%z")

    def set(self, index: int, status: str, error: str | None = None) -> None:
        assert status in STATUSES, status
        self.status[index] = status
        if error is not None:
            self.errors[index] = error
        else:
            self.errors.pop(index, None)
        self.write()

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in STATUSES}
        for s in self.status.values():
            out[s] += 1
        return {**out, "total": len(self.points)}

    def write(self) -> None:
        out_dir = self.out_dir

        def rel(p: Path) -> str:
            return os.path.relpath(p.resolve(), out_dir.resolve())

        points = []
        for p in self.points:
            entry = {"index": p.index, "run_key": p.config.run_key(),
                     "run_dir": rel(p.run_dir(self.results_root)), "params": p.params,
                     "capped_from": p.capped_from, "status": self.status[p.index]}
            if p.index in self.errors:
                entry["error"] = self.errors[p.index]
            points.append(entry)
        spec = self.spec
        io.write_json(out_dir / SWEEP_FILE, {
            "sweep": spec.name,
            "source": str(spec.source),
            "dataset": spec.dataset,
            "description": spec.description,
            "overrides": spec.overrides,
            "command": rerun_command(spec),
            "state": self.state,
            "pid": os.getpid(),
            "started": self.started,
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "counts": self.counts(),
            "capped": [{"index": p.index, "test_size": p.config.test_size,
                        "requested": p.capped_from}
                       for p in self.points if p.capped_from is not None],
            "points": points,
        })


def run_sweep(spec: SweepSpec, *, data_dir: str | os.PathLike[str],
              results_root: str | os.PathLike[str], out_dir: str | os.PathLike[str] | None = None,
              jobs: int = 1, force: bool = False, runner: Runner | None = None,
              progress: bool = True, console: Console | None = None) -> SweepOutcome:
    """Run every point not yet finished (all with ``force``) and keep ``sweep.json`` in
    ``out_dir`` (default ``results/sweeps/<file stem>-<dataset>``) up to date: each point's
    status (``pending``, ``running``, ``done``, ``failed`` with its error) and their counts.
    ``jobs`` > 1 runs points in a local process pool whose workers exit when this process dies
    (:func:`routebench.workers.local_pool`). A point that raises is recorded as failed and the
    others still run; :class:`SweepFailed` is raised at the end. Interrupting keeps every
    finished point; re-running resumes."""
    if jobs < 1:
        raise SweepError(f"--jobs must be at least 1, got {jobs}")
    data_dir, results_root = Path(data_dir), Path(results_root)
    points = expand(spec, data_dir)
    out = Path(out_dir) if out_dir is not None else default_out_dir(spec, results_root)
    runner = runner or default_runner()
    outcome = SweepOutcome(points=points, run_dirs=[p.run_dir(results_root) for p in points],
                           out_dir=out)
    record = _SweepRecord(spec, points, results_root, out)
    todo = []
    for p in points:
        if not force and is_finished(p.run_dir(results_root), p.config):
            record.status[p.index] = "done"
            outcome.skipped.append(p.index)
        else:
            todo.append(p)
    record.write()
    console = console or Console(stderr=True)

    def finish(p: SweepPoint, exc: BaseException | None) -> None:
        if exc is None:
            record.set(p.index, "done")
            outcome.ran.append(p.index)
        else:
            outcome.failed[p.index] = _error_text(exc)
            record.set(p.index, "failed", outcome.failed[p.index])

    try:
        with Progress(TextColumn("[bold]sweep[/] {task.description}"), BarColumn(),
                      MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                      disable=not progress) as bar:
            task = bar.add_task(f"{spec.name} on {spec.dataset}", total=len(points),
                                completed=len(points) - len(todo))
            if jobs == 1 or len(todo) <= 1:
                for p in todo:
                    bar.update(task, description=f"{spec.name}: {p.config.run_key()}")
                    record.set(p.index, "running")
                    try:
                        _run_point(runner, p.config, data_dir, results_root, force)
                    except Exception as exc:
                        finish(p, exc)
                    else:
                        finish(p, None)
                    bar.advance(task)
            else:
                _run_pool(todo, min(jobs, len(todo)), runner, data_dir, results_root, force,
                          record, finish, lambda: bar.advance(task))
        record.state = "failed" if outcome.failed else "finished"
    except BaseException:
        record.state = "interrupted"
        for index, status in record.status.items():
            if status == "running":  # not finished: it runs again next time
                record.status[index] = "pending"
        raise
    finally:
        record.write()
    if outcome.failed:
        lines = [f"point {i} ({_label(points[i])}): {err}" for i, err in outcome.failed.items()]
        raise SweepFailed(
            f"{len(outcome.failed)} of {len(points)} point(s) of {spec.source} failed (the "
            f"others ran; {out / SWEEP_FILE} lists them); fix the cause and re-run "
            f"`{rerun_command(spec)}`:\n  " + "\n  ".join(lines), outcome)
    return outcome


def _label(p: SweepPoint) -> str:
    return ", ".join(f"{k}={v}" for k, v in p.params.items()) or "base"


def _run_pool(todo: Sequence[SweepPoint], jobs: int, runner: Runner, data_dir: Path,
              results_root: Path, force: bool, record: _SweepRecord,
              finish: Callable[[SweepPoint, BaseException | None], None],
              advance: Callable[[], None]) -> None:
    """Run ``todo`` in a :func:`local_pool` of ``jobs`` workers, at most ``jobs`` points
    submitted at a time (so ``running`` in ``sweep.json`` means running, and an interrupt has
    no queue to drain). A pool broken by a dead worker fails the points it was running and is
    replaced. On an interrupt the workers are stopped at once."""
    queue = list(todo)
    running: dict[Future[Path], SweepPoint] = {}
    pool: ProcessPoolExecutor | None = None
    try:
        while queue or running:
            while queue and len(running) < jobs:
                if pool is None:
                    pool = local_pool(jobs)
                p = queue.pop(0)
                try:
                    fut = pool.submit(_run_point, runner, p.config, data_dir, results_root, force)
                except BrokenProcessPool:
                    queue.insert(0, p)
                    pool.shutdown(wait=True)
                    pool = None
                    continue
                running[fut] = p
                record.set(p.index, "running")
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                p = running.pop(fut)
                exc = fut.exception()
                if exc is not None and not isinstance(exc, Exception):
                    raise exc  # a KeyboardInterrupt in a worker: Ctrl-C reached the workers
                finish(p, exc)
                advance()
                if isinstance(exc, BrokenProcessPool) and pool is not None:
                    pool.shutdown(wait=True)
                    pool = None
    except BaseException:
        if pool is not None:
            stop_pool(pool)
            pool = None
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
