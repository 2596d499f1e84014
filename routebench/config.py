"""``SimConfig``: every parameter of one simulate run, and the run key derived from it.

Names follow the paper (Wu & Silwal, NeurIPS 2025): ``eps`` is the fraction of the stream used
by PORT's learning phase, ``alpha`` the performance scale in PORT's objective, ``top_k`` the
number of nearest historical queries behind each estimate, ``budget`` the multiplier of the
cost of sending the whole test stream to the cheapest LLM.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field, fields
from typing import Any

from routebench.budgets import EXTREME_K, SPLITS
from routebench.errors import ParamError
from routebench.io import stable_hash
from routebench.oracle import DEFAULT_MILP_LIMIT, DEFAULT_MILP_NODE_LIMIT
from routebench.routers import GAMMA_SOLVERS, ROUTERS

#: Online routers, in the order tables list them (PORT.md section 5).
ONLINE_ROUTERS: tuple[str, ...] = (
    "random",
    "greedy-perf",
    "greedy-cost",
    "knn-perf",
    "knn-cost",
    "batch-split",
    "port",
)
assert set(ONLINE_ROUTERS) == set(ROUTERS), "config.ONLINE_ROUTERS must list routers.ROUTERS"
#: Offline oracles replayed under serve-or-drop: C^_opt on estimates, C_opt on true features.
ORACLE_ROUTERS: tuple[str, ...] = ("approx-opt", "opt")
ALL_ROUTERS: tuple[str, ...] = ONLINE_ROUTERS + ORACLE_ROUTERS
#: Pseudo-routers that carry offline bounds in results tables.
BOUND_ROUTERS: tuple[str, ...] = ("lp-bound", "milp")




class ConfigError(ValueError):
    """A simulate configuration that cannot run (unknown parameters, bad values)."""


class ConfigParamError(ParamError, ConfigError):
    """One ``SimConfig`` parameter outside its valid range or of the wrong type; ``param`` names
    it (the CLI shows its flag, a sweep its key and line)."""


#: Largest seed: seeds are stored in int64 columns.
MAX_SEED = 2**63 - 1


@dataclass(frozen=True)
class SimConfig:
    """One simulate run. Every field but ``extra`` is part of the run key; inside the run
    folder each finished seed is stored on its own, so an interrupted run resumes."""

    dataset: str
    budget: float = 1.0
    split: str = "weighted"
    extreme_k: int = 1
    routers: tuple[str, ...] = ALL_ROUTERS
    eps: float = 0.025
    alpha: float = 1e-4
    gamma_solver: str = "lbfgsb"
    top_k: int = 5
    seeds: tuple[int, ...] = tuple(range(10))
    test_size: int = 10_000
    split_seed: int = 0
    embedder: str = "tfidf"
    embedder_params: tuple[tuple[str, Any], ...] = ()
    index: str = "hnsw"
    index_params: tuple[tuple[str, Any], ...] = ()
    models: tuple[str, ...] | None = None
    batch_size: int = 256
    milp_limit: int = DEFAULT_MILP_LIMIT
    milp_node_limit: int = DEFAULT_MILP_NODE_LIMIT
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        # Check types and normalise them, so that equal configs get equal run keys (budget 1 ==
        # budget 1.0) and a YAML ``top_k: 2.5`` or ``budget: [true]`` is refused, not truncated.
        for f in fields(self):
            if f.name != "extra":
                object.__setattr__(self, f.name, _coerce(f.name, f.type, getattr(self, f.name)))
        validate(self)

    # ------------------------------------------------------------------ identity
    def key_fields(self) -> dict[str, Any]:
        """The fields that define the run (everything but ``extra``), JSON-friendly."""
        out = {}
        for f in fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = [list(v) if isinstance(v, tuple) else v for v in value]
            out[f.name] = value
        return out

    def run_key(self) -> str:
        """Readable, deterministic folder name: no timestamps, a pure function of the fields."""
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.dataset)
        split = self.split if self.split != "extreme" else f"extreme{self.extreme_k}"
        return (
            f"{slug}-{split}-b{self.budget:g}-n{self.test_size}-{self.embedder.replace(':', '_')}"
            f"-{self.index}-{stable_hash(self.key_fields(), 10)}"
        )

    def with_changes(self, **changes: Any) -> SimConfig:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SimConfig:
        """Build from a plain dict (e.g. a manifest or a YAML grid point); unknown keys refused."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"unknown simulate parameter(s) {unknown}; known: {sorted(known - {'extra'})}"
            )
        data = dict(data)
        if isinstance(data.get("routers"), str):
            data["routers"] = parse_routers(data["routers"])
        if isinstance(data.get("seeds"), str) or (
            isinstance(data.get("seeds"), int) and not isinstance(data.get("seeds"), bool)
        ):
            data["seeds"] = parse_seeds(str(data["seeds"]))
        return cls(**data)


