"""A sweep killed with ``kill -9`` leaves no worker behind, and resuming it gives the same
results as a sweep never interrupted. End to end: real simulate runs on a tiny synthetic
dataset, in subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from routebench.metrics import METRICS
from routebench.results import is_run_dir

pytestmark = pytest.mark.slow

ROUTEBENCH = Path(sys.executable).with_name("routebench")
#: Wall-time metrics: they differ between two runs of the same point.
TIMING = {m.name for m in METRICS.values() if m.unit == "s"} | {"decision_seconds", "seconds"}
SWEEP = """\
    dataset: synthetic
    base:
      test_size: 500
      seeds: "0-1"
      routers: "port,batch-split,knn-perf,greedy-cost"
    grid:
      budget: [0.5, 1.0, 1.5]
      split: [weighted, cost]
    """


def _routebench(args: list[str], env: dict[str, str], timeout: float = 120) -> str:
    done = subprocess.run([str(ROUTEBENCH), *args], env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _env(data: Path, results: Path) -> dict[str, str]:
    return {**os.environ, "ROUTEBENCH_DATA": str(data), "ROUTEBENCH_RESULTS": str(results),
            "COLUMNS": "200"}


def _alive(procs: list[psutil.Process]) -> list[int]:
    """Pids of ``procs`` still running (a zombie has exited: only its exit status is left)."""
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p.pid)
        except psutil.NoSuchProcess:
            pass
    return out


def _wait_gone(procs: list[psutil.Process], timeout: float) -> tuple[list[int], float]:
    start = time.monotonic()
    while _alive(procs) and time.monotonic() - start < timeout:
        time.sleep(0.05)
    return _alive(procs), time.monotonic() - start


def _finished(root: Path) -> set[str]:
    return {d.name for d in root.iterdir() if d.is_dir() and is_run_dir(d)}


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _frame(path: Path) -> pd.DataFrame:
    frame = pd.read_parquet(path)
    if "metric" in frame.columns:
        frame = frame[~frame["metric"].isin(TIMING)]
    return frame.sort_values(list(frame.columns[:-1])).reset_index(drop=True)


def test_killed_sweep_leaves_no_worker_and_resumes_identically(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _routebench(["download", "synthetic", "--n", "3000", "--models", "4"],
                _env(data, tmp_path / "unused"))
    config = tmp_path / "kill.yaml"
    config.write_text(textwrap.dedent(SWEEP))
    args = ["sweep", str(config), "--no-report"]

    # the reference: the same sweep, never interrupted (it also builds the embedding caches)
    reference = tmp_path / "reference"
    _routebench([*args, "--jobs", "1"], _env(data, reference))

    killed = tmp_path / "killed"
    record = killed / "sweeps" / "kill-synthetic" / "sweep.json"
    log = (tmp_path / "sweep.log").open("w")
    proc = subprocess.Popen([str(ROUTEBENCH), *args, "--jobs", "2"], env=_env(data, killed),
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        # wait until a point is done and both workers are busy with others
        deadline = time.monotonic() + 90
        workers: list[psutil.Process] = []
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "sweep.log").read_text()
            state = _read_json(record)
            children = psutil.Process(proc.pid).children(recursive=True)
            workers = [c for c in children if "--multiprocessing-fork" in " ".join(c.cmdline())]
            if (state and state["counts"]["done"] >= 1 and state["counts"]["running"] >= 1
                    and len(workers) == 2):
                break
            time.sleep(0.1)
        else:
            pytest.fail("the sweep never had a finished point and two busy workers")
        descendants = psutil.Process(proc.pid).children(recursive=True)  # + resource tracker
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    finished_at_kill = _finished(killed)

    alive, seconds = _wait_gone(descendants, timeout=10)
    assert not alive, f"processes {alive} outlived the killed sweep"
    print(f"\nevery child of the killed sweep exited {seconds:.2f} s after kill -9")
    time.sleep(2)
    assert _finished(killed) == finished_at_kill, "a point finished after the sweep was killed"
    state = _read_json(record)  # written atomically: valid JSON, whatever the moment
    assert state is not None and state["counts"]["total"] == 6
    assert 1 <= len(finished_at_kill) < 6
    assert state["counts"]["done"] <= len(finished_at_kill)

    # resume: only the unfinished points run, and the sweep ends complete
    out = _routebench([*args, "--jobs", "2"], _env(data, killed))
    assert f"{6 - len(finished_at_kill)} point(s) run, {len(finished_at_kill)} already " \
           "finished" in " ".join(out.split())
    state = _read_json(record)
    assert state["state"] == "finished"
    assert state["counts"] == {"done": 6, "failed": 0, "pending": 0, "running": 0, "total": 6}

    # bit-identical to the uninterrupted sweep (wall-time metrics aside)
    runs = sorted(_finished(reference))
    assert len(runs) == 6 and sorted(_finished(killed)) == runs
    for key in runs:
        for name in ("results.parquet", "trace.parquet"):
            if (reference / key / name).exists():
                pd.testing.assert_frame_equal(_frame(reference / key / name),
                                              _frame(killed / key / name), check_exact=True)
        ref_summary = pd.read_csv(reference / key / "summary.csv")
        new_summary = pd.read_csv(killed / key / "summary.csv")
        keep_ref = ~ref_summary["metric"].isin(TIMING)
        keep_new = ~new_summary["metric"].isin(TIMING)
        pd.testing.assert_frame_equal(ref_summary[keep_ref].reset_index(drop=True),
                                      new_summary[keep_new].reset_index(drop=True),
                                      check_exact=True)


POOL_IN_A_THREAD = """\
import threading, time
from routebench.workers import local_pool, worker_pids

