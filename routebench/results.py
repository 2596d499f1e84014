"""Reading results folders: the one loader that report, plot and sweep share.

A run folder (``results/<run-key>/``, see ``docs/CONTRACTS.md``) holds ``manifest.json`` (written
last, so its presence means the run finished), ``results.parquet`` (long format: ``router``,
``seed``, ``metric``, ``llm``, ``value``), optionally ``trace.parquet`` (cumulative spend in USD
along the stream) and ``summary.csv``. A sweep folder holds ``sweep.json`` listing its run folders.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from routebench import io
from routebench.config import ALL_ROUTERS, ConfigError, SimConfig, from_stored
from routebench.errors import ParamError

MANIFEST_FILE = "manifest.json"
RESULTS_FILE = "results.parquet"
TRACE_FILE = "trace.parquet"
SUMMARY_FILE = "summary.csv"
SWEEP_FILE = "sweep.json"

RESULTS_COLUMNS = ("router", "seed", "metric", "llm", "value")
TRACE_COLUMNS = ("router", "seed", "position", "llm", "spend")


class ResultsError(ValueError):
    """A results folder that is missing, unfinished or not in the documented schema."""


@dataclass(frozen=True, eq=False)
class Run:
    """One finished simulate run, as read from its folder.

    ``results`` is the long frame of ``results.parquet``; ``trace`` the cumulative spend (USD) per
    router and LLM along the stream for the first seed, or None when the folder has none;
    ``summary`` the frame of ``summary.csv`` or None.
    """

    path: Path
    manifest: dict[str, Any]
    results: pd.DataFrame
    trace: pd.DataFrame | None
    summary: pd.DataFrame | None

    @property
    def config(self) -> dict[str, Any]:
        """Every ``SimConfig`` field of the run, as stored in the manifest."""
        return dict(self.manifest.get("config", {}))

    @cached_property
    def sim_config(self) -> SimConfig:
        """The run's ``SimConfig`` (fields of other routebench versions ignored; checked when
        the run was loaded)."""
        return from_stored(self.config)

    @property
    def key(self) -> str:
        return str(self.manifest.get("run_key") or self.path.name)

    @property
    def dataset(self) -> str:
        return str(self.config.get("dataset", "?"))

    @property
    def seeds(self) -> list[int]:
        return sorted(int(s) for s in self.results["seed"].unique())

    @property
    def routers(self) -> list[str]:
        """Routers present in the results (online routers and oracles), in table order."""
        present = set(self.results["router"])
        return [r for r in ALL_ROUTERS if r in present]

    @property
    def llms(self) -> list[str]:
        """The deployed LLMs: the manifest's list, else the per-LLM rows of the results."""
        models = self.manifest.get("models")
        if models:
            return [str(m) for m in models]
        names = self.results.loc[self.results["llm"] != "", "llm"].unique()
        return [str(n) for n in names]

    def whole(self) -> pd.DataFrame:
        """Whole-stream rows (``llm == ""``)."""
        return self.results[self.results["llm"] == ""]

    def values(self, router: str, metric: str) -> np.ndarray:
        """Per-seed values of one whole-stream metric of one router, ordered by seed."""
        rows = self.results[
            (self.results["router"] == router)
            & (self.results["metric"] == metric)
            & (self.results["llm"] == "")
        ].sort_values("seed")
        return rows["value"].to_numpy(dtype=np.float64)


# --------------------------------------------------------------------------- statistics
def t_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high) of one sample: the mean and its two-sided Student-t interval
    (``routebench.metrics.mean_ci``); NaN bounds for one value, NaN values ignored."""
    from routebench.metrics import mean_ci

    out = mean_ci(pd.DataFrame({"group": 0, "value": np.asarray(values, dtype=np.float64)}),
                  ["group"], confidence=level)
    if out.empty:
        return math.nan, math.nan, math.nan
    row = out.iloc[0]
    return float(row["mean"]), float(row["ci_low"]), float(row["ci_high"])


def summarise_run(run: Run) -> pd.DataFrame:
    """Per router and whole-stream metric: ``mean``, ``ci_low``, ``ci_high`` (95 % t-interval
    over seeds, ``routebench.metrics.summarise``) and ``n_seeds``."""
    from routebench.metrics import summarise

    return summarise(run.whole())


# --------------------------------------------------------------------------- loading
def is_run_dir(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a finished run folder (manifest and results present)."""
    p = Path(path)
    return (p / MANIFEST_FILE).is_file() and (p / RESULTS_FILE).is_file()