#: Fields every stored run config must have (a manifest without them was damaged or edited).
STORED_REQUIRED: tuple[str, ...] = ("dataset", "budget", "split", "test_size", "seeds", "routers")


def from_stored(data: Any) -> SimConfig:
    """The ``SimConfig`` of a stored run (a manifest's or a run folder's ``config``), checked
    like a new one: fields of other routebench versions are ignored, but the required fields
    must be present and every known field valid (``ConfigParamError`` names the bad one)."""
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping of run parameters, got {type(data).__name__}")
    missing = [k for k in STORED_REQUIRED if k not in data]
    if missing:
        raise ConfigParamError(missing[0], "is missing")
    known = {f.name for f in fields(SimConfig)} - {"extra"}
    return SimConfig.from_dict({k: v for k, v in data.items() if k in known})


def _describe(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def _as_int(param: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigParamError(param, f"expected an integer, got {_describe(value)}")
    if isinstance(value, float):
        if not value.is_integer():
            raise ConfigParamError(param, f"expected an integer, got {value!r}")
        value = int(value)
    return int(value)


def _as_float(param: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigParamError(param, f"expected a number, got {_describe(value)}")
    value = float(value)
    if not math.isfinite(value):
        raise ConfigParamError(param, f"expected a finite number, got {value!r}")
    return value


def _as_str(param: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigParamError(param, f"expected text, got {_describe(value)}")
    return value


def _as_tuple(param: str, value: Any, item: Any) -> tuple[Any, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise ConfigParamError(param, f"expected a list, got {_describe(value)}")
    return tuple(item(param, v) for v in value)


def _as_pairs(param: str, value: Any) -> tuple[tuple[str, Any], ...]:
    """``{key: value}`` or ``[(key, value), ...]`` -> a tuple of pairs sorted by key."""
    if isinstance(value, dict):
        value = list(value.items())
    items = _as_tuple(param, value, lambda p, v: v)
    pairs = []
    for pair in items:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2 or not isinstance(pair[0], str):
            raise ConfigParamError(param, f"expected a mapping of names to values, got {value!r}")
        pairs.append((pair[0], pair[1]))
    if len({k for k, _ in pairs}) != len(pairs):
        raise ConfigParamError(param, f"repeats a key: {value!r}")
    return tuple(sorted(pairs))


def _coerce(param: str, kind: Any, value: Any) -> Any:
    """``value`` checked against the field's annotation ``kind`` (a string under ``from
    __future__ import annotations``) and normalised: ints for int fields (2.0 -> 2, 2.5
    refused), floats for float fields, tuples for lists, sorted pairs for parameter maps."""
    kind = str(kind)
    if kind.endswith("| None"):
        if value is None:
            return None
        kind = kind[: -len("| None")].strip()
    if kind == "int":
        return _as_int(param, value)
    if kind == "float":
        return _as_float(param, value)
    if kind == "str":
        return _as_str(param, value)
    if kind == "tuple[str, ...]":
        return _as_tuple(param, value, _as_str)
    if kind == "tuple[int, ...]":
        return _as_tuple(param, value, _as_int)
    if kind == "tuple[tuple[str, Any], ...]":
        return _as_pairs(param, value)
    raise TypeError(f"SimConfig.{param}: no type check for annotation {kind!r}")


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"0-9"`` -> 0..9; ``"3"`` -> (3,); ``"0,2,5-7"`` -> (0, 2, 5, 6, 7)."""
    seeds: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)\s*-\s*(\d+)", part)
        if m:
            lo, hi = int(m.group(1)), int(m.group(2))
            if hi < lo:
                raise ConfigParamError("seeds", f"range {part!r} is empty (end before start)")
            if hi > MAX_SEED or hi - lo >= 1_000_000:
                raise ConfigParamError(
                    "seeds", f"range {part!r} is too large (at most 1,000,000 seeds, each at most "
                    f"{MAX_SEED})")
            seeds.extend(range(lo, hi + 1))
        elif re.fullmatch(r"\d+", part):
            seeds.append(int(part))
        else:
            raise ConfigParamError("seeds", f"{text!r}: expected e.g. '0-9', '3' or '0,2,5-7'")
    if len(set(seeds)) != len(seeds):
        raise ConfigParamError("seeds", f"{text!r} repeats a seed")
    return tuple(seeds)


def parse_routers(text: str) -> tuple[str, ...]:
    """``"all"``, ``"online"`` or a comma list of router names."""
    text = text.strip()
    if text == "all":
        return ALL_ROUTERS
    if text == "online":
        return ONLINE_ROUTERS
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise ConfigParamError("routers", "is empty")
    return names


def validate(cfg: SimConfig) -> None:
    """Refuse parameters outside their valid ranges (``ConfigParamError`` naming the parameter
    and the valid values). Checks that need the dataset (test size, top_k against the history,
    extreme_k against the number of LLMs, model names) are made by ``simulate.prepare``."""

    def bad(param: str, detail: str) -> ConfigParamError:
        return ConfigParamError(param, detail)

    unknown = [r for r in cfg.routers if r not in ALL_ROUTERS]
    if unknown:
        raise bad("routers", f"unknown router(s) {unknown}; valid: {', '.join(ALL_ROUTERS)} "
                  "(or 'all', 'online')")
    if not cfg.routers:
        raise bad("routers", "is empty")
    if len(set(cfg.routers)) != len(cfg.routers):
        raise bad("routers", f"repeats a router: {list(cfg.routers)}")
    if cfg.split not in SPLITS:
        raise bad("split", f"unknown split {cfg.split!r}; valid: {', '.join(SPLITS)}")
    if not cfg.budget > 0:
        raise bad("budget", f"must be > 0, got {cfg.budget}")
    if not 0 < cfg.eps < 1:
        raise bad("eps", f"must lie in (0, 1), got {cfg.eps}")
    if not cfg.alpha > 0:
        raise bad("alpha", f"must be > 0, got {cfg.alpha}")
    if cfg.top_k < 1:
        raise bad("top_k", f"must be at least 1, got {cfg.top_k}")
    if cfg.test_size < 1:
        raise bad("test_size", f"must be at least 1, got {cfg.test_size}")
    if not cfg.seeds:
        raise bad("seeds", "is empty")
    out_of_range = [s for s in cfg.seeds if not 0 <= s <= MAX_SEED]
    if out_of_range:
        raise bad("seeds", f"must lie in 0..{MAX_SEED}, got {out_of_range[0]}")
    if len(set(cfg.seeds)) != len(cfg.seeds):
        raise bad("seeds", f"repeats a seed: {list(cfg.seeds)}")
    if not 0 <= cfg.split_seed <= MAX_SEED:
        raise bad("split_seed", f"must lie in 0..{MAX_SEED}, got {cfg.split_seed}")
    if cfg.gamma_solver not in GAMMA_SOLVERS:
        raise bad("gamma_solver", f"unknown gamma solver {cfg.gamma_solver!r}; valid: "
                  f"{', '.join(GAMMA_SOLVERS)}")
    if cfg.batch_size < 1:
        raise bad("batch_size", f"must be at least 1, got {cfg.batch_size}")
    if cfg.split == "extreme":
        if cfg.extreme_k not in EXTREME_K:
            raise bad("extreme_k", f"must lie in {EXTREME_K.start}..{EXTREME_K.stop - 1} for "
                      f"the extreme split, got {cfg.extreme_k}")
    elif cfg.extreme_k != 1:
        raise bad("extreme_k", f"applies to split 'extreme' only, got extreme_k={cfg.extreme_k} "
                  f"with split {cfg.split!r}")
    if cfg.milp_limit < 0:
        raise bad("milp_limit", f"must be >= 0 (query-LLM pairs), got {cfg.milp_limit}")
    if cfg.milp_node_limit < 1:
        raise bad("milp_node_limit", f"must be an integer >= 1 (branch-and-bound nodes), got "
                  f"{cfg.milp_node_limit}")
    if cfg.models is not None:
        if len(cfg.models) < 1:
            raise bad("models", "is empty")
        if len(set(cfg.models)) != len(cfg.models):
            raise bad("models", f"repeats an LLM: {list(cfg.models)}")