def main():
    pool = local_pool(2)  # made outside the main thread: PR_SET_PDEATHSIG is not armed
    print(" ".join(map(str, worker_pids(pool))), flush=True)
    for _ in range(4):
        pool.submit(time.sleep, 60)
    time.sleep(120)

thread = threading.Thread(target=main)
thread.start()
thread.join()
"""


def test_watchdog_alone_stops_workers_of_a_killed_parent(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", POOL_IN_A_THREAD], stdout=subprocess.PIPE,
                            text=True, cwd=tmp_path, start_new_session=True)
    try:
        pids = [int(p) for p in proc.stdout.readline().split()]
        assert len(pids) == 2  # every worker is started with the pool, before any submit
        time.sleep(1.0)
        workers = [psutil.Process(p) for p in pids]
        assert not [w for w in workers if w.ppid() != proc.pid]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
    alive, seconds = _wait_gone(workers, timeout=5)
    assert not alive, f"workers {alive} outlived their parent"
    assert seconds < 3


def test_killed_simulate_jobs_leaves_no_worker_and_resumes_identically(tmp_path: Path) -> None:
    """``simulate --jobs 2`` killed with ``kill -9`` after a seed finished: no worker survives,
    no seed finishes afterwards, and the resumed run equals an uninterrupted ``--jobs 1`` run."""
    data = tmp_path / "data"
    _routebench(["download", "synthetic", "--n", "3000", "--models", "4"],
                _env(data, tmp_path / "unused"))
    args = ["simulate", "synthetic", "--test-size", "600", "--seeds", "0-5", "--split",
            "random", "--routers", "port,batch-split,greedy-cost", "--quiet"]
    reference = tmp_path / "reference"
    _routebench([*args, "--jobs", "1"], _env(data, reference))
    (run_key,) = _finished(reference)

    killed = tmp_path / "killed"
    seeds = killed / run_key / "seeds"
    proc = subprocess.Popen([str(ROUTEBENCH), *args, "--jobs", "2"], env=_env(data, killed),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert proc.poll() is None, "simulate ended before it could be killed"
            workers = [c for c in psutil.Process(proc.pid).children(recursive=True)
                       if "--multiprocessing-fork" in " ".join(c.cmdline())]
            if seeds.is_dir() and any(seeds.glob("?.parquet")) and len(workers) == 2:
                break
            time.sleep(0.05)
        else:
            pytest.fail("simulate never had a finished seed and two workers")
        descendants = psutil.Process(proc.pid).children(recursive=True)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    done_at_kill = sorted(p.name for p in seeds.glob("?.parquet"))
    alive, _ = _wait_gone(descendants, timeout=10)
    assert not alive, f"processes {alive} outlived the killed simulate"
    time.sleep(2)
    assert sorted(p.name for p in seeds.glob("?.parquet")) == done_at_kill
    assert 1 <= len(done_at_kill) < 6 and not is_run_dir(killed / run_key)

    _routebench([*args, "--jobs", "2"], _env(data, killed))
    for name in ("results.parquet", "trace.parquet"):
        pd.testing.assert_frame_equal(_frame(reference / run_key / name),
                                      _frame(killed / run_key / name), check_exact=True)