def _check_columns(frame: pd.DataFrame, want: Sequence[str], file: Path) -> None:
    missing = [c for c in want if c not in frame.columns]
    if missing:
        raise ResultsError(
            f"{file}: column(s) {missing} missing; expected columns {list(want)} "
            "(see docs/CONTRACTS.md)"
        )


def _read_parquet(file: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(file)
    except Exception as exc:  # pyarrow raises several types for a corrupt file
        raise ResultsError(f"{file}: cannot read Parquet ({exc})") from exc


def _check_manifest(manifest: dict[str, Any], file: Path) -> None:
    """Refuse a manifest whose config or summary fields are not what simulate writes (an edited
    or damaged file must not be reported as if it were a run)."""
    damaged = "(the manifest was edited or is damaged; re-run simulate with --force)"
    try:
        from_stored(manifest["config"])
    except ParamError as exc:
        raise ResultsError(f"{file}: config key {exc.param!r}: {exc.detail} {damaged}") from None
    except ConfigError as exc:
        raise ResultsError(f"{file}: config: {exc} {damaged}") from None
    models = manifest.get("models")
    if models is not None and (not isinstance(models, list)
                               or not all(isinstance(m, str) for m in models)):
        raise ResultsError(f"{file}: 'models' must be a list of LLM names {damaged}")
    for key in ("n_test", "n_history"):
        value = manifest.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 0):
            raise ResultsError(f"{file}: {key!r} must be a count of queries, got {value!r} "
                               f"{damaged}")
    budget = manifest.get("total_budget_usd")
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, (int, float))
                               or not math.isfinite(budget) or budget < 0):
        raise ResultsError(f"{file}: 'total_budget_usd' must be a USD amount >= 0, got "
                           f"{budget!r} {damaged}")


def load_run(path: str | os.PathLike[str]) -> Run:
    """Read one finished run folder; a clear ``ResultsError`` names the folder and what is
    missing (an unfinished run has no manifest yet)."""
    path = Path(path)
    if not path.is_dir():
        raise ResultsError(f"{path}: no such results folder")
    manifest_file = path / MANIFEST_FILE
    results_file = path / RESULTS_FILE
    missing = [f.name for f in (manifest_file, results_file) if not f.is_file()]
    if missing:
        hint = (
            " (the run has not finished: re-run simulate or the sweep to complete it)"
            if (path / "config.json").exists() or (path / "seeds").exists()
            else ""
        )
        raise ResultsError(f"{path}: not a finished run folder, missing {missing}{hint}")
    manifest = io.read_json(manifest_file)
    if not isinstance(manifest, dict) or not isinstance(manifest.get("config"), dict):
        raise ResultsError(f"{manifest_file}: expected a JSON object with a 'config' object")
    _check_manifest(manifest, manifest_file)
    results = _read_parquet(results_file)
    _check_columns(results, RESULTS_COLUMNS, results_file)
    results = results.astype({"router": str, "metric": str, "seed": "int64", "value": "float64"})
    results["llm"] = results["llm"].fillna("").astype(str)
    if results.empty:
        raise ResultsError(f"{results_file}: no rows")
    trace = None
    if (path / TRACE_FILE).is_file():
        trace = _read_parquet(path / TRACE_FILE)
        _check_columns(trace, TRACE_COLUMNS, path / TRACE_FILE)
    summary = None
    if (path / SUMMARY_FILE).is_file():
        summary = pd.read_csv(path / SUMMARY_FILE)
    return Run(path=path, manifest=manifest, results=results, trace=trace, summary=summary)


def _sweep_note(path: Path, sweep: dict[str, Any], missing: list[dict[str, Any]],
                total: int) -> str:
    """The note for a sweep folder some of whose points have not finished."""
    shown = [str(p.get("index", "?")) for p in missing[:10]]
    more = ", ..." if len(missing) > 10 else ""
    failed = [p for p in missing if p.get("status") == "failed"]
    why = ""
    if failed:
        first = failed[0]
        why = (f"; {len(failed)} failed, e.g. point {first.get('index', '?')}: "
               f"{str(first.get('error', 'no error recorded')).splitlines()[0][:300]}")
    command = sweep.get("command")
    if not command:
        source = sweep.get("source") or "<config>"
        command = f"routebench sweep {source}"
        if sweep.get("dataset"):
            command += f" --dataset {sweep['dataset']}"
    return (f"sweep {path}: {len(missing)} of {total} points have not finished (point"
            f"{'s' if len(missing) > 1 else ''} {', '.join(shown)}{more}){why}; re-run "
            f"`{command}` to complete them")


