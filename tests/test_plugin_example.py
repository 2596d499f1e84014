"""Bring your own router with feedback: ``examples/my_router.py`` through ``routebench
simulate`` (as a file path and as a module path, with a parameter under the name its class
declares), and plug-ins that misbehave stop the run with one line, naming the router and the
query position, and leave no results behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from routebench.sources import download

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "my_router.py"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    download("synthetic", data_dir=root, out="small", n=1500, models=4, seed=3)
    return root


def _simulate(data: Path, results: Path, routers: str, *extra: str,
              cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ROUTEBENCH_DATA": str(data), "ROUTEBENCH_RESULTS": str(results)}
    return subprocess.run(
        [sys.executable, "-m", "routebench", "simulate", "small", "--test-size", "500",
         "--seeds", "0-1", "--index", "flat", "--routers", routers, "--quiet", *extra],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_the_example_is_about_thirty_lines_and_in_the_readme() -> None:
    code = [line for line in EXAMPLE.read_text().splitlines() if line.strip()]
    assert len(code) <= 40
    readme = (ROOT / "README.md").read_text()
    assert EXAMPLE.read_text().strip() in readme  # shown whole, as it is


@pytest.mark.parametrize("spec", ["examples/my_router.py:PacedGreedy",
                                  "examples.my_router:PacedGreedy"])
def test_the_example_runs_through_simulate(data: Path, tmp_path: Path, spec: str) -> None:
    done = _simulate(data, tmp_path, f"port,{spec},approx-opt",
                     "--router-param", "paced-greedy.slack=1.5")
    assert done.returncode == 0, done.stderr
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["config"]["router_params"][spec] == {"slack": 1.5}
    results = pd.read_parquet(run / "results.parquet")
    mine = results[(results.router == spec) & (results.metric == "performance")]
    assert len(mine) == 2 and (mine.value > 0).all()
    spend = results[(results.router == spec) & (results.metric == "spend")]
    budget = results[(results.router == spec) & (results.metric == "budget")]
    assert (spend.value.to_numpy() <= budget.value.to_numpy()).all()
    assert "Paced greedy (example)" in (run / "summary.md").read_text()


def test_the_example_reads_its_feedback(data: Path, tmp_path: Path) -> None:
    """A larger slack lets the example spend further ahead of its pace: different routes."""
    perf = {}
    for slack in (1.0, 3.0):
        out = tmp_path / str(slack)
        done = _simulate(data, out, "examples.my_router:PacedGreedy", "--router-param",
                         f"paced-greedy.slack={slack}")
        assert done.returncode == 0, done.stderr
        (run,) = [p for p in out.iterdir() if p.is_dir()]
        frame = pd.read_parquet(run / "results.parquet")
        perf[slack] = frame[frame.metric == "throughput"].value.tolist()
    assert perf[1.0] != perf[3.0]


WHO = r"router 'broken' \({spec}\)"
BAD = {
    "import": ("raise ImportError('no module named torch_extras')\n", "Broken",
               r"cannot import it \(ImportError: no module named torch_extras\)"),
    "shape": ("    def decide(self, start, perf_hat, cost_hat):\n        return [0, 1]\n",
              "Broken", WHO + r" returned decisions of shape \(2,\) for the block of 1 "
                              r"queries at position 0"),
    "range": ("    def decide(self, start, perf_hat, cost_hat):\n        return 7\n", "Broken",
              WHO + r" sent query 0 to LLM index 7; valid: 0..3, or -1 to drop"),
    "raises": ("    def decide(self, start, perf_hat, cost_hat):\n"
               "        if start == 42:\n            raise RuntimeError('oops')\n"
               "        return 0\n", "Broken",
               WHO + r" failed in decide\(\) at query position 42: RuntimeError: oops"),
    "not a router": ("", "Other", r"is not a routebench.routers.Router subclass"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_plugin_stops_the_run_with_one_line(data: Path, tmp_path: Path, case: str) -> None:
    body, cls, message = BAD[case]
    module = tmp_path / "bad_router.py"
    module.write_text((body if case == "import" else "") + textwrap.dedent("""\
        from routebench.routers import OnlineRouter


        class Other:
            pass


        class Broken(OnlineRouter):
            name = "broken"
        """) + ("" if case == "import" else body))
    spec = f"{module}:{cls}"
    results = tmp_path / "results"
    done = _simulate(data, results, f"port,{spec}")
    assert done.returncode == 1, done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    import re

    assert re.search(message.format(spec=re.escape(spec)), lines[0]), lines[0]
    if case == "raises":
        saved = Path(lines[0].rsplit("traceback in ", 1)[1])
        assert "RuntimeError: oops" in saved.read_text()
    assert not results.exists() or not [p for p in results.iterdir() if p.is_dir()]
