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

from routebench import catalogue
from routebench.budgets import EXTREME_K, SPLITS
from routebench.errors import ParamError
from routebench.io import stable_hash
from routebench.params import DEFAULT_TOP_K, check_top_k, coerce, describe

#: Largest problem size N x M (query-LLM pairs) whose exact 0/1 optimum is computed by default:
#: HiGHS proves optimality on RouterBench-like instances of 1,500 x 11 in about 3 s and of
#: 10,000 x 11 in 20-35 s on one core (``python -m bench lp``), so the default stops short of
#: paper scale, where the MILP is opt-in (``--milp-limit``).
DEFAULT_MILP_LIMIT: int = 50_000
#: Branch-and-bound node limit of the exact MILP. A node count, unlike a wall-clock limit,
#: keeps the result deterministic; when it binds, the best solution and the proven bound are
#: reported with status ``node_limit``.
DEFAULT_MILP_NODE_LIMIT: int = 2_000
#: Shorthand keys of earlier versions (and of the CLI flags) for router parameters.
LEGACY_ROUTER_PARAMS: dict[str, tuple[str, str]] = {
    "eps": ("port", "eps"),
    "alpha": ("port", "alpha"),
    "gamma_solver": ("port", "gamma_solver"),
    "batch_size": ("batch-split", "batch_size"),
}


class ConfigError(ValueError):
    """A simulate configuration that cannot run (unknown parameters, bad values)."""


class ConfigParamError(ParamError, ConfigError):
    """One ``SimConfig`` parameter outside its valid range or of the wrong type; ``param`` names
    it (the CLI shows its flag, a sweep its key and line)."""


#: Largest seed: seeds are stored in int64 columns.
MAX_SEED = 2**63 - 1


@dataclass(frozen=True)
class SimConfig:
    """One simulate run. Every field but ``extra`` and ``seeds`` is part of the run key; inside
    the run folder each finished seed is stored on its own, so an interrupted run resumes and
    more seeds extend a finished run.

    ``routers`` are names: built-in ones (``routebench.catalogue``), plug-ins as
    ``module:Class`` or an entry point of the group ``routebench.routers``. ``router_params``
    maps a router to its parameters (``{"port": {"eps": 0.1}}``); the router class checks them
    when the run starts (``routebench.routers.resolve_params``), which also fills in the
    defaults, so a run's key and manifest hold every parameter it ran with."""

    dataset: str
    budget: float = 1.0
    split: str = "weighted"
    extreme_k: int = 1
    routers: tuple[str, ...] = catalogue.ALL
    router_params: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()
    top_k: int = DEFAULT_TOP_K
    seeds: tuple[int, ...] = tuple(range(10))
    test_size: int = 10_000
    split_seed: int = 0
    embedder: str = "tfidf"
    embedder_params: tuple[tuple[str, Any], ...] = ()
    index: str = "hnsw"
    index_params: tuple[tuple[str, Any], ...] = ()
    models: tuple[str, ...] | None = None
    milp_limit: int = DEFAULT_MILP_LIMIT
    milp_node_limit: int = DEFAULT_MILP_NODE_LIMIT
    #: Solver of the exact MILP bound: "highs", "pulp" (PuLP's CBC) or "pulp:<SOLVER>".
    milp_solver: str = "highs"
    #: The estimator of the test stream's performance and cost (``routebench.estimators``)
    #: and its parameters; KNN-Perf / KNN-Cost keep the paper's exact k-NN mean.
    estimator: str = "knn-mean"
    estimator_params: tuple[tuple[str, Any], ...] = ()
    #: Queries per decision block of the routers with feedback (``routebench.engine``).
    feedback_every: int = 1
    #: What their feedback carries: ``cost`` (served or not, realised USD cost, remaining
    #: budgets) or ``quality`` (also the realised performance of served queries).
    feedback: str = "cost"
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        # Check types and normalise them, so that equal configs get equal run keys (budget 1 ==
        # budget 1.0) and a YAML ``top_k: 2.5`` or ``budget: [true]`` is refused, not truncated.
        for f in fields(self):
            if f.name != "extra":
                object.__setattr__(self, f.name, coerce(f.name, f.type, getattr(self, f.name),
                                                          ConfigParamError))
        validate(self)

    # ------------------------------------------------------------------ identity
    def key_fields(self) -> dict[str, Any]:
        """The fields that define the run (everything but ``extra``), JSON-friendly."""
        out = {}
        for f in fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if f.name == "router_params":
                value = self.router_params_dict()
            elif isinstance(value, tuple):
                value = [list(v) if isinstance(v, tuple) else v for v in value]
            out[f.name] = value
        return out

    def router_params_dict(self) -> dict[str, dict[str, Any]]:
        """``router_params`` as ``{router: {param: value}}``."""
        return {name: dict(params) for name, params in self.router_params}

    def params_of(self, router: str) -> dict[str, Any]:
        """The parameters given for ``router`` (empty when none)."""
        return dict(dict(self.router_params).get(router, ()))

    def run_key(self) -> str:
        """Readable, deterministic folder name: no timestamps, a pure function of every field
        but ``seeds`` (the seeds are the run's sample: asking for more seeds of a finished
        configuration extends its run instead of starting another)."""
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.dataset)
        split = self.split if self.split != "extreme" else f"extreme{self.extreme_k}"
        identity = {k: v for k, v in self.key_fields().items()
                    if k != "seeds" and not (k in KEY_OMITTED_AT_DEFAULT
                                             and v == KEY_OMITTED_AT_DEFAULT[k])}
        return (
            f"{slug}-{split}-b{self.budget:g}-n{self.test_size}-{self.embedder.replace(':', '_')}"
            f"-{self.index}-{stable_hash(identity, 10)}"
        )

    def with_changes(self, **changes: Any) -> SimConfig:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SimConfig:
        """Build from a plain dict (e.g. a manifest or a YAML grid point); unknown keys refused."""
        data = fold_router_params(data)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"unknown simulate parameter(s) {unknown}; known: {sorted(known - {'extra'})} "
                "(and ROUTER.PARAM for a router parameter, e.g. port.eps)"
            )
        if isinstance(data.get("routers"), str):
            data["routers"] = parse_routers(data["routers"])
        if isinstance(data.get("seeds"), str) or (
            isinstance(data.get("seeds"), int) and not isinstance(data.get("seeds"), bool)
        ):
            data["seeds"] = parse_seeds(str(data["seeds"]))
        return cls(**data)