def find_run_dirs(path: str | os.PathLike[str], notes: list[str] | None = None) -> list[Path]:
    """The run folders behind ``path``: itself if it is one; the runs a ``sweep.json`` lists;
    else every finished run folder below it (sorted). Refuses a path holding none. When
    ``notes`` is given, a sweep folder whose points have not all finished (interrupted,
    failed or still running) appends a note saying which, and how to complete them."""
    path = Path(path)
    if not path.exists():
        raise ResultsError(f"{path}: no such file or folder")
    if is_run_dir(path):
        return [path]
    sweep_file = path / SWEEP_FILE
    if sweep_file.is_file():
        sweep = io.read_json(sweep_file)
        if not isinstance(sweep, dict) or not isinstance(sweep.get("points", []), list):
            raise ResultsError(f"{sweep_file}: expected a JSON object with a 'points' list")
        points = sweep.get("points", [])
        dirs, missing = [], []
        for point in points:
            run_dir = Path(point["run_dir"])
            run_dir = run_dir if run_dir.is_absolute() else path / run_dir
            if is_run_dir(run_dir):
                dirs.append(run_dir)
            else:
                missing.append(point)
        if not dirs:
            raise ResultsError(
                f"{sweep_file}: none of its {len(points)} run folders has "
                "finished; run the sweep first"
            )
        if missing and notes is not None:
            notes.append(_sweep_note(path, sweep, missing, len(points)))
        return dirs
    found = sorted(p.parent for p in path.rglob(MANIFEST_FILE) if is_run_dir(p.parent))
    if not found:
        raise ResultsError(
            f"{path}: holds no finished run folder (a run folder has {MANIFEST_FILE} and "
            f"{RESULTS_FILE}; a sweep folder has {SWEEP_FILE})"
        )
    return found


def load_runs(paths: Iterable[str | os.PathLike[str]],
              notes: list[str] | None = None) -> list[Run]:
    """Load every run behind ``paths`` (run folders, sweep folders or parents such as
    ``results/``), each run once, in the order given. ``notes``, when given, collects what the
    caller should tell the user (see :func:`find_run_dirs`), e.g. that a sweep is incomplete."""
    seen: set[Path] = set()
    runs = []
    for p in paths:
        for d in find_run_dirs(p, notes):
            real = d.resolve()
            if real not in seen:
                seen.add(real)
                runs.append(load_run(d))
    if not runs:
        raise ResultsError("no results folder given")
    return runs


# --------------------------------------------------------------------------- comparing runs
def _canonical(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_canonical(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _canonical(v)) for k, v in value.items()))
    return value


def varying_parameters(runs: Sequence[Run], ignore: Iterable[str] = ()) -> list[str]:
    """Config fields whose values differ between ``runs`` (sorted), ignoring ``ignore``."""
    skip = set(ignore)
    keys = sorted({k for r in runs for k in r.config} - skip)
    return [k for k in keys if len({_canonical(r.config.get(k)) for r in runs}) > 1]


def config_without(run: Run, names: Iterable[str]) -> tuple[Any, ...]:
    """A hashable view of the run's config with the fields ``names`` left out: runs that share
    it differ only in those fields."""
    skip = set(names)
    return tuple(sorted((k, _canonical(v)) for k, v in run.config.items() if k not in skip))


#: Display names of routers and bound pseudo-routers, as the paper writes them.
ROUTER_LABELS: dict[str, str] = {
    "random": "Random",
    "greedy-perf": "Greedy-Perf",
    "greedy-cost": "Greedy-Cost",
    "knn-perf": "KNN-Perf",
    "knn-cost": "KNN-Cost",
    "batch-split": "BatchSplit",
    "port": "PORT",
    "approx-opt": "Approx Optimum (C^_opt)",
    "opt": "Optimum (C_opt)",
    "lp-bound": "LP bound",
    "milp": "MILP optimum",
}


def router_label(router: str) -> str:
    return ROUTER_LABELS.get(router, router)


def n_llms(run: Run) -> int:
    """Number of deployed LLMs in the run."""
    return len(run.llms)


def param_value(run: Run, param: str) -> Any:
    """The value of one config field as tables and plots show it: ``models`` as the number of
    LLMs, ``split`` with its k for the extreme split, lists as comma-joined text."""
    cfg = run.config
    if param == "models":
        return n_llms(run)
    if param == "split" and cfg.get("split") == "extreme":
        return f"extreme{cfg.get('extreme_k', 1)}"
    value = cfg.get(param)
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return value
