"""Results folders, both ways: the run store that ``simulate`` writes through and the one loader
that report, plot and sweep share.

A run folder (``results/<run-key>/``, see ``docs/CONTRACTS.md``; the key is
``SimConfig.run_key()``) holds ``config.json`` (written when the run starts), ``seeds/`` (one
``<seed>.parquet`` and ``<seed>.trace.parquet`` per finished seed, so an interrupted run
resumes), and, once every seed is done, ``results.parquet`` (long format: ``router``, ``seed``,
``metric``, ``llm``, ``value``), ``trace.parquet`` (cumulative spend in USD along the stream),
``summary.csv`` and last ``manifest.json``, whose presence means the run finished. A run that
stopped before its first seed finished leaves no folder. A sweep folder holds ``sweep.json``
listing its run folders.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import math
import os
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from routebench import catalogue, io
from routebench.config import ConfigError, SimConfig, from_stored
from routebench.errors import ParamError

MANIFEST_FILE = "manifest.json"
RESULTS_FILE = "results.parquet"
TRACE_FILE = "trace.parquet"
SUMMARY_FILE = "summary.csv"
SWEEP_FILE = "sweep.json"
FRONTIER_FILE = "frontier.parquet"
#: The estimates' reliability curve per LLM (``metrics.reliability``): written by simulate.
CALIBRATION_FILE = "calibration.parquet"
CALIBRATION_COLUMNS = ("llm", "bin", "mean_estimate", "mean_outcome", "count")
CONFIG_FILE = "config.json"
STATUS_FILE = "status.json"
SEEDS_DIR = "seeds"

RESULTS_COLUMNS = ("router", "seed", "metric", "llm", "value")
TRACE_COLUMNS = ("router", "seed", "position", "llm", "spend")
FRONTIER_COLUMNS = ("cost", "performance")


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
    #: The offline cost-quality frontier (``cost`` USD, best ``performance``), or None.
    frontier: pd.DataFrame | None = None
    #: The reliability curve of the performance estimates per LLM (``CALIBRATION_COLUMNS``),
    #: or None.
    calibration: pd.DataFrame | None = None

    @property
    def config(self) -> dict[str, Any]:
        """Every ``SimConfig`` field of the run, as stored in the manifest."""
        return dict(self.manifest.get("config", {}))

    @property
    def parameters(self) -> dict[str, Any]:
        """The run's parameters as tables and sweeps name them: the config with each router
        parameter as ``ROUTER.PARAM`` (``port.eps``) in place of the ``router_params`` map."""
        out = self.config
        nested = out.pop("router_params", None)
        if isinstance(nested, dict):
            for router, params in nested.items():
                if isinstance(params, dict):
                    out.update({f"{router}.{k}": v for k, v in params.items()})
        return out

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
    def router_entries(self) -> dict[str, dict[str, Any]]:
        """How the run's routers are shown (label, colour, kind), as simulate stored them."""
        stored = self.manifest.get("routers")
        return stored if isinstance(stored, dict) else {}

    @property
    def routers(self) -> list[str]:
        """Routers present in the results (online routers and oracles; not the bounds), in
        display order (``routebench.catalogue``)."""
        stored = self.router_entries
        present = [r for r in pd.unique(self.results["router"])
                   if catalogue.kind(r, stored) != "bound"]
        return catalogue.ordered(present, stored)

    def online(self) -> list[str]:
        """The run's online routers, in display order."""
        return [r for r in self.routers if self.kind(r) == "online"]

    def label(self, router: str) -> str:
        return catalogue.label(router, self.router_entries)

    def colour(self, router: str) -> str:
        return catalogue.colour(router, self.router_entries)

    def kind(self, router: str) -> str:
        return catalogue.kind(router, self.router_entries)

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


# --------------------------------------------------------------------------- writing
def git_commit() -> str:
    """The commit of the routebench checkout in use, or "unknown" when routebench is installed
    (from a wheel, possibly inside some other git repository, whose commit must not be
    recorded)."""
    package = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "--show-toplevel", "HEAD"],
                             capture_output=True, text=True, timeout=5, cwd=package)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    lines = out.stdout.split()
    if out.returncode != 0 or len(lines) != 2 or Path(lines[0]).resolve() != package.parent:
        return "unknown"
    return lines[1]


