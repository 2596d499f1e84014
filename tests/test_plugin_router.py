"""Bring-your-own router: one class in this test module, run through ``simulate`` with its own
parameters and its own random stream, without touching any routebench file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from routebench import catalogue
from routebench.config import SimConfig
from routebench.errors import ParamError
from routebench.report import build_report
from routebench.results import load_run
from routebench.routers import Router, StreamInput, register_router
from routebench.simulate import run_simulation
from routebench.sources import download

SPEC = f"{__name__}:CoinRouter"


@dataclass(frozen=True)
class CoinParams:
    """Drop each query with probability ``p_drop``, else send it to a uniformly drawn LLM."""

    p_drop: float = 0.5

    def __post_init__(self) -> None:
        if not 0 <= self.p_drop <= 1:
            raise ParamError("p_drop", f"must lie in [0, 1], got {self.p_drop!r}")


class CoinRouter(Router):
    name = "coin"
    label = "Coin flip"
    colour = "#123456"
    stream = "coin"  # a stream of its own, derived from each seed
    Params = CoinParams

    def _route(self, stream: StreamInput, rng: np.random.Generator | None) -> np.ndarray:
        assert rng is not None
        pick = rng.integers(0, stream.m, size=stream.n)
        return np.where(rng.random(stream.n) < self.p.p_drop, -1, pick)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    download("synthetic", data_dir=root, out="small", n=1500, models=4, seed=3)
    return root


def _run(data: Path, out: Path, routers: tuple[str, ...], **changes) -> Path:
    config = SimConfig(dataset="small", test_size=500, seeds=(0, 1), index="flat",
                       routers=routers, **changes)
    return run_simulation(config, data_dir=data, results_root=out, progress=False)


def _values(run_dir: Path, router: str) -> pd.DataFrame:
    frame = pd.read_parquet(run_dir / "results.parquet")
    frame = frame[(frame["router"] == router) & (frame["metric"] != "decision_seconds")]
    return frame.reset_index(drop=True)


def test_a_plugin_router_runs_with_parameters_and_its_own_stream(data: Path,
                                                                  tmp_path: Path) -> None:
    run_dir = _run(data, tmp_path / "a", ("random", SPEC, "approx-opt"),
                   router_params={SPEC: {"p_drop": 0.25}})
    run = load_run(run_dir)
    assert run.routers == ["random", SPEC, "approx-opt"]
    assert run.manifest["config"]["router_params"] == {SPEC: {"p_drop": 0.25}}
    assert run.manifest["routers"][SPEC] == {"name": SPEC, "label": "Coin flip",
                                             "colour": "#123456", "kind": "online", "math": ""}
    whole = run.whole()
    coin = whole[whole["router"] == SPEC].pivot(index="seed", columns="metric", values="value")
    assert (coin["throughput"] > 0).all() and (coin["cr_lp"] <= 1).all()
    spend = run.results[(run.results["router"] == SPEC) & (run.results["metric"] == "spend")]
    budget = run.results[(run.results["router"] == SPEC) & (run.results["metric"] == "budget")]
    assert (spend["value"].to_numpy() <= budget["value"].to_numpy()).all()
    # seeds differ, and the run is reproducible
    assert coin.loc[0, "performance"] != coin.loc[1, "performance"]
    again = _run(data, tmp_path / "b", ("random", SPEC, "approx-opt"),
                 router_params={SPEC: {"p_drop": 0.25}})
    pd.testing.assert_frame_equal(_values(run_dir, SPEC), _values(again, SPEC))
    # its stream is its own: the built-in Random router draws exactly as without it
    alone = _run(data, tmp_path / "c", ("random", "approx-opt"))
    pd.testing.assert_frame_equal(_values(run_dir, "random"), _values(alone, "random"))
    # reports show its label, without importing it
    report = build_report([run])
    assert "| Coin flip |" in report.markdown()
    assert run.colour(SPEC) == "#123456"


def test_plugin_parameters_are_checked_by_its_class(data: Path, tmp_path: Path) -> None:
    with pytest.raises(ParamError, match=rf"^{SPEC}.p_drop: must lie in \[0, 1\], got 2.0"):
        _run(data, tmp_path, (SPEC,), router_params={SPEC: {"p_drop": 2}})
    with pytest.raises(ParamError, match=rf"^{SPEC}.p: unknown parameter; known: p_drop"):
        _run(data, tmp_path, (SPEC,), router_params={SPEC: {"p": 1}})
    assert not tmp_path.joinpath("results").exists() and not list(tmp_path.glob("small-*"))


def test_a_registered_router_is_found_by_name(data: Path, tmp_path: Path) -> None:
    register_router(CoinRouter)
    run = load_run(_run(data, tmp_path, ("coin",), router_params={"coin": {"p_drop": 0.0}}))
    whole = run.whole()
    served = whole[(whole["router"] == "coin") & (whole["metric"] == "throughput")]["value"]
    assert (served > 0).all()
    assert run.label("coin") == "Coin flip" and catalogue.label("coin") == "coin"
    with pytest.raises(Exception, match="taken by a built-in router"):
        register_router(type("Port2", (CoinRouter,), {"name": "port"}))