#: Fields added after run keys were first published: left out of the key at their default, so
#: the runs made before them keep their folders.
KEY_OMITTED_AT_DEFAULT: dict[str, Any] = {"feedback_every": 1, "feedback": "cost",
                                          "estimator": "knn-mean", "estimator_params": []}
#: What the feedback of the closed-loop routers can carry.
FEEDBACK_KINDS: tuple[str, ...] = ("cost", "quality")

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
    data = fold_router_params(data)
    known = {f.name for f in fields(SimConfig)} - {"extra"}
    data = {k: v for k, v in data.items() if k in known}
    routers = data["routers"]
    if isinstance(data.get("router_params"), dict) and isinstance(routers, (list, tuple)):
        # earlier versions stored PORT's and BatchSplit's parameters whatever the routers
        data["router_params"] = {r: p for r, p in data["router_params"].items() if r in routers}
    return SimConfig.from_dict(data)


def fold_router_params(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with router parameters gathered into ``router_params``: a dotted key
    ``ROUTER.PARAM`` (``port.eps``) and the shorthand keys of earlier versions (``eps``,
    ``alpha``, ``gamma_solver``, ``batch_size``) are moved there (a router parameter given twice
    is refused)."""
    out = dict(data)
    nested = out.pop("router_params", None) or {}
    if isinstance(nested, (list, tuple)):
        nested = {name: params for name, params in nested}
    if not isinstance(nested, dict):
        raise ConfigParamError("router_params", f"expected a mapping of routers to parameters, "
                               f"got {describe(nested)}")
    merged = {str(r): dict(p) if isinstance(p, (dict, list, tuple)) else p
              for r, p in nested.items()}
    for key in list(out):
        if key in LEGACY_ROUTER_PARAMS:
            router, param = LEGACY_ROUTER_PARAMS[key]
        elif "." in key:
            router, _, param = key.rpartition(".")
        else:
            continue
        value = out.pop(key)
        target = merged.setdefault(router, {})
        if not isinstance(target, dict):
            raise ConfigParamError(f"router_params.{router}",
                                   f"expected a mapping of parameters, got {describe(target)}")
        if param in target and target[param] != value:
            raise ConfigParamError(f"{router}.{param}", f"given twice ({target[param]!r} and "
                                   f"{value!r})")
        target[param] = value
    if merged:
        out["router_params"] = merged
    return out


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
    """``"all"``, ``"online"`` or a comma list of router names (built-in names in any case)."""
    text = text.strip()
    if text.lower() in ("all", "online"):
        text = text.lower()
        return catalogue.ALL if text == "all" else catalogue.ONLINE
    builtin = {n.lower(): n for n in catalogue.ALL}
    # built-in names are case-insensitive; a plug-in (module:Class) is taken as written
    names = tuple(builtin.get(n.strip().lower(), n.strip()) for n in text.split(",")
                  if n.strip())
    if not names:
        raise ConfigParamError("routers", "is empty")
    return names


def validate(cfg: SimConfig) -> None:
    """Refuse parameters outside their valid ranges (``ConfigParamError`` naming the parameter
    and the valid values). Checks that need the dataset (test size, top_k against the history,
    extreme_k against the number of LLMs, model names) are made by ``simulate.prepare``."""

    def bad(param: str, detail: str) -> ConfigParamError:
        return ConfigParamError(param, detail)

    if not cfg.routers:
        raise bad("routers", "is empty")
    if len(set(cfg.routers)) != len(cfg.routers):
        raise bad("routers", f"repeats a router: {list(cfg.routers)}")
    if cfg.split not in SPLITS:
        raise bad("split", f"unknown split {cfg.split!r}; valid: {', '.join(SPLITS)}")
    if not cfg.budget > 0:
        raise bad("budget", f"must be > 0, got {cfg.budget}")
    check_top_k(cfg.top_k, error=ConfigParamError)
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
    bounds = set(catalogue.BOUNDS)
    names = [r for r in cfg.routers if r in bounds or not r.strip()]
    if names:
        raise bad("routers", f"{names[0]!r} is not a router (the offline bounds lp-bound and "
                  "milp are always computed)")
    # a plug-in given as module:Class may also be addressed by the name its class declares,
    # which only simulate.resolve_config (importing it) can check
    plugins = any(":" in r for r in cfg.routers)
    stray = [name for name, _ in cfg.router_params if name not in cfg.routers and not plugins]
    if stray:
        raise bad("router_params", f"parameters given for router {stray[0]!r}, which is not "
                  f"in routers {list(cfg.routers)}")
    if cfg.split == "extreme":
        if cfg.extreme_k not in EXTREME_K:
            raise bad("extreme_k", f"must lie in {EXTREME_K.start}..{EXTREME_K.stop - 1} for "
                      f"the extreme split, got {cfg.extreme_k}")
    elif cfg.extreme_k != 1:
        raise bad("extreme_k", f"applies to split 'extreme' only, got extreme_k={cfg.extreme_k} "
                  f"with split {cfg.split!r}")
    if cfg.milp_limit < 0:
        raise bad("milp_limit", f"must be >= 0 (query-LLM pairs), got {cfg.milp_limit}")
    if cfg.feedback_every < 1:
        raise bad("feedback_every", f"must be an integer >= 1 (queries per decision block), got "
                  f"{cfg.feedback_every}")
    if cfg.feedback not in FEEDBACK_KINDS:
        raise bad("feedback", f"unknown feedback {cfg.feedback!r}; valid: "
                  f"{', '.join(FEEDBACK_KINDS)}")
    if cfg.milp_node_limit < 1:
        raise bad("milp_node_limit", f"must be an integer >= 1 (branch-and-bound nodes), got "
                  f"{cfg.milp_node_limit}")
    if cfg.milp_solver != "highs":
        # the spelling only (no import); simulate.resolve_config checks that it is installed
        from routebench.oracle import check_milp_solver

        check_milp_solver(cfg.milp_solver, available=False, param="milp_solver",
                          error=ConfigParamError)
    if cfg.models is not None:
        if len(cfg.models) < 1:
            raise bad("models", "is empty")
        if len(set(cfg.models)) != len(cfg.models):
            raise bad("models", f"repeats an LLM: {list(cfg.models)}")
