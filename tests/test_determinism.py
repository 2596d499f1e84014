"""Identical reruns, always (issue 9): no reported number may depend on a wall-clock limit.

BatchSplit's per-batch MILPs and the exact MILP bound stop at a branch-and-bound node limit (HiGHS
on one thread), never at a time limit. At budget 0.25 on the real RouterBench slice the node limit
binds in the first batch of every seed, so this is where a clock would show: the same run twice,
the second while another process keeps a CPU busy, must give the same results frame bit for bit
(only the timing metrics may differ).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from routebench.cli import app
from routebench.config import ConfigParamError, SimConfig
from routebench.oracle import DEFAULT_MILP_NODE_LIMIT

#: Wall-clock measurements: the only metrics allowed to differ between reruns.
TIMING = ("decision_seconds", "seconds")


def _routebench(env: dict[str, str], *args: str) -> None:
    """Run the CLI in a fresh process, as a user's rerun would be."""
    out = subprocess.run(
        [sys.executable, "-c", "from routebench.cli import main; main()", *args],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, f"routebench {' '.join(args)}:\n{out.stdout}\n{out.stderr}"


def _results(run_root: Path) -> tuple[pd.DataFrame, str]:
    (run,) = run_root.glob("routerbench-*")
    frame = pd.read_parquet(run / "results.parquet")
    frame = frame[~frame["metric"].isin(TIMING)]
    frame = frame.sort_values(["router", "seed", "metric", "llm"]).reset_index(drop=True)
    return frame, (run / "summary.md").read_text()


@pytest.mark.slow
def test_batch_split_at_a_binding_node_limit_reruns_bit_for_bit(tmp_path: Path,
                                                                shared_slice: Path) -> None:
    env = dict(os.environ, ROUTEBENCH_DATA=str(tmp_path / "data"))
    for folder in ("data", "quiet", "busy"):
        (tmp_path / folder).mkdir()
    _routebench(env, "download", "routerbench", "--from", str(shared_slice), "--coalesce")
    simulate = ("simulate", "routerbench", "--budget", "0.25", "--test-size", "1500",
                "--routers", "batch-split", "--seeds", "0-1", "--quiet")

    _routebench(dict(env, ROUTEBENCH_RESULTS=str(tmp_path / "quiet")), *simulate)
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        _routebench(dict(env, ROUTEBENCH_RESULTS=str(tmp_path / "busy")), *simulate)
    finally:
        busy.kill()
        busy.wait()

    quiet, report = _results(tmp_path / "quiet")
    again, _ = _results(tmp_path / "busy")
    pd.testing.assert_frame_equal(quiet, again, check_exact=True)

    # the runs did exercise a binding limit, and the report says so
    whole = quiet[quiet["llm"] == ""].set_index(["router", "seed", "metric"])["value"]
    assert whole[("batch-split", 0, "batches")] == 6
    assert sum(whole[("batch-split", s, "limit_batches")] for s in (0, 1)) >= 1
    assert "BatchSplit: the per-batch node limit bound in" in report
    # the exact MILP bound (1,500 x 11 pairs, under the default --milp-limit) is there too
    assert ("milp", 0, "limit_hit") in whole.index


def test_the_milp_node_limit_is_a_validated_parameter() -> None:
    assert SimConfig(dataset="x").milp_node_limit == DEFAULT_MILP_NODE_LIMIT
    assert "milp_time_limit" not in SimConfig(dataset="x").key_fields()
    for bad in (0, -5, 2.5, True):
        with pytest.raises(ConfigParamError, match="milp_node_limit"):
            SimConfig(dataset="x", milp_node_limit=bad)
    result = CliRunner().invoke(app, ["simulate", "x", "--milp-node-limit", "0"])
    assert result.exit_code == 1
    assert "--milp-node-limit: must be an integer >= 1" in result.output
