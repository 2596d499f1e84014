"""`make paper` on a dataset with 4 LLMs: every paper experiment runs (the points a 4-LLM
dataset cannot have are left out with a note), and the report and figures are written."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from routebench.sources import download

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_make_paper_on_a_four_llm_dataset(tmp_path: Path) -> None:
    data, results, paper = tmp_path / "data", tmp_path / "results", tmp_path / "paper"
    download("synthetic", data_dir=data, out="four", n=1500, models=4, seed=3)
    env = {**os.environ, "ROUTEBENCH_DATA": str(data), "ROUTEBENCH_RESULTS": str(results)}
    done = subprocess.run(
        ["make", "paper", "DATASET=four", "SET=test_size=300 seeds=0-1", "JOBS=2",
         f"PAPER={paper}"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "extreme split with k=4" in done.stdout + done.stderr  # the note, not a failure
    assert (paper / "report.md").is_file() and (paper / "report.tex").is_file()
    figures = {p.name for p in (paper / "figures").glob("*.pdf")}
    assert any(n.startswith("vs_budget") for n in figures)
    assert any(n.startswith("vs_models") for n in figures)
