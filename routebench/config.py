"""``SimConfig``: every parameter of one simulate run, and the run key derived from it.

Names follow the paper (Wu & Silwal, NeurIPS 2025): ``eps`` is the fraction of the stream used
by PORT's learning phase, ``alpha`` the performance scale in PORT's objective, ``top_k`` the
number of nearest historical queries behind each estimate, ``budget`` the multiplier of the
cost of sending the whole test stream to the cheapest LLM.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field, fields
from typing import Any

from routebench.budgets import SPLITS
from routebench.io import stable_hash
from routebench.oracle import DEFAULT_MILP_LIMIT, DEFAULT_MILP_TIME_LIMIT
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
    """A simulate option outside its valid range."""


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
    milp_time_limit: float = DEFAULT_MILP_TIME_LIMIT
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        # Normalise types so that equal configs get equal run keys (budget 1 == budget 1.0).
        for f in fields(self):
            value = getattr(self, f.name)
            is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if f.type == "float" and is_number:
                object.__setattr__(self, f.name, float(value))
            elif f.type == "int" and isinstance(value, float) and value.is_integer():
                object.__setattr__(self, f.name, int(value))
        for name in ("routers", "seeds", "models"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
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
        for name in ("routers", "seeds", "models"):
            if data.get(name) is not None and not isinstance(data[name], str):
                data[name] = tuple(data[name])
        for name in ("embedder_params", "index_params"):
            if isinstance(data.get(name), dict):
                data[name] = tuple(sorted(data[name].items()))
            elif data.get(name) is not None:
                data[name] = tuple(tuple(p) for p in data[name])
        if isinstance(data.get("routers"), str):
            data["routers"] = parse_routers(data["routers"])
        if isinstance(data.get("seeds"), (str, int)):
            data["seeds"] = parse_seeds(str(data["seeds"]))
        return cls(**data)


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"0-9"`` -> 0..9; ``"3"`` -> (3,); ``"0,2,5-7"`` -> (0, 2, 5, 6, 7)."""
    seeds: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)\s*-\s*(\d+)", part)
        if m:
            lo, hi = int(m.group(1)), int(m.group(2))
            if hi < lo:
                raise ConfigError(f"--seeds range {part!r} is empty (end before start)")
            seeds.extend(range(lo, hi + 1))
        elif re.fullmatch(r"\d+", part):
            seeds.append(int(part))
        else:
            raise ConfigError(f"--seeds {text!r}: expected e.g. '0-9', '3' or '0,2,5-7'")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds {text!r} repeats a seed")
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
        raise ConfigError("--routers is empty")
    return names


def validate(cfg: SimConfig) -> None:
    """Refuse options outside their valid ranges, naming the option and the valid values."""
    unknown = [r for r in cfg.routers if r not in ALL_ROUTERS]
    if unknown:
        raise ConfigError(
            f"unknown router(s) {unknown}; valid: {', '.join(ALL_ROUTERS)} (or 'all', 'online')"
        )
    if len(set(cfg.routers)) != len(cfg.routers):
        raise ConfigError(f"--routers repeats a router: {list(cfg.routers)}")
    if cfg.split not in SPLITS:
        raise ConfigError(f"unknown split {cfg.split!r}; valid: {', '.join(SPLITS)}")
    if not cfg.budget > 0:
        raise ConfigError(f"--budget must be > 0, got {cfg.budget}")
    if not 0 < cfg.eps < 1:
        raise ConfigError(f"--eps must lie in (0, 1), got {cfg.eps}")
    if not cfg.alpha > 0:
        raise ConfigError(f"--alpha must be > 0, got {cfg.alpha}")
    if cfg.top_k < 1:
        raise ConfigError(f"--top-k must be at least 1, got {cfg.top_k}")
    if cfg.test_size < 1:
        raise ConfigError(f"--test-size must be at least 1, got {cfg.test_size}")
    if not cfg.seeds:
        raise ConfigError("--seeds is empty")
    if any(s < 0 for s in cfg.seeds):
        raise ConfigError(f"--seeds must be non-negative, got {list(cfg.seeds)}")
    if cfg.gamma_solver not in GAMMA_SOLVERS:
        raise ConfigError(
            f"unknown gamma solver {cfg.gamma_solver!r}; valid: {', '.join(GAMMA_SOLVERS)}"
        )
    if cfg.batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {cfg.batch_size}")
    if cfg.extreme_k < 1:
        raise ConfigError(f"--extreme-k must be at least 1, got {cfg.extreme_k}")
    if cfg.models is not None and len(cfg.models) < 1:
        raise ConfigError("--models is empty")
