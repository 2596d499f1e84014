"""How results show every router: display order, labels, colours and kinds.

A leaf module (no solver, compiler or index library is imported), so reading, reporting and
plotting results never loads the routers. The built-in routers' behaviour (parameters, random
stream, need for exact k-NN estimates) is declared on their classes in ``routebench.routers``;
their display lives here. A plug-in router declares its own ``label`` and ``colour`` on its class;
``simulate`` stores every router's display entry in the run's manifest, so its results read the
same way without the plug-in installed.

Kinds: ``online`` routers see the stream as it arrives; ``oracle`` routers are offline optima
replayed under serve-or-drop (C^_opt on estimates, C_opt on true features); ``bound`` rows carry
offline bounds (the LP relaxation and the exact 0/1 optimum), not routes.
"""

from __future__ import annotations

import difflib
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

Kind = Literal["online", "oracle", "bound"]
KINDS: tuple[str, ...] = ("online", "oracle", "bound")


@dataclass(frozen=True)
class Entry:
    """One router's display: ``name`` as in the results, ``label`` as tables and figures write
    it (the paper's name), ``colour`` (hex, the same in every figure), ``kind``."""

    name: str
    label: str
    colour: str
    kind: Kind = "online"
    #: The label in math notation where the paper uses one (matplotlib mathtext, also valid
    #: LaTeX inside ``$...$``), e.g. ``$\hat{C}_{\mathrm{opt}}$``; "" to use ``label``.
    math: str = ""

    @property
    def figure_label(self) -> str:
        """The label for figures and LaTeX tables (the math form where there is one)."""
        return self.math or self.label

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Entry:
        kind = str(data.get("kind", "online"))
        return cls(name=str(data["name"]), label=str(data.get("label") or data["name"]),
                   colour=str(data.get("colour") or fallback_colour(str(data["name"]))),
                   kind=kind if kind in KINDS else "online",  # type: ignore[arg-type]
                   math=str(data.get("math") or ""))


#: Every built-in router, oracle and bound, in the order tables and figures list them
#: (PORT.md section 5: the baselines, then PORT; then the oracles and the bounds).
BUILTIN: tuple[Entry, ...] = (
    Entry("random", "Random", "#7f7f7f"),
    Entry("greedy-perf", "Greedy-Perf", "#1f77b4"),
    Entry("greedy-cost", "Greedy-Cost", "#ff7f0e"),
    Entry("knn-perf", "KNN-Perf", "#17becf"),
    Entry("knn-cost", "KNN-Cost", "#bcbd22"),
    Entry("batch-split", "BatchSplit", "#2ca02c"),
    Entry("port", "PORT", "#d62728"),
    Entry("port-resolve", "PORT-Resolve", "#843c39"),
    Entry("dual-descent", "Dual-Descent", "#e7ba52"),
    Entry("approx-opt", "Approx Optimum (C^_opt)", "#9467bd", "oracle",
          r"$\hat{C}_{\mathrm{opt}}$"),
    Entry("opt", "Optimum (C_opt)", "#000000", "oracle", r"$C_{\mathrm{opt}}$"),
    Entry("lp-bound", "LP bound", "#8c564b", "bound"),
    Entry("milp", "MILP optimum", "#e377c2", "bound"),
    Entry("estimates", "Estimates", "#969696", "bound"),
)
_BY_NAME: dict[str, Entry] = {e.name: e for e in BUILTIN}

#: Built-in online routers, oracles and bounds, each in display order.
ONLINE: tuple[str, ...] = tuple(e.name for e in BUILTIN if e.kind == "online")
ORACLES: tuple[str, ...] = tuple(e.name for e in BUILTIN if e.kind == "oracle")
BOUNDS: tuple[str, ...] = tuple(e.name for e in BUILTIN if e.kind == "bound")
#: The paper's online routers (PORT.md section 5), whose results its numbers belong to, and
#: ours, which learn from feedback (ONLINE-LP.md; ``docs/ROUTERS.md``).
OURS: tuple[str, ...] = ("port-resolve", "dual-descent")
PAPER_ONLINE: tuple[str, ...] = tuple(r for r in ONLINE if r not in OURS)
#: What ``--routers all`` runs: every built-in online router and both oracles.
ALL: tuple[str, ...] = ONLINE + ORACLES
#: The paper's reference method, against which the headline ratios are taken.
REFERENCE = "port"
#: The oracle that relative performance is measured against (C^_opt).
RELATIVE_TO = "approx-opt"
#: How PORT fits its prices gamma: the public code's L-BFGS-B, or the exact sample dual (LP).
#: Here, not in ``routers``, so the command line lists them without loading the routers.
GAMMA_SOLVERS: tuple[str, ...] = ("lbfgsb", "lp")

#: Colours for routers without one of their own (plug-ins), picked by a hash of the name.
_SPARE_COLOURS = ("#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd",
                  "#e6550d", "#31a354", "#756bb1", "#636363")


def fallback_colour(name: str) -> str:
    """A stable colour for a router that has none (the same name always gets the same one)."""
    return _SPARE_COLOURS[zlib.crc32(name.encode("utf-8")) % len(_SPARE_COLOURS)]


def entry(name: str, stored: Mapping[str, Mapping[str, Any]] | None = None) -> Entry:
    """The display of router ``name``: the built-in entry, else the one a run stored in its
    manifest (``stored``: name -> entry dict), else its name and a fallback colour."""
    if name in _BY_NAME:
        return _BY_NAME[name]
    if stored and name in stored:
        return Entry.from_dict({**stored[name], "name": name})
    return Entry(name, name, fallback_colour(name))


def label(name: str, stored: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    return entry(name, stored).label


def colour(name: str, stored: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    return entry(name, stored).colour


def kind(name: str, stored: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    return entry(name, stored).kind


def ordered(names: Iterable[str],
            stored: Mapping[str, Mapping[str, Any]] | None = None) -> list[str]:
    """``names`` in display order, each once: online routers (built-ins in catalogue order,
    then plug-ins in the order given), then the oracles, then the bounds."""
    names = list(dict.fromkeys(names))
    position = {e.name: i for i, e in enumerate(BUILTIN)}

    def key(item: tuple[int, str]) -> tuple[int, int, int]:
        given, name = item
        builtin = position.get(name)
        return (KINDS.index(kind(name, stored)), 0 if builtin is not None else 1,
                builtin if builtin is not None else given)

    return [name for _, name in sorted(enumerate(names), key=key)]


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``known`` to ``name`` (case-insensitive),
    or "" when none is close."""
    options = {k.lower(): k for k in known}
    close = difflib.get_close_matches(name.lower(), list(options), n=1, cutoff=0.6)
    return f" (did you mean {options[close[0]]!r}?)" if close else ""