def versions() -> dict[str, str]:
    """Versions of routebench and of the libraries behind its numbers."""
    out = {}
    for pkg in ("routebench", "numpy", "scipy", "pandas", "pyarrow", "faiss-cpu", "highspy",
                "scikit-learn", "numba"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = "absent"
    return out


@dataclass(frozen=True)
class RunStore:
    """The folder of one run, ``results_root / config.run_key()``, and how it is written:
    ``begin`` (config.json and seeds/), ``store_seed`` per finished seed, ``finish`` (the
    combined results, the summary and the manifest, last), ``discard_if_empty`` after a run
    that stopped before any seed finished. Every file is written atomically."""

    results_root: Path
    config: SimConfig

    @property
    def path(self) -> Path:
        return Path(self.results_root) / self.config.run_key()

    @property
    def seeds_dir(self) -> Path:
        return self.path / SEEDS_DIR

    def is_finished(self) -> bool:
        """Whether the folder holds a finished run with every seed of the config."""
        return is_finished_run(self.path, self.config.seeds)

    def stored_seeds(self) -> list[int]:
        """Every seed whose results are stored in the folder (sorted): those of this config and
        those of earlier runs of the same configuration with other seeds."""
        if not self.seeds_dir.is_dir():
            return []
        return sorted(int(p.name.split(".")[0]) for p in self.seeds_dir.glob("*.parquet")
                      if p.name.split(".")[0].isdigit() and p.name.count(".") == 1)

    def finished_seeds(self) -> list[int]:
        """The config's seeds whose results are stored (in config order)."""
        stored = set(self.stored_seeds())
        return [s for s in self.config.seeds if s in stored]

    def mark(self, state: str, error: str = "") -> None:
        """Record why a run stopped before finishing (``interrupted`` or ``failed`` with the
        error) in ``status.json``, which ``routebench runs`` shows; ``finish`` removes it."""
        io.write_json(self.path / STATUS_FILE, {"state": state, "error": error,
                                               "seeds_done": self.stored_seeds()})

    def remove(self) -> None:
        if self.path.exists():
            shutil.rmtree(self.path)

    def begin(self) -> bool:
        """Create the folder and write ``config.json`` (the config with every seed the run will
        hold); whether the folder is new. A finished run that gets more seeds stays a finished
        run of its earlier seeds until ``finish`` writes it again with all of them."""
        created = not self.path.exists()
        self.seeds_dir.mkdir(parents=True, exist_ok=True)
        seeds = sorted(set(self.stored_seeds()) | set(self.config.seeds))
        io.write_json(self.path / CONFIG_FILE, self.config.key_fields() | {"seeds": seeds})
        return created

    def store_seed(self, seed: int, frame: pd.DataFrame, trace: pd.DataFrame) -> None:
        """One finished seed: its trace first, then its results (whose presence marks it
        done)."""
        io.write_with(self.seeds_dir / f"{seed}.trace.parquet",
                      lambda p: trace.to_parquet(p, index=False))
        io.write_with(self.seeds_dir / f"{seed}.parquet",
                      lambda p: frame.to_parquet(p, index=False))

    def discard_if_empty(self) -> None:
        """Remove the folder when no seed finished (nothing a reader could mistake for a run)."""
        if not any(self.seeds_dir.glob("*.parquet")):
            shutil.rmtree(self.path, ignore_errors=True)

    def finish(self, manifest: dict[str, Any], frontier: pd.DataFrame | None = None,
               calibration: pd.DataFrame | None = None) -> Run:
        """Combine the stored seeds into ``results.parquet``, ``trace.parquet`` (first seed) and
        ``summary.csv``, write ``frontier.parquet`` (the offline cost-quality frontier, when
        given), then ``manifest.json`` (``manifest`` plus the run key, config, seeds, git commit
        and versions), which marks the run finished."""
        from routebench.metrics import summarise

        seeds = sorted(set(self.stored_seeds()) | set(self.config.seeds))
        results = pd.concat([pd.read_parquet(self.seeds_dir / f"{s}.parquet") for s in seeds],
                            ignore_index=True)
        trace = pd.read_parquet(self.seeds_dir / f"{seeds[0]}.trace.parquet")
        summary = summarise(results[results["llm"] == ""])
        io.write_with(self.path / RESULTS_FILE, lambda p: results.to_parquet(p, index=False))
        io.write_with(self.path / TRACE_FILE, lambda p: trace.to_parquet(p, index=False))
        io.write_with(self.path / SUMMARY_FILE, lambda p: summary.to_csv(p, index=False))
        for name, frame in ((FRONTIER_FILE, frontier), (CALIBRATION_FILE, calibration)):
            if frame is not None:
                io.write_with(self.path / name, lambda p, f=frame: f.to_parquet(p, index=False))
        config = self.config.key_fields() | {"seeds": list(seeds)}
        manifest = {"run_key": self.config.run_key(), "config": config,
                    "git_commit": git_commit(), "versions": versions(),
                    "seeds_done": list(seeds), **manifest}
        io.write_json(self.path / MANIFEST_FILE, manifest)  # last: marks the run finished
        (self.path / STATUS_FILE).unlink(missing_ok=True)
        return Run(path=self.path, manifest=manifest, results=results, trace=trace,
                   summary=summary, frontier=frontier, calibration=calibration)


# --------------------------------------------------------------------------- loading
def is_run_dir(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a finished run folder (manifest and results present)."""
    p = Path(path)
    return (p / MANIFEST_FILE).is_file() and (p / RESULTS_FILE).is_file()


def is_finished_run(path: str | os.PathLike[str], seeds: Iterable[int]) -> bool:
    """Whether ``path`` is a finished run folder that holds every one of ``seeds``."""
    if not is_run_dir(path):
        return False
    try:
        done = io.read_json(Path(path) / MANIFEST_FILE).get("seeds_done", [])
    except (ValueError, AttributeError):
        return False
    return set(seeds) <= set(done if isinstance(done, list) else [])


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
    frontier = calibration = None
    if (path / FRONTIER_FILE).is_file():
        frontier = _read_parquet(path / FRONTIER_FILE)
        _check_columns(frontier, FRONTIER_COLUMNS, path / FRONTIER_FILE)
    if (path / CALIBRATION_FILE).is_file():
        calibration = _read_parquet(path / CALIBRATION_FILE)
        _check_columns(calibration, CALIBRATION_COLUMNS, path / CALIBRATION_FILE)
    return Run(path=path, manifest=manifest, results=results, trace=trace, summary=summary,
               frontier=frontier, calibration=calibration)


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
    if (path / CONFIG_FILE).is_file():  # a run folder that has not finished: left out
        (info,) = list_runs(path)
        message = (f"{path}: {info.status} run ({len(info.seeds_done)} of {len(info.seeds)} "
                   f"seeds done), left out; `routebench runs {path}` shows how to resume it")
        if notes is None:
            raise ResultsError(message)
        notes.append(message)
        return []
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
    unfinished = [r for r in list_runs(path) if r.status != "finished"]
    if notes is not None:
        notes.extend(f"{r.path}: {r.status} run ({len(r.seeds_done)} of {len(r.seeds)} "
                     f"seeds done), left out; `routebench runs {path}` shows how to resume it"
                     for r in unfinished)
    if not found:
        detail = (f"; {len(unfinished)} unfinished run folder(s): see `routebench runs {path}`"
                  if unfinished else "")
        raise ResultsError(
            f"{path}: holds no finished run folder (a run folder has {MANIFEST_FILE} and "
            f"{RESULTS_FILE}; a sweep folder has {SWEEP_FILE}){detail}"
        )
    return found


def load_runs(paths: Iterable[str | os.PathLike[str]],
              notes: list[str] | None = None) -> list[Run]:
    """Load every run behind ``paths`` (run folders, sweep folders or parents such as
    ``results/``), each run once, in the order given; a run key met twice (the same
    configuration in two results folders) is loaded once. ``notes``, when given, collects what
    the caller should tell the user (see :func:`find_run_dirs`): an incomplete sweep, a run left
    out because it has not finished, a duplicate."""
    paths = list(paths)
    seen: set[Path] = set()
    keys: dict[str, Path] = {}
    runs = []
    for p in paths:
        for d in find_run_dirs(p, notes):
            real = d.resolve()
            if real in seen:
                continue
            seen.add(real)
            run = load_run(d)
            if run.key in keys:  # the same configuration, run into two results folders
                if notes is not None:
                    notes.append(f"{d}: the same run as {keys[run.key]} (run key {run.key}); "
                                 "reported once, from the first")
                continue
            keys[run.key] = d
            runs.append(run)
    if not runs:
        raise ResultsError("no finished run among the given folders" if paths
                           else "no results folder given")
    return runs


@dataclass(frozen=True)
class RunInfo:
    """One run folder as ``routebench runs`` lists it: its ``config`` (the stored parameters),
    the seeds asked (``seeds``) and stored (``seeds_done``), and ``status``: ``finished``,
    ``partial`` (stopped or still running, resumable) or ``failed`` (``error`` says why)."""

    path: Path
    config: dict[str, Any]
    seeds: list[int]
    seeds_done: list[int]
    status: str
    error: str = ""

    @property
    def dataset(self) -> str:
        return str(self.config.get("dataset", "?"))


def _seed_files(path: Path) -> list[int]:
    folder = path / SEEDS_DIR
    if not folder.is_dir():
        return []
    names = (p.name.split(".") for p in folder.glob("*.parquet"))
    return sorted(int(n[0]) for n in names if len(n) == 2 and n[0].isdigit())


def list_runs(root: str | os.PathLike[str]) -> list[RunInfo]:
    """Every run folder under ``root`` (or ``root`` itself), finished or not, sorted by path.
    A folder is a run folder when it holds ``manifest.json`` or ``config.json``."""
    root = Path(root)
    if not root.exists():
        raise ResultsError(f"{root}: no such folder")
    folders = {p.parent for name in (MANIFEST_FILE, CONFIG_FILE) for p in root.rglob(name)}
    out = []
    for folder in sorted(folders):
        stored = _seed_files(folder)
        try:
            if is_run_dir(folder):
                manifest = io.read_json(folder / MANIFEST_FILE)
                config = dict(manifest.get("config", {}))
                done = [int(s) for s in manifest.get("seeds_done", [])]
            else:
                config, done = dict(io.read_json(folder / CONFIG_FILE)), stored
        except (ValueError, AttributeError, TypeError) as exc:
            out.append(RunInfo(folder, {}, [], stored, "failed", f"unreadable: {exc}"))
            continue
        if (folder / CONFIG_FILE).is_file():  # seeds asked by the latest run of the folder
            with contextlib.suppress(ValueError, AttributeError):
                config["seeds"] = io.read_json(folder / CONFIG_FILE).get("seeds", [])
        asked = config.get("seeds", [])
        seeds = sorted(set(int(s) for s in asked) | set(done)) if isinstance(asked, list) \
            else done
        status_file = folder / STATUS_FILE
        state = io.read_json(status_file) if status_file.is_file() else {}
        if is_run_dir(folder) and set(seeds) <= set(done):
            status, error = "finished", ""
        elif state.get("state") == "failed":
            status, error = "failed", str(state.get("error", ""))
        else:
            status, error = "partial", ""
        out.append(RunInfo(folder, config, seeds, sorted(set(done) | set(stored)), status,
                           error))
    return out


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
    keys = sorted({k for r in runs for k in r.parameters} - skip)
    return [k for k in keys if len({_canonical(r.parameters.get(k)) for r in runs}) > 1]


def config_without(run: Run, names: Iterable[str]) -> tuple[Any, ...]:
    """A hashable view of the run's config with the fields ``names`` left out: runs that share
    it differ only in those fields."""
    skip = set(names)
    return tuple(sorted((k, _canonical(v)) for k, v in run.parameters.items() if k not in skip))


def router_label(router: str, run: Run | None = None) -> str:
    """How tables and figures name ``router`` (the label a run stored for a plug-in)."""
    return run.label(router) if run is not None else catalogue.label(router)


def n_llms(run: Run) -> int:
    """Number of deployed LLMs in the run."""
    return len(run.llms)


def param_value(run: Run, param: str) -> Any:
    """The value of one config field as tables and plots show it: ``models`` as the number of
    LLMs, ``split`` with its k for the extreme split, lists as comma-joined text; a router
    parameter is named ``ROUTER.PARAM``."""
    cfg = run.parameters
    if param == "models":
        return n_llms(run)
    if param == "split" and cfg.get("split") == "extreme":
        return f"extreme{cfg.get('extreme_k', 1)}"
    value = cfg.get(param)
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return value
